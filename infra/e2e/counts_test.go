package e2e

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"opsconsole/shared/counts"
)

// TestChildrenCountsFollowTheTree runs the tree-counter function the way the local
// system runs it from template.yaml (its stream mapping, filter and real handler):
// every change of a distributor's partners made through the API shows in the
// distributor's counts by kind and status.
func TestChildrenCountsFollowTheTree(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("Counted"))
	p1 := createPartner(t, tok, d.ID, unique("Counted one"))
	p2 := createPartner(t, tok, d.ID, unique("Counted two"))
	act := func(method, path string) func(t *testing.T) {
		return func(t *testing.T) {
			if res := do(t, req{method: method, path: path, token: tok}); res.Status >= 300 {
				t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
			}
		}
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
		want counts.Counts
	}{
		{"two partners created are two active partners", nil, counts.Counts{"partner": {"active": 2}}},
		{"a suspended partner moves to suspended", act(http.MethodPost, "/v1/partners/"+p1.ID+"/suspend"),
			counts.Counts{"partner": {"active": 1, "suspended": 1}}},
		{"a deleted partner is no longer counted", act(http.MethodDelete, "/v1/partners/"+p2.ID),
			counts.Counts{"partner": {"suspended": 1}}},
		{"an enabled partner is active again", act(http.MethodPost, "/v1/partners/"+p1.ID+"/enable"),
			counts.Counts{"partner": {"active": 1}}},
		{"with the last partner deleted the counts are empty", act(http.MethodDelete, "/v1/partners/"+p1.ID),
			counts.Counts{}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.do != nil {
				s.do(t)
			}
			eventually(t, 10*time.Second, func() error {
				got, err := counts.Get(t0(), st, d.ID)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(got, s.want) {
					return fmt.Errorf("counts of %s = %v, want %v", d.ID, got, s.want)
				}
				return nil
			})
		})
	}
}
