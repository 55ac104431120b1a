package nodes

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

func TestCleanName(t *testing.T) {
	cases := []struct{ name, in, want, bad string }{
		{"trims spaces", "  Acme  ", "Acme", ""},
		{"keeps inner spaces and unicode", "Ácme Ltd", "Ácme Ltd", ""},
		{"refuses empty", "   ", "", "must not be empty"},
		{"refuses over-long", strings.Repeat("é", MaxName+1), "", "at most"},
		{"accepts the longest", strings.Repeat("é", MaxName), strings.Repeat("é", MaxName), ""},
		{"refuses control characters", "Ac\x01me", "", "control"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CleanName("name", c.in)
			if c.bad == "" {
				if err != nil || got != c.want {
					t.Fatalf("CleanName = %q, %v", got, err)
				}
				return
			}
			var p *problem.Problem
			if !errors.As(err, &p) || p.Errors[0].Field != "name" || !strings.Contains(p.Errors[0].Message, c.bad) {
				t.Fatalf("CleanName error = %v, want %q on name", err, c.bad)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	id := NewID(tree.KindDistributor)
	cases := []struct {
		name string
		kind tree.Kind
		id   string
		want bool
	}{
		{"a new distributor id", tree.KindDistributor, id, true},
		{"a distributor id for a partner", tree.KindPartner, id, false},
		{"upper case", tree.KindDistributor, strings.ToUpper(id), false},
		{"too short", tree.KindDistributor, id[:len(id)-1], false},
		{"the platform", tree.KindDistributor, "platform", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ValidID(c.kind, c.id); got != c.want {
				t.Fatalf("ValidID(%s, %q) = %v", c.kind, c.id, got)
			}
		})
	}
}

func TestSortKeysOrderByName(t *testing.T) {
	platform := tree.Node{ID: tree.PlatformID}
	names := []string{"ab c", "Ab", "abc", "a"}
	var keys []string
	byKey := map[string]string{}
	for _, n := range names {
		it := NewChild(platform, tree.KindDistributor, n, "active", time.Now())
		keys = append(keys, it.GSI1SK)
		byKey[it.GSI1SK] = n
	}
	sort.Strings(keys)
	var got []string
	for _, k := range keys {
		got = append(got, byKey[k])
	}
	if strings.Join(got, "|") != "a|Ab|ab c|abc" {
		t.Fatalf("order = %v", got)
	}
}
