package apidocs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"opsconsole/shared/apidocs"
	"opsconsole/shared/apidocs/conformance"
	"opsconsole/shared/identity"
	"opsconsole/shared/problem"
)

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// document is the document as jsonschema/v6 reads JSON (numbers as json.Number).
func document(t *testing.T) map[string]any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(apidocs.Document()))
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

// operations yields every operation with its path template, method and pointer.
type op struct {
	path, method, ptr string
	obj               map[string]any
	item              map[string]any
}

func operations(t *testing.T, doc map[string]any) []op {
	t.Helper()
	var out []op
	for path, item := range doc["paths"].(map[string]any) {
		it := item.(map[string]any)
		for _, m := range httpMethods {
			if o, ok := it[m].(map[string]any); ok {
				out = append(out, op{path, m, "/paths/" + escape(path) + "/" + m, o, it})
			}
		}
	}
	slices.SortFunc(out, func(a, b op) int { return strings.Compare(a.path+" "+a.method, b.path+" "+b.method) })
	return out
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// deref follows local $refs.
func deref(t *testing.T, doc any, v any) map[string]any {
	t.Helper()
	for range 10 {
		obj, _ := v.(map[string]any)
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj
		}
		next, err := conformance.Resolve(doc, strings.TrimPrefix(ref, "#"))
		if err != nil {
			t.Fatalf("$ref %s: %v", ref, err)
		}
		v = next
	}
	t.Fatal("$ref chain too long")
	return nil
}

func TestDocumentIsJSONOfTheYAML(t *testing.T) {
	b := apidocs.Document()
	if !json.Valid(b) {
		t.Fatal("Document is not JSON")
	}
	if !bytes.HasPrefix(b, []byte(`{"openapi":"3.1.0",`)) {
		t.Errorf("Document does not start with the openapi field (key order lost?): %.40s", b)
	}
	b[0] = 'x'
	if apidocs.Document()[0] != '{' {
		t.Error("Document returns its own buffer: a caller can change it")
	}
	// The same data as a plain YAML decode.
	var fromYAML, fromJSON any
	if err := yamlUnmarshal(apidocs.Source(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(apidocs.Document(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromYAML)
	c, _ := json.Marshal(fromJSON)
	if !bytes.Equal(a, c) {
		t.Error("Document differs from the YAML's data")
	}
}

func TestYAMLToJSON(t *testing.T) {
	for in, want := range map[string]string{
		"b: 1\na: [x, 2.5, true, null, '3']\n": `{"b":1,"a":["x",2.5,true,null,"3"]}`,
		"200: {t: 2026-01-02T15:04:05Z}\n":     `{"200":{"t":"2026-01-02T15:04:05Z"}}`,
		"x: &a {k: v}\ny: *a\n":                `{"x":{"k":"v"},"y":{"k":"v"}}`,
		"s: |\n  line\n":                       `{"s":"line\n"}`,
	} {
		got, err := apidocs.YAMLToJSON([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("YAMLToJSON(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"a: 1\na: 2\n", "x: &a {k: v}\ny: {<<: *a}\n", "a: .nan\n", "a: [\n", ""} {
		if got, err := apidocs.YAMLToJSON([]byte(in)); err == nil {
			t.Errorf("YAMLToJSON(%q) = %s, want an error", in, got)
		}
	}
}

// TestDocumentIsValidOpenAPI validates the document against the OpenAPI 3.1 schema
// published by the OpenAPI Initiative (testdata), which checks its structure (but not
// its Schema Objects, compiled in TestSchemasCompile).
func TestDocumentIsValidOpenAPI(t *testing.T) {
	doc := document(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	src, err := os.ReadFile("testdata/oas-3.1-schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := apidocs.YAMLToJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	metaSchema, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://spec.openapis.org/oas/3.1/schema/test"
	if err := c.AddResource(url, metaSchema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(any(doc)); err != nil {
		t.Errorf("the document is not valid OpenAPI 3.1:\n%v", err)
	}
	// The schema does catch mistakes: a response without a description, a path
	// parameter that is not required, an unknown field.
	for name, breakIt := range map[string]func(d map[string]any){
		"response without description": func(d map[string]any) {
			delete(d["paths"].(map[string]any)["/v1/me"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any), "description")
		},
		"optional path parameter": func(d map[string]any) {
			d["components"].(map[string]any)["parameters"].(map[string]any)["DistributorId"].(map[string]any)["required"] = false
		},
		"unknown field": func(d map[string]any) { d["info"].(map[string]any)["colour"] = "red" },
	} {
		broken := document(t)
		breakIt(broken)
		if err := sch.Validate(any(broken)); err == nil {
			t.Errorf("the OpenAPI schema accepts a document with a %s", name)
		}
	}
	// And the checker of package conformance loads it (every response schema and
	// header schema compiles by pointer).
	if _, err := conformance.Load(); err != nil {
		t.Error(err)
	}
}

func TestRefsResolve(t *testing.T) {
	doc := document(t)
	var walk func(v any, ptr string)
	walk = func(v any, ptr string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("%s: $ref %q is not local", ptr, ref)
				} else if _, err := conformance.Resolve(doc, ref[1:]); err != nil {
					t.Errorf("%s: $ref %q does not resolve: %v", ptr, ref, err)
				}
			}
			for k, c := range x {
				walk(c, ptr+"/"+escape(k))
			}
		case []any:
			for i, c := range x {
				walk(c, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "")
}

// TestSchemasCompile compiles every Schema Object of the document, by pointer, as
// JSON Schema 2020-12, validated against its meta-schema.
func TestSchemasCompile(t *testing.T) {
	doc := document(t)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(conformance.DocumentURL, any(doc)); err != nil {
		t.Fatal(err)
	}
	var ptrs []string
	// Schema Objects are components/schemas/* and every "schema" of a parameter,
	// header or media type; no walking into schemas, whose properties may be named
	// anything.
	var walk func(v any, ptr string)
	walk = func(v any, ptr string) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := ptr + "/" + escape(k)
				switch {
				case k == "schema" || ptr == "/components/schemas":
					ptrs = append(ptrs, p)
				case k == "examples" || k == "example":
				default:
					walk(c, p)
				}
			}
		case []any:
			for i, c := range x {
				walk(c, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "")
	if len(ptrs) < 40 {
		t.Fatalf("found only %d schemas: %v", len(ptrs), ptrs)
	}
	for _, p := range ptrs {
		if _, err := c.Compile(conformance.DocumentURL + "#" + p); err != nil {
			t.Errorf("schema %s does not compile: %v", p, err)
		}
	}
}

// TestSchemaExamplesValidate checks the examples written in schemas against them.
func TestSchemaExamplesValidate(t *testing.T) {
	doc := document(t)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(conformance.DocumentURL, any(doc)); err != nil {
		t.Fatal(err)
	}
	for name, s := range doc["components"].(map[string]any)["schemas"].(map[string]any) {
		check := func(ptr string, examples any) {
			list, _ := examples.([]any)
			if len(list) == 0 {
				return
			}
			sch, err := c.Compile(conformance.DocumentURL + "#" + ptr)
			if err != nil {
				t.Errorf("%s: %v", ptr, err)
				return
			}
			for _, ex := range list {
				if err := sch.Validate(ex); err != nil {
					t.Errorf("example %v of %s does not validate: %v", ex, ptr, err)
				}
			}
		}
		obj := s.(map[string]any)
		ptr := "/components/schemas/" + name
		check(ptr, obj["examples"])
		props, _ := obj["properties"].(map[string]any)
		for pn, p := range props {
			if po, ok := p.(map[string]any); ok {
				check(ptr+"/properties/"+pn, po["examples"])
			}
		}
	}
}

func TestOperations(t *testing.T) {
	doc := document(t)
	declaredTags := map[string]bool{}
	for _, tag := range doc["tags"].([]any) {
		declaredTags[tag.(map[string]any)["name"].(string)] = true
	}
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	ids := map[string]string{}
	ops := operations(t, doc)
	if len(ops) != 123 {
		t.Errorf("the document has %d operations, want 123", len(ops))
	}
	for _, o := range ops {
		name := strings.ToUpper(o.method) + " " + o.path
		id, _ := o.obj["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", name)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s and %s share operationId %s", name, other, id)
		}
		ids[id] = name
		for _, f := range []string{"summary", "description"} {
			if s, _ := o.obj[f].(string); strings.TrimSpace(s) == "" {
				t.Errorf("%s has no %s", name, f)
			}
		}
		tags, _ := o.obj["tags"].([]any)
		if len(tags) == 0 {
			t.Errorf("%s has no tag", name)
		}
		for _, tag := range tags {
			if !declaredTags[tag.(string)] {
				t.Errorf("%s: tag %v is not declared", name, tag)
			}
		}
		// Security: public operations say security: [], the others inherit the
		// document's, whose schemes must exist.
		sec, public := o.obj["security"].([]any)
		if public && len(sec) != 0 {
			t.Errorf("%s: security must be [] (public) or absent (the document's)", name)
		}
		if !public {
			sec, _ = doc["security"].([]any)
		}
		for _, req := range sec {
			for scheme := range req.(map[string]any) {
				if schemes[scheme] == nil {
					t.Errorf("%s: security scheme %s is not defined", name, scheme)
				}
			}
		}
		// Responses.
		resps := o.obj["responses"].(map[string]any)
		has2xx := false
		for code := range resps {
			has2xx = has2xx || strings.HasPrefix(code, "2")
		}
		if !has2xx {
			t.Errorf("%s has no 2xx response", name)
		}
		want := []string{"500"}
		// Every operation but the documentation's reads or writes the table, so may be
		// answered 503 unavailable when DynamoDB throttles or fails past the SDK's
		// retries (problem.Unavailable).
		if !slices.Contains(tags, any("Documentation")) {
			want = append(want, "503")
		} else if resps["503"] != nil {
			t.Errorf("%s documents 503, but touches no table", name)
		}
		if !public {
			want = append(want, "401", "403")
		}
		// The OAuth token endpoint reads its own media types and answers every error
		// of the request as RFC 6749 §5.2 says: 400 or 401, application/json.
		oauth := o.path == "/v1/auth/token"
		if o.obj["requestBody"] != nil && !oauth {
			want = append(want, "400", "413", "415")
		}
		if strings.Contains(o.path, "{id}") {
			want = append(want, "404")
		}
		for _, code := range want {
			if resps[code] == nil {
				t.Errorf("%s does not document %s", name, code)
			}
		}
		// Protected operations document both 401 shapes: API Gateway's and ours.
		if r, ok := resps["401"]; ok && !public {
			content := deref(t, doc, r)["content"].(map[string]any)
			if content["application/json"] == nil || content["application/problem+json"] == nil {
				t.Errorf("%s: 401 must document application/json (API Gateway) and application/problem+json", name)
			}
		}
		// Every error answer is problem+json (possibly also API Gateway's JSON).
		for code, r := range resps {
			if (code[0] == '4' || code[0] == '5') && !(oauth && (code == "400" || code == "401")) {
				content, _ := deref(t, doc, r)["content"].(map[string]any)
				if content["application/problem+json"] == nil {
					t.Errorf("%s: %s does not document application/problem+json", name, code)
				}
			}
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^{}]+)\}`)

func TestPathParametersDeclared(t *testing.T) {
	doc := document(t)
	for _, o := range operations(t, doc) {
		name := strings.ToUpper(o.method) + " " + o.path
		declared := map[string]bool{}
		for _, list := range []any{o.item["parameters"], o.obj["parameters"]} {
			ps, _ := list.([]any)
			for _, p := range ps {
				po := deref(t, doc, p)
				if po["in"] != "path" {
					continue
				}
				n := po["name"].(string)
				declared[n] = true
				if po["required"] != true {
					t.Errorf("%s: path parameter %s is not required", name, n)
				}
				if po["x-greedy"] == true && !strings.HasSuffix(o.path, "{"+n+"}") {
					t.Errorf("%s: greedy parameter %s is not the last segment", name, n)
				}
			}
		}
		inPath := map[string]bool{}
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			inPath[m[1]] = true
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", name, m[1])
			}
		}
		for n := range declared {
			if !inPath[n] {
				t.Errorf("%s: declares path parameter %s, which its path lacks", name, n)
			}
		}
	}
}

// TestProblemTypesDocumented checks that Problem.type lists exactly the problem types
// the code can write: every slug given to the problem package's constructors, to
// problem.Conflict, or appended to problem.TypePrefix anywhere under shared/.
func TestProblemTypesDocumented(t *testing.T) {
	doc := document(t)
	enum := doc["components"].(map[string]any)["schemas"].(map[string]any)["Problem"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any)
	documented := map[string]bool{}
	for _, e := range enum {
		documented[e.(string)] = true
	}
	slug := regexp.MustCompile(`(?:newProblem|Conflict)\(\s*"([a-z0-9-]+)"|TypePrefix\s*\+\s*"([a-z0-9-]+)"`)
	inCode := map[string]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range slug.FindAllStringSubmatch(string(src), -1) {
			inCode[problem.TypePrefix+m[1]+m[2]] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inCode) < 10 {
		t.Fatalf("found only %d problem types in the code: %v", len(inCode), inCode)
	}
	for typ, file := range inCode {
		if !documented[typ] {
			t.Errorf("problem type %s (%s) is not in Problem.type's enum", typ, file)
		}
	}
	for typ := range documented {
		if _, ok := inCode[typ]; !ok {
			t.Errorf("Problem.type lists %s, which the code never writes", typ)
		}
	}
	desc := doc["components"].(map[string]any)["schemas"].(map[string]any)["Problem"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["description"].(string)
	for typ := range documented {
		if s := strings.TrimPrefix(typ, problem.TypePrefix); !strings.Contains(desc, fmt.Sprintf("`%s`", s)) {
			t.Errorf("Problem.type's description does not explain %s", s)
		}
	}
}

// TestEveryEmailHasTheServicesPattern: each email property states the rule the service
// enforces (identity.EmailPattern), so a fuzzer's valid address is one the service, and
// Cognito behind it, accepts. None says format: email, whose validators refuse the
// blanks around an address that the service trims (as the pattern allows).
func TestEveryEmailHasTheServicesPattern(t *testing.T) {
	var walk func(ptr string, v any)
	n := 0
	walk = func(ptr string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["format"] == "email" {
				t.Errorf("%s: format email; state identity.EmailPattern instead", ptr)
			}
			// The audit log's actor and a session's impersonator are records of who
			// acted, only ever answered, never sent.
			recorded := strings.HasPrefix(ptr, "/components/schemas/Actor/") || strings.HasPrefix(ptr, "/components/schemas/Impersonator/")
			if strings.HasSuffix(strings.ToLower(ptr), "email") && x["type"] == "string" && !recorded {
				n++
				if x["pattern"] != identity.EmailPattern {
					t.Errorf("%s: pattern %v, want identity.EmailPattern", ptr, x["pattern"])
				}
			}
			for k, c := range x {
				walk(ptr+"/"+escape(k), c)
			}
		case []any:
			for i, c := range x {
				walk(ptr+"/"+strconv.Itoa(i), c)
			}
		}
	}
	walk("", document(t))
	if n == 0 {
		t.Fatal("no email property in the document")
	}
	t.Logf("%d email properties", n)
}
