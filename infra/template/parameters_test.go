package template

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// An ops engineer answers sam deploy --guided from docs/operations.md's parameter table:
// a parameter missing there is one they must guess.
func TestEveryParameterIsDocumented(t *testing.T) {
	tpl := load(t)
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name := range tpl.Parameters {
		if !strings.Contains(string(doc), "`"+name+"`") {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("parameters of template.yaml not in docs/operations.md's deploy table: %v", missing)
	}
}
