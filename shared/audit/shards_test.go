package audit

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestShardChoice: the platform's and distributors' logs are split by a hash of the
// entry id into LogShards partitions, fixed by the id alone and spread evenly; the
// logs below them stay one partition.
func TestShardChoice(t *testing.T) {
	const dist = "dst_01jabcdefghjkmnpqrstvwxyz0"
	t.Run("sharded at the top two levels only", func(t *testing.T) {
		for node, want := range map[string]bool{
			"platform": true, dist: true,
			"prt_01jabcdefghjkmnpqrstvwxyz0": false, "org_01jabcdefghjkmnpqrstvwxyz0": false,
			"cmp_01jabcdefghjkmnpqrstvwxyz0": false, "eu_01jabcdefghjkmnpqrstvwxyz0": false,
		} {
			if got := shardedLog(node); got != want {
				t.Errorf("shardedLog(%s) = %v, want %v", node, got, want)
			}
		}
	})
	t.Run("the shard is FNV-1a of the id mod LogShards, the same every time", func(t *testing.T) {
		// Fixed values: a change here would move every entry already written.
		for id, want := range map[string]int{"a": 4, "b": 5} {
			if got := shardOf(id); got != want {
				t.Errorf("shardOf(%q) = %d, want %d", id, got, want)
			}
		}
		if got := entryKeyOf("platform", "a"); got != "AUDIT#platform#4" {
			t.Errorf("entryKeyOf(platform, a) = %s", got)
		}
		if got := entryKeyOf("org_1", "a"); got != "AUDIT#org_1" {
			t.Errorf("entryKeyOf(org_1, a) = %s", got)
		}
	})
	t.Run("ULIDs spread evenly", func(t *testing.T) {
		counts := make([]int, LogShards)
		const n = 80000
		for i := range n {
			counts[shardOf(fmt.Sprintf("01KAR%021d", i))]++
		}
		for s, c := range counts {
			// 10,000 expected each; a shard past 11,000 would carry 10% more than its share.
			if c < 9000 || c > 11000 {
				t.Errorf("shard %d holds %d of %d ids: %v", s, c, n, counts)
			}
		}
	})
	t.Run("every shard is among the partitions read, with the unsharded one", func(t *testing.T) {
		keys := LogPartitions("platform")
		if len(keys) != LogShards+1 || keys[0] != "AUDIT#platform" {
			t.Fatalf("LogPartitions(platform) = %v", keys)
		}
		for i := range 1000 {
			if k := entryKeyOf("platform", fmt.Sprint(i)); !slices.Contains(keys, k) {
				t.Fatalf("entry %d goes to %s, which is not read", i, k)
			}
		}
		if got := LogPartitions("org_1"); !slices.Equal(got, []string{"AUDIT#org_1"}) {
			t.Fatalf("LogPartitions(org_1) = %v", got)
		}
	})
	t.Run("a change's items: a shard per sharded node, its late key the shard's", func(t *testing.T) {
		e := Entry{ID: "01KAR4SAMPLE0000000000000", At: "2026-12-02T10:00:00.000Z", Target: Target{Type: "organization", ID: "org_1"}}
		items, err := Items(e, []string{"platform", dist, "prt_1", "org_1"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		stamp(items, e.At, mustTime(t, "2026-12-02T11:00:00.500Z"), time.Hour)
		s := fmt.Sprint(shardOf(e.ID))
		want := [][2]string{
			{"AUDIT#platform#" + s, "AUDITL#platform#" + s},
			{"AUDIT#" + dist + "#" + s, "AUDITL#" + dist + "#" + s},
			{"AUDIT#prt_1", "AUDITL#prt_1"},
			{"AUDIT#org_1", "AUDITL#org_1"},
			{"AUDITT#org_1", ""},
		}
		for i, it := range items {
			pk := it["PK"].(*types.AttributeValueMemberS).Value
			late := ""
			if v, ok := it["GSI1PK"].(*types.AttributeValueMemberS); ok {
				late = v.Value
			}
			if pk != want[i][0] || late != want[i][1] {
				t.Errorf("item %d: %s late %q, want %s late %q", i, pk, late, want[i][0], want[i][1])
			}
		}
	})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(TimeFormat, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
