// Package conformance checks HTTP responses against the API's OpenAPI document
// (package apidocs): that the operation, the status, the content type and the
// documented headers are there, and that the body validates against the schema. It is
// a library for tests: wrap a client's transport with Checker.Transport, run the
// tests, then fail on Violations and report Seen.
//
// The document's schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect) and are
// compiled with santhosh-tekuri/jsonschema/v6 by JSON pointer into the loaded document,
// so `$ref: '#/components/schemas/X'` resolves as in the document. Formats (date-time,
// email) are asserted.
package conformance

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"opsconsole/shared/apidocs"
)

// DocumentURL is the base URL the document is loaded at; schema locations in messages
// are relative to it.
const DocumentURL = "https://opsconsole.invalid/openapi.json"

// Checker holds the compiled document and what its Transport has seen.
type Checker struct {
	doc   any
	paths []*pathTemplate
	// webhooks are the schemas of the document's webhooks section, by event type.
	webhooks map[string]*jsonschema.Schema

	mu         sync.Mutex
	violations []string
	seen       map[Exercise]int
}

// Exercise is one (method, path template, status) that a response went through.
type Exercise struct {
	Method string
	// Path is the document's path template, such as /v1/distributors/{id}.
	Path   string
	Status int
}

func (e Exercise) String() string { return fmt.Sprintf("%s %s %d", e.Method, e.Path, e.Status) }

type segKind int

const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string
}

type pathTemplate struct {
	template string
	segs     []segment
	greedy   bool
	ops      map[string]*operation
}

type operation struct {
	method, template, id string
	responses            map[string]*response
}

type response struct {
	key     string
	pointer string
	content map[string]*mediaType
	headers []*header
}

type mediaType struct {
	name string
	// schema is nil when the media type documents none.
	schema *jsonschema.Schema
	// schemaName is how messages name the schema: its $ref, or its pointer.
	schemaName string
}

type header struct {
	name     string
	required bool
	schema   *jsonschema.Schema
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Load compiles the document of package apidocs.
func Load() (*Checker, error) { return LoadDocument(apidocs.Document()) }

// LoadDocument compiles an OpenAPI 3.1 document given as JSON.
func LoadDocument(docJSON []byte) (*Checker, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(docJSON))
	if err != nil {
		return nil, fmt.Errorf("conformance: document is not JSON: %w", err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource(DocumentURL, doc); err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	c := &Checker{doc: doc, seen: map[Exercise]int{}}
	root, _ := doc.(map[string]any)
	paths, ok := root["paths"].(map[string]any)
	if !ok {
		return nil, errors.New("conformance: the document has no paths")
	}
	for tpl, item := range paths {
		pt, err := c.loadPath(comp, tpl, item)
		if err != nil {
			return nil, fmt.Errorf("conformance: path %s: %w", tpl, err)
		}
		c.paths = append(c.paths, pt)
	}
	sort.Slice(c.paths, func(i, j int) bool { return c.paths[i].template < c.paths[j].template })
	c.webhooks = map[string]*jsonschema.Schema{}
	hooks, _ := root["webhooks"].(map[string]any)
	for name := range hooks {
		sch, err := comp.Compile(DocumentURL + "#/webhooks/" + escape(name) + "/post/requestBody/content/application~1json/schema")
		if err != nil {
			return nil, fmt.Errorf("conformance: webhook %s: %w", name, err)
		}
		c.webhooks[name] = sch
	}
	return c, nil
}

// CheckWebhook validates the body of a delivery of event type typ against the
// schema the document's webhooks section gives it.
func (c *Checker) CheckWebhook(typ string, body []byte) error {
	sch, ok := c.webhooks[typ]
	if !ok {
		return fmt.Errorf("conformance: the document has no webhook %q", typ)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("conformance: webhook %s: the body is not JSON: %w", typ, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("conformance: webhook %s does not conform:\n%s", typ, details(err))
	}
	return nil
}

func (c *Checker) loadPath(comp *jsonschema.Compiler, tpl string, item any) (*pathTemplate, error) {
	itemPtr := "/paths/" + escape(tpl)
	obj, itemPtr, err := c.deref(item, itemPtr)
	if err != nil {
		return nil, err
	}
	greedy := map[string]bool{}
	if err := c.greedyParams(obj["parameters"], itemPtr+"/parameters", greedy); err != nil {
		return nil, err
	}
	pt := &pathTemplate{template: tpl, ops: map[string]*operation{}}
	for _, m := range methods {
		raw, ok := obj[m]
		if !ok {
			continue
		}
		opObj, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", m)
		}
		opPtr := itemPtr + "/" + m
		if err := c.greedyParams(opObj["parameters"], opPtr+"/parameters", greedy); err != nil {
			return nil, err
		}
		id, _ := opObj["operationId"].(string)
		op := &operation{method: strings.ToUpper(m), template: tpl, id: id, responses: map[string]*response{}}
		resps, _ := opObj["responses"].(map[string]any)
		for key, r := range resps {
			resp, err := c.loadResponse(comp, key, r, opPtr+"/responses/"+escape(key))
			if err != nil {
				return nil, fmt.Errorf("%s response %s: %w", op.method, key, err)
			}
			op.responses[key] = resp
		}
		pt.ops[op.method] = op
	}
	parts := splitPath(tpl)
	for i, s := range parts {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := strings.TrimSuffix(s[1:len(s)-1], "+")
			if greedy[name] || strings.HasSuffix(s, "+}") {
				if i != len(parts)-1 {
					return nil, fmt.Errorf("greedy parameter %s is not the last segment", name)
				}
				pt.segs = append(pt.segs, segment{segGreedy, name})
				pt.greedy = true
			} else {
				pt.segs = append(pt.segs, segment{segParam, name})
			}
		case strings.ContainsAny(s, "{}"):
			return nil, fmt.Errorf("a path parameter must be a whole segment (%q)", s)
		default:
			pt.segs = append(pt.segs, segment{segLiteral, s})
		}
	}
	return pt, nil
}

// greedyParams adds the names of path parameters marked `x-greedy: true`: they match
// one or more segments, like API Gateway's {name+}, which OpenAPI cannot write.
func (c *Checker) greedyParams(params any, ptr string, into map[string]bool) error {
	list, _ := params.([]any)
	for i, p := range list {
		obj, _, err := c.deref(p, ptr+"/"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		if obj["in"] == "path" && obj["x-greedy"] == true {
			name, _ := obj["name"].(string)
			into[name] = true
		}
	}
	return nil
}

func (c *Checker) loadResponse(comp *jsonschema.Compiler, key string, r any, ptr string) (*response, error) {
	obj, ptr, err := c.deref(r, ptr)
	if err != nil {
		return nil, err
	}
	resp := &response{key: key, pointer: ptr, content: map[string]*mediaType{}}
	content, _ := obj["content"].(map[string]any)
	for name, m := range content {
		mObj, mPtr, err := c.deref(m, ptr+"/content/"+escape(name))
		if err != nil {
			return nil, err
		}
		mt := &mediaType{name: strings.ToLower(name)}
		if s, ok := mObj["schema"]; ok {
			mt.schemaName = "#" + mPtr + "/schema"
			if so, ok := s.(map[string]any); ok {
				if ref, ok := so["$ref"].(string); ok && len(so) == 1 {
					mt.schemaName = ref
				}
			}
			if mt.schema, err = comp.Compile(DocumentURL + "#" + mPtr + "/schema"); err != nil {
				return nil, fmt.Errorf("schema of %s: %w", name, err)
			}
		}
		resp.content[mt.name] = mt
	}
	headers, _ := obj["headers"].(map[string]any)
	for name, h := range headers {
		if strings.EqualFold(name, "Content-Type") {
			continue // OpenAPI: ignored
		}
		hObj, hPtr, err := c.deref(h, ptr+"/headers/"+escape(name))
		if err != nil {
			return nil, err
		}
		hd := &header{name: name}
		hd.required, _ = hObj["required"].(bool)
		if _, ok := hObj["schema"]; ok {
			if hd.schema, err = comp.Compile(DocumentURL + "#" + hPtr + "/schema"); err != nil {
				return nil, fmt.Errorf("schema of header %s: %w", name, err)
			}
		}
		resp.headers = append(resp.headers, hd)
	}
	sort.Slice(resp.headers, func(i, j int) bool { return resp.headers[i].name < resp.headers[j].name })
	return resp, nil
}

// deref follows local $refs (#/...) from v, found at pointer ptr, to an object; it
// returns the object and its own pointer.
func (c *Checker) deref(v any, ptr string) (map[string]any, string, error) {
	for range 16 {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("%s is not an object", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		if !strings.HasPrefix(ref, "#") {
			return nil, "", fmt.Errorf("%s: only local $refs are supported, not %q", ptr, ref)
		}
		target, err := Resolve(c.doc, ref[1:])
		if err != nil {
			return nil, "", fmt.Errorf("%s: $ref %q: %w", ptr, ref, err)
		}
		v, ptr = target, ref[1:]
	}
	return nil, "", fmt.Errorf("%s: $ref chain too long", ptr)
}

// Resolve returns the value at JSON pointer ptr ("" or "/a/b") in doc.
func Resolve(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("%q is not a JSON pointer", ptr)
	}
	v := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		if u, err := url.PathUnescape(tok); err == nil {
			tok = u
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, fmt.Errorf("no %q in %s", tok, ptr)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("no index %q in %s", tok, ptr)
			}
			v = x[i]
		default:
			return nil, fmt.Errorf("cannot descend into %q in %s", tok, ptr)
		}
	}
	return v, nil
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// splitPath turns "/a/b" into [a b], "/a/b/" into [a b ""], and "/" into [].
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (pt *pathTemplate) match(segs []string) bool {
	for i, s := range pt.segs {
		switch s.kind {
		case segGreedy:
			rest := segs[min(i, len(segs)):]
			return len(rest) > 0 && strings.Join(rest, "/") != ""
		case segParam:
			if i >= len(segs) || segs[i] == "" {
				return false
			}
		default:
			if i >= len(segs) || segs[i] != s.text {
				return false
			}
		}
	}
	return len(segs) == len(pt.segs)
}

// moreSpecific orders matching templates as API Gateway picks routes: without a greedy
// variable first, then literal before variable, from the left.
func moreSpecific(a, b *pathTemplate) bool {
	if a.greedy != b.greedy {
		return !a.greedy
	}
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	return len(a.segs) > len(b.segs)
}

// Operation finds the documented operation of a concrete request: its path template
// and operationId.
func (c *Checker) Operation(method, path string) (template, operationID string, err error) {
	op, err := c.operation(method, path)
	if err != nil {
		return "", "", fmt.Errorf("%s %s: %w", strings.ToUpper(method), path, err)
	}
	return op.template, op.id, nil
}

func (c *Checker) operation(method, path string) (*operation, error) {
	method = strings.ToUpper(method)
	path, _, _ = strings.Cut(path, "?")
	segs := splitPath(path)
	var matched []*pathTemplate
	for _, pt := range c.paths {
		if pt.match(segs) {
			matched = append(matched, pt)
		}
	}
	if len(matched) == 0 {
		return nil, fmt.Errorf("no path of the document matches %s", path)
	}
	var best *pathTemplate
	for _, pt := range matched {
		if pt.ops[method] != nil && (best == nil || moreSpecific(pt, best)) {
			best = pt
		}
	}
	if best == nil {
		var have []string
		for _, pt := range matched {
			for m := range pt.ops {
				have = append(have, m+" "+pt.template)
			}
		}
		slices.Sort(have)
		return nil, fmt.Errorf("the document has no %s operation for %s (it has %s)",
			method, path, strings.Join(have, ", "))
	}
	return best.ops[method], nil
}

func (op *operation) response(status int) *response {
	code := strconv.Itoa(status)
	if r := op.responses[code]; r != nil {
		return r
	}
	if r := op.responses[code[:1]+"XX"]; r != nil {
		return r
	}
	return op.responses["default"]
}

func (op *operation) statuses() string {
	keys := make([]string, 0, len(op.responses))
	for k := range op.responses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// Violation is a response that does not conform to the document.
type Violation struct {
	Method, Path string
	// Template and OperationID name the operation, when one matched.
	Template, OperationID string
	Status                int
	// Problems says what does not conform, one entry each.
	Problems []string
}

func (v *Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", v.Method, v.Path)
	if v.Template != "" {
		fmt.Fprintf(&b, " (%s, %s %s)", v.OperationID, v.Method, v.Template)
	}
	fmt.Fprintf(&b, " answered %d, which does not conform:", v.Status)
	for _, p := range v.Problems {
		b.WriteString("\n  - ")
		b.WriteString(strings.ReplaceAll(p, "\n", "\n    "))
	}
	return b.String()
}

// Check checks one response to method path (the request's URL path; a query is
// ignored): the operation must be documented, the status documented for it (exactly,
// by range such as 4XX, or as default), the content type documented for the status
// and the body valid against its schema (JSON types), or the body empty when the
// status documents no content; and every documented required header present and
// valid. A gzip Content-Encoding is undone before the body is validated. The error is
// a *Violation, or nil.
func (c *Checker) Check(method, path string, status int, header http.Header, body []byte) error {
	_, err := c.check(method, path, status, header, body)
	return err
}

func (c *Checker) check(method, path string, status int, header http.Header, body []byte) (*Exercise, error) {
	method = strings.ToUpper(method)
	path, _, _ = strings.Cut(path, "?")
	v := &Violation{Method: method, Path: path, Status: status}
	op, err := c.operation(method, path)
	if err != nil {
		v.Problems = append(v.Problems, err.Error())
		return nil, v
	}
	v.Template, v.OperationID = op.template, op.id
	ex := &Exercise{Method: method, Path: op.template, Status: status}
	// A header map built by hand (say from a Lambda response's lower-case headers)
	// may not be canonical; Get only finds canonical keys.
	canon := make(http.Header, len(header))
	for k, vs := range header {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		canon[ck] = append(canon[ck], vs...)
	}
	header = canon
	resp := op.response(status)
	if resp == nil {
		v.Problems = append(v.Problems, fmt.Sprintf("status %d is not documented for this operation (documented: %s)", status, op.statuses()))
		return ex, v
	}
	v.Problems = append(v.Problems, resp.checkBody(header, body)...)
	v.Problems = append(v.Problems, resp.checkHeaders(header)...)
	if len(v.Problems) > 0 {
		return ex, v
	}
	return ex, nil
}

func (r *response) mediaTypes() string {
	names := make([]string, 0, len(r.content))
	for n := range r.content {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// find returns the documented media type that mt falls under: exact, then type/*,
// then */*.
func (r *response) find(mt string) *mediaType {
	if m := r.content[mt]; m != nil {
		return m
	}
	typ, _, _ := strings.Cut(mt, "/")
	if m := r.content[typ+"/*"]; m != nil {
		return m
	}
	return r.content["*/*"]
}

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

func (r *response) checkBody(header http.Header, body []byte) []string {
	if len(r.content) == 0 {
		if len(body) > 0 {
			return []string{fmt.Sprintf("the document gives no content for status %s, but the body has %d bytes", r.key, len(body))}
		}
		return nil
	}
	ct := header.Get("Content-Type")
	if ct == "" {
		return []string{fmt.Sprintf("Content-Type is missing (documented: %s)", r.mediaTypes())}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return []string{fmt.Sprintf("Content-Type %q is malformed: %v", ct, err)}
	}
	m := r.find(mt)
	if m == nil {
		return []string{fmt.Sprintf("Content-Type %q is not documented for status %s (documented: %s)", mt, r.key, r.mediaTypes())}
	}
	if strings.EqualFold(strings.TrimSpace(header.Get("Content-Encoding")), "gzip") {
		if body, err = gunzip(body); err != nil {
			return []string{fmt.Sprintf("Content-Encoding is gzip but the body is not: %v", err)}
		}
	}
	if len(body) == 0 {
		return []string{fmt.Sprintf("the body is empty, but the document gives %s content for status %s", mt, r.key)}
	}
	if m.schema == nil || !isJSON(mt) {
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return []string{fmt.Sprintf("the body is not JSON: %v", err)}
	}
	if err := m.schema.Validate(inst); err != nil {
		return []string{fmt.Sprintf("the %s body does not conform to %s:\n%s", mt, m.schemaName, details(err))}
	}
	return nil
}

func (r *response) checkHeaders(header http.Header) []string {
	var out []string
	for _, h := range r.headers {
		vals := header.Values(h.name)
		if len(vals) == 0 {
			if h.required {
				out = append(out, fmt.Sprintf("the required header %s is missing", h.name))
			}
			continue
		}
		if h.schema == nil {
			continue
		}
		val := strings.Join(vals, ", ")
		if err := h.schema.Validate(val); err != nil {
			out = append(out, fmt.Sprintf("the header %s: %q does not conform:\n%s", h.name, val, details(err)))
		}
	}
	return out
}

// details is a validation error without its first line, which names the schema URL.
func details(err error) string {
	s := err.Error()
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		if _, rest, ok := strings.Cut(s, "\n"); ok {
			return rest
		}
	}
	return s
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// Record checks a response like Check and keeps the result for Violations and Seen.
// It returns Check's error.
func (c *Checker) Record(method, path string, status int, header http.Header, body []byte) error {
	ex, err := c.check(method, path, status, header, body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex != nil {
		c.seen[*ex]++
	}
	if err != nil {
		c.violations = append(c.violations, err.Error())
	}
	return err
}

// Transport returns a RoundTripper that sends requests through base
// (http.DefaultTransport when nil) and Records every response: its body is read and
// replaced by an equal one, so the caller reads it as usual. A response body that
// cannot be read is a violation and the read error is returned.
func (c *Checker) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base}
}

type transport struct {
	c    *Checker
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	var body []byte
	if resp.Body != nil {
		body, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			t.c.mu.Lock()
			t.c.violations = append(t.c.violations, fmt.Sprintf("%s %s: reading the response body: %v", req.Method, req.URL.Path, err))
			t.c.mu.Unlock()
			return resp, err
		}
	}
	_ = t.c.Record(req.Method, req.URL.Path, resp.StatusCode, resp.Header, body)
	return resp, nil
}

// Violations lists every non-conforming response recorded so far, in order.
func (c *Checker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// Seen lists every (method, path template, status) recorded so far, conforming or
// not, sorted.
func (c *Checker) Seen() []Exercise {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Exercise, 0, len(c.seen))
	for e := range c.seen {
		out = append(out, e)
	}
	sortExercises(out)
	return out
}

// Documented lists every (method, path template, status) the document gives with an
// exact status code (ranges such as 4XX and default are left out), sorted.
func (c *Checker) Documented() []Exercise {
	var out []Exercise
	for _, pt := range c.paths {
		for m, op := range pt.ops {
			for key := range op.responses {
				if code, err := strconv.Atoi(key); err == nil {
					out = append(out, Exercise{Method: m, Path: pt.template, Status: code})
				}
			}
		}
	}
	sortExercises(out)
	return out
}

// Unexercised lists the Documented (method, path template, status) not Seen yet.
func (c *Checker) Unexercised() []Exercise {
	c.mu.Lock()
	seen := make(map[Exercise]bool, len(c.seen))
	for e := range c.seen {
		seen[e] = true
	}
	c.mu.Unlock()
	var out []Exercise
	for _, e := range c.Documented() {
		if !seen[e] {
			out = append(out, e)
		}
	}
	return out
}

// Reset forgets what was recorded.
func (c *Checker) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations = nil
	c.seen = map[Exercise]int{}
}

func sortExercises(es []Exercise) {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.Status < b.Status
	})
}
