package apidocs_test

// This file is in package apidocs_test, not apidocs: shared/lambdas imports
// shared/apidocs to serve the documentation, so apidocs itself cannot import lambdas.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"opsconsole/shared/apidocs"
	"opsconsole/shared/lambdas"
)

const templatePath = "../../template.yaml"

func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }

// route is one operation as one of the three lists names it.
type route struct {
	Method, Path string
	Public       bool
	// Function is the function folder (template, router); "" for the document.
	Function string
}

// key is the route's identity across the lists: OpenAPI cannot write API Gateway's
// greedy {proxy+}, which the document writes {proxy}.
func (r route) key() string {
	return strings.ToUpper(r.Method) + " " + strings.ReplaceAll(r.Path, "+}", "}")
}

// templateFunction is an AWS::Serverless::Function of template.yaml.
type templateFunction struct {
	LogicalID, CodeURI string
	Routes             []route
}

// mapValue returns the value of key in a YAML mapping node, or nil. Tagged nodes
// (!Ref, !GetAtt, !Sub) are ordinary nodes with a Tag, so the walk never evaluates them.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// templateFunctions parses template.yaml: Resources → each AWS::Serverless::Function →
// Properties.CodeUri and Properties.Events → each HttpApi event's Method, Path and
// Auth.Authorizer. A route is public when its authorizer is NONE, or when it names none
// and its API has no default authorizer.
func templateFunctions(t *testing.T) []templateFunction {
	t.Helper()
	src, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	resources := mapValue(doc.Content[0], "Resources")
	if resources == nil {
		t.Fatal("template.yaml has no Resources")
	}
	defaultAuth := map[string]string{} // HttpApi logical id → DefaultAuthorizer
	for i := 0; i+1 < len(resources.Content); i += 2 {
		res := resources.Content[i+1]
		if scalar(mapValue(res, "Type")) == "AWS::Serverless::HttpApi" {
			defaultAuth[resources.Content[i].Value] = scalar(mapValue(mapValue(mapValue(res, "Properties"), "Auth"), "DefaultAuthorizer"))
		}
	}
	var out []templateFunction
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id, res := resources.Content[i].Value, resources.Content[i+1]
		if scalar(mapValue(res, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		props := mapValue(res, "Properties")
		f := templateFunction{LogicalID: id, CodeURI: scalar(mapValue(props, "CodeUri"))}
		name, ok := functionFolder(f.CodeURI)
		if !ok {
			t.Errorf("%s: CodeUri %q is not functions/<name>/", id, f.CodeURI)
		}
		events := mapValue(props, "Events")
		for j := 0; events != nil && j+1 < len(events.Content); j += 2 {
			ev := events.Content[j+1]
			if scalar(mapValue(ev, "Type")) != "HttpApi" {
				continue
			}
			p := mapValue(ev, "Properties")
			r := route{Method: strings.ToUpper(scalar(mapValue(p, "Method"))), Path: scalar(mapValue(p, "Path")), Function: name}
			if r.Method == "" || r.Path == "" {
				t.Errorf("%s event %s: HttpApi event without a plain Method and Path", id, events.Content[j].Value)
				continue
			}
			auth := scalar(mapValue(mapValue(p, "Auth"), "Authorizer"))
			if auth == "" {
				api := mapValue(p, "ApiId")
				if api != nil && api.Tag == "!Ref" {
					auth = defaultAuth[api.Value]
				} else if refNode := mapValue(api, "Ref"); refNode != nil {
					auth = defaultAuth[refNode.Value]
				}
			}
			r.Public = auth == "" || auth == "NONE"
			f.Routes = append(f.Routes, r)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatal("template.yaml has no functions")
	}
	return out
}

func functionFolder(codeURI string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(codeURI, "./"), "functions/")
	name := strings.TrimSuffix(rest, "/")
	return name, ok && name != "" && !strings.Contains(name, "/")
}

func documentRoutes(t *testing.T) []route {
	t.Helper()
	doc := document(t)
	var out []route
	for _, o := range operations(t, doc) {
		sec, hasOwn := o.obj["security"].([]any)
		out = append(out, route{Method: strings.ToUpper(o.method), Path: o.path, Public: hasOwn && len(sec) == 0})
	}
	return out
}

func routerRoutes() []route {
	var out []route
	for _, r := range lambdas.Routes() {
		out = append(out, route{Method: strings.ToUpper(r.Method), Path: r.Path, Public: r.Public, Function: r.Function})
	}
	return out
}

func byKey(t *testing.T, list string, routes []route) map[string]route {
	t.Helper()
	m := map[string]route{}
	for _, r := range routes {
		if prev, dup := m[r.key()]; dup {
			t.Errorf("%s names %s twice (%s and %s)", list, r.key(), prev.Function, r.Function)
		}
		m[r.key()] = r
	}
	return m
}

func sortedKeys(m map[string]route) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func publicity(p bool) string {
	if p {
		return "public"
	}
	return "protected"
}

// TestRoutesAgree checks that template.yaml, the router (lambdas.Routes) and the
// OpenAPI document name the same operations, alike public or protected, and that the
// template and the router give each route to the same function.
func TestRoutesAgree(t *testing.T) {
	var tmplRoutes []route
	for _, f := range templateFunctions(t) {
		tmplRoutes = append(tmplRoutes, f.Routes...)
	}
	lists := []struct {
		name   string
		routes map[string]route
	}{
		{"template.yaml", byKey(t, "template.yaml", tmplRoutes)},
		{"lambdas.Routes()", byKey(t, "lambdas.Routes()", routerRoutes())},
		{"openapi.yaml", byKey(t, "openapi.yaml", documentRoutes(t))},
	}
	for _, a := range lists {
		for _, b := range lists {
			if a.name == b.name {
				continue
			}
			for _, k := range sortedKeys(a.routes) {
				ra := a.routes[k]
				rb, ok := b.routes[k]
				if !ok {
					// Report each missing route once, from the list that has it.
					t.Errorf("%s has %s (%s%s), %s lacks it", a.name, k, publicity(ra.Public), fnNote(ra), b.name)
					continue
				}
				if a.name < b.name { // each pair once
					if ra.Public != rb.Public {
						t.Errorf("%s: %s says %s, %s says %s", k, a.name, publicity(ra.Public), b.name, publicity(rb.Public))
					}
					if ra.Function != "" && rb.Function != "" && ra.Function != rb.Function {
						t.Errorf("%s: %s gives it to function %s, %s to %s", k, a.name, ra.Function, b.name, rb.Function)
					}
				}
			}
		}
	}
}

func fnNote(r route) string {
	if r.Function == "" {
		return ""
	}
	return ", function " + r.Function
}

// TestTemplateFunctionsAreRouted checks that every function of template.yaml with
// HttpApi events is in the router under its folder name, and that its folder holds a
// main package.
func TestTemplateFunctionsAreRouted(t *testing.T) {
	routed := map[string]bool{}
	for _, r := range lambdas.Routes() {
		routed[r.Function] = true
	}
	for _, f := range templateFunctions(t) {
		name, _ := functionFolder(f.CodeURI)
		if _, err := os.Stat(fmt.Sprintf("../../functions/%s/main.go", name)); err != nil {
			t.Errorf("%s: CodeUri %s has no main.go: %v", f.LogicalID, f.CodeURI, err)
		}
		if len(f.Routes) > 0 && !routed[name] {
			t.Errorf("%s (CodeUri %s) serves %d HttpApi route(s) but lambdas.Routes() has no entry with Function %q",
				f.LogicalID, f.CodeURI, len(f.Routes), name)
		}
	}
}

// TestDocsOperations checks the documentation's own operations against the template:
// public, under the functions docs-openapi and docs-ui.
func TestDocsOperations(t *testing.T) {
	tmpl := map[string]route{}
	for _, f := range templateFunctions(t) {
		for _, r := range f.Routes {
			tmpl[r.key()] = r
		}
	}
	n := 0
	for fn, ops := range apidocs.Operations() {
		for _, op := range ops {
			n++
			if op.ID != "" {
				t.Errorf("%s %s: a public operation has an empty ID, not %q", op.Method, op.Path, op.ID)
			}
			if op.Handle == nil {
				t.Errorf("%s %s has no handler", op.Method, op.Path)
			}
			r := route{Method: op.Method, Path: op.Path}
			tr, ok := tmpl[r.key()]
			switch {
			case !ok:
				t.Errorf("%s is not in template.yaml", r.key())
			case tr.Function != fn:
				t.Errorf("%s: template.yaml gives it to %s, Operations to %s", r.key(), tr.Function, fn)
			case !tr.Public:
				t.Errorf("%s: template.yaml does not make it public", r.key())
			}
		}
	}
	if n != 3 {
		t.Errorf("Operations has %d operations, want 3", n)
	}
}
