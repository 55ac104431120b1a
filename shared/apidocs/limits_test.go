package apidocs_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"opsconsole/shared/function"
	"opsconsole/shared/lambdas"
	"opsconsole/shared/throttle"
)

// TestNodeLimitsDocumented checks that every operation with an allowance per node
// (api.NodeLimit) documents its 429: problem+json with Retry-After, its description
// naming the allowance's figure; and that the README and docs/operations.md state
// every allowance with its figure.
func TestNodeLimitsDocumented(t *testing.T) {
	doc := document(t)
	byRoute := map[string]op{}
	for _, o := range operations(t, doc) {
		byRoute[strings.ToUpper(o.method)+" "+o.path] = o
	}
	limited := 0
	for _, name := range lambdas.Names() {
		r, ok := lambdas.Functions[name].(function.Routed)
		if !ok {
			continue
		}
		for _, o := range r.Operations() {
			if o.NodeLimit == nil {
				continue
			}
			limited++
			route := o.Method + " " + o.Path
			d, ok := byRoute[route]
			if !ok {
				t.Errorf("%s is not in the document", route)
				continue
			}
			resp, _ := d.obj["responses"].(map[string]any)
			if resp["429"] == nil {
				t.Errorf("%s (%s allowance) documents no 429", route, o.NodeLimit.Name)
				continue
			}
			r := deref(t, doc, resp["429"])
			if h, _ := r["headers"].(map[string]any); h["Retry-After"] == nil {
				t.Errorf("%s: its 429 documents no Retry-After", route)
			}
			if c, _ := r["content"].(map[string]any); c["application/problem+json"] == nil {
				t.Errorf("%s: its 429 is not problem+json", route)
			}
			if desc, _ := r["description"].(string); !strings.Contains(desc, strconv.Itoa(o.NodeLimit.Max)) {
				t.Errorf("%s: its 429's description does not give the allowance, %d", route, o.NodeLimit.Max)
			}
		}
	}
	if limited < 8 {
		t.Errorf("%d operations have an allowance per node, want at least 8 (4 cascading deletes, 3 invitations, signup)", limited)
	}
	for _, file := range []string{"../../README.md", "../../docs/operations.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range throttle.NodeAllowances {
			found := false
			for _, line := range strings.Split(string(b), "\n") {
				found = found || strings.Contains(strings.ToLower(line), a.Name) && strings.Contains(line, strconv.Itoa(a.Max)+" per ")
			}
			if !found {
				t.Errorf("%s has no line stating the %s allowance (%d per …)", file, a.Name, a.Max)
			}
		}
	}
}
