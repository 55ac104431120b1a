package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
				ins, pks, err := sel.Queries("org_1", oldest)
				if err != nil {
					t.Fatal(err)
				}
				if len(ins) != 1 || len(pks) != 1 {
					t.Fatalf("%d queries of %v, want one: an organization's log is one partition", len(ins), pks)
				}
				in := ins[0]
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
	t.Run("a sharded log: one Query per partition, each on its own", func(t *testing.T) {
		sel, err := ParseSelection(map[string]string{"action": "company."})
		if err != nil {
			t.Fatal(err)
		}
		ins, pks, err := sel.Queries("platform", true)
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) != LogShards+1 || !slices.Equal(pks, LogPartitions("platform")) {
			t.Fatalf("%d queries of %v", len(ins), pks)
		}
		for i, in := range ins {
			var values []string
			for _, v := range in.ExpressionAttributeValues {
				values = append(values, v.(*types.AttributeValueMemberS).Value)
			}
			if !slices.Contains(values, pks[i]) || slices.ContainsFunc(values, func(v string) bool { return v != pks[i] && strings.HasPrefix(v, "AUDIT#") }) {
				t.Errorf("query %d has the values %v, want the partition %s alone", i, values, pks[i])
			}
		}
	})
	if _, err := ParseSelection(map[string]string{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}); err == nil {
		t.Error("from after to was accepted")
	}
}
