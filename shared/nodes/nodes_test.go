package nodes

import (
	"errors"
	"fmt"
	"slices"
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
		it.SetIndexKeys(it.Status, false)
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

func TestBranchKeysOfAnOrganization(t *testing.T) {
	partner := tree.Node{ID: "prt_p", Kind: tree.KindPartner, Path: []string{tree.PlatformID, "dst_d"}}
	it := NewChild(partner, tree.KindOrganization, "Acme", "approved", time.Now())
	it.SetIndexKeys(it.Status, true)
	want := map[string]string{
		"GSI1PK": "CHILDREN#prt_p#organization", "GSI2PK": "CHILDREN#prt_p#organization#approved",
		"GSI3PK": "BRANCH#dst_d#organization", "GSI4PK": "BRANCH#dst_d#organization#approved",
	}
	// The platform's partitions are sharded: the shard is the id's, the same for both.
	shard := it.GSI5PK[strings.LastIndex(it.GSI5PK, "#"):]
	want["GSI5PK"], want["GSI6PK"] = "BRANCH#platform#organization"+shard, "BRANCH#platform#organization#approved"+shard
	if !slices.Contains(BranchKeys(tree.PlatformID, tree.KindOrganization, ""), it.GSI5PK) {
		t.Errorf("GSI5PK %q is not one of the platform's shards", it.GSI5PK)
	}
	got := map[string]string{"GSI1PK": it.GSI1PK, "GSI2PK": it.GSI2PK, "GSI3PK": it.GSI3PK, "GSI4PK": it.GSI4PK, "GSI5PK": it.GSI5PK, "GSI6PK": it.GSI6PK}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, sk := range []string{it.GSI2SK, it.GSI3SK, it.GSI4SK, it.GSI5SK, it.GSI6SK} {
		if sk != it.GSI1SK {
			t.Errorf("sort key %q differs from GSI1SK %q", sk, it.GSI1SK)
		}
	}

	t.Run("a level not listed across branches has no branch keys", func(t *testing.T) {
		it.SetIndexKeys(it.Status, false)
		if it.GSI3PK != "" || it.GSI6PK != "" {
			t.Fatalf("branch keys set: %q %q", it.GSI3PK, it.GSI6PK)
		}
	})
}

func TestSubtreeKeysAreShardedByID(t *testing.T) {
	org := tree.Node{ID: "org_o", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_d", "prt_p"}}
	seen := map[string]bool{}
	for i := range 64 {
		it := NewChild(org, tree.KindCompany, fmt.Sprintf("Company %d", i), "active", time.Now())
		it.SetIndexKeys("true", false)
		it.SetSubtreeKeys("true")
		if !slices.Contains(SubtreeKeys(tree.KindCompany, ""), it.GSI3PK) || !slices.Contains(SubtreeKeys(tree.KindCompany, "true"), it.GSI4PK) {
			t.Fatalf("%s: GSI3PK %q or GSI4PK %q is not one of the kind's shards", it.ID, it.GSI3PK, it.GSI4PK)
		}
		// The same shard in both indexes, and always the same for the id.
		if it.GSI3PK[len(it.GSI3PK)-3:] != it.GSI4PK[len(it.GSI4PK)-3:] || SubtreeKeyOf(tree.KindCompany, "", it.ID) != it.GSI3PK {
			t.Fatalf("%s: shards differ: %q, %q", it.ID, it.GSI3PK, it.GSI4PK)
		}
		if !strings.HasPrefix(it.GSI3SK, "dst_d/prt_p/org_o/") {
			t.Fatalf("GSI3SK %q does not start with the lineage prefix", it.GSI3SK)
		}
		seen[it.GSI3PK] = true
	}
	if len(seen) != SubtreeShards {
		t.Errorf("64 companies landed in %d shards, want all %d", len(seen), SubtreeShards)
	}
}
