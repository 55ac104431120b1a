package audit

import (
	"strings"
	"testing"
)

// TestSelectionQuery: an export's Query is the list's, read oldest first.
func TestSelectionQuery(t *testing.T) {
	cases := []struct {
		name    string
		filters map[string]string
		key     string
		filter  string
	}{
		{"node log", map[string]string{}, "#0 = :0", ""},
		{"range", map[string]string{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, "BETWEEN", ""},
		{"action prefix", map[string]string{"action": "company."}, " = :", "begins_with"},
		{"target history", map[string]string{"targetId": "cmp_1"}, " = :", "contains"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel, err := ParseSelection(c.filters)
			if err != nil {
				t.Fatal(err)
			}
			for _, oldest := range []bool{true, false} {
				in, err := sel.Query("org_1", oldest)
				if err != nil {
					t.Fatal(err)
				}
				if *in.ScanIndexForward != oldest {
					t.Errorf("ScanIndexForward %v, want %v", *in.ScanIndexForward, oldest)
				}
				if !strings.Contains(*in.KeyConditionExpression, c.key) {
					t.Errorf("key condition %q lacks %q", *in.KeyConditionExpression, c.key)
				}
				f := ""
				if in.FilterExpression != nil {
					f = *in.FilterExpression
				}
				if !strings.Contains(f, c.filter) || (c.filter == "") != (f == "") {
					t.Errorf("filter %q, want one with %q", f, c.filter)
				}
			}
		})
	}
	if _, err := ParseSelection(map[string]string{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}); err == nil {
		t.Error("from after to was accepted")
	}
}
