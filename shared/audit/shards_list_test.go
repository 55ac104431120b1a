package audit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/store"
)

// shardedLog is a fake table holding a node's log in its partitions: it answers a
// Query of the partition its key condition names (the value that begins with
// AUDIT#) newest first from ExclusiveStartKey, evaluating up to Limit items and
// returning those match passes, as DynamoDB applies a filter after Limit. (The real
// Query is the e2e suite's: TestAuditLogShardedPaging.)
type fakeShardedLog struct {
	store.Client
	mu    sync.Mutex
	parts map[string][]string // partition → sort keys, ascending
	match func(sk string) bool
}

func (f *fakeShardedLog) add(pk, sk string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parts[pk] = append(f.parts[pk], sk)
	slices.Sort(f.parts[pk])
}

func (f *fakeShardedLog) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	pk := ""
	for _, v := range in.ExpressionAttributeValues {
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.HasPrefix(s.Value, "AUDIT#") {
			pk = s.Value
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sks := slices.Clone(f.parts[pk])
	slices.Reverse(sks)
	from := 0
	if in.ExclusiveStartKey != nil {
		after := in.ExclusiveStartKey["SK"].(*types.AttributeValueMemberS).Value
		from = sort.Search(len(sks), func(i int) bool { return sks[i] < after })
	}
	out := &dynamodb.QueryOutput{}
	for j, sk := range sks[from:] {
		if int(out.ScannedCount) == int(*in.Limit) {
			out.LastEvaluatedKey = store.Key(pk, sks[from+j-1])
			break
		}
		out.ScannedCount++
		if f.match == nil || f.match(sk) {
			out.Items = append(out.Items, store.Key(pk, sk))
		}
	}
	return out, nil
}

// TestCollectOverShards: the list's pages over the platform's sharded log, through
// the list's own Queries (query.inputs) and reader: each entry once, newest first, in
// full pages of 1, 2 and 100 (short only when they say they stopped early), with
// entries written between pages, filtered or not.
func TestCollectOverShards(t *testing.T) {
	build := func(n int) (*fakeShardedLog, []string) {
		f := &fakeShardedLog{parts: map[string][]string{}}
		var all []string
		for i := range n {
			id := fmt.Sprintf("01KAR%021d", i)
			sk := fmt.Sprintf("2026-12-02T10:%02d:%02d.000Z#%s", i/60%60, i%60, id)
			f.add(entryKeyOf("platform", id), sk)
			all = append(all, sk)
		}
		return f, all
	}
	pageAll := func(t *testing.T, f *fakeShardedLog, q query, limit, budget int, between func(page int)) (got []string, stopped int) {
		t.Helper()
		ins, pks, filtered, err := q.inputs("platform")
		if err != nil {
			t.Fatal(err)
		}
		st := &store.Store{DB: f, Table: "tbl"}
		var start store.Item
		for page := 0; ; page++ {
			if page > 3000 {
				t.Fatal("the cursor does not advance")
			}
			// A new stream per page: each page is a request of its own, from a cursor.
			c, err := collect(context.Background(), shardedReader(st.NewStream(ins, pks, "PK", "SK"), filtered), limit, budget, filtered, start)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(c.items) > limit:
				t.Fatalf("page %d: %d items, limit %d", page, len(c.items), limit)
			case c.next != nil && len(c.items) < limit && !c.stoppedEarly:
				t.Fatalf("page %d: %d of %d items and no word of stopping early", page, len(c.items), limit)
			}
			if c.stoppedEarly {
				stopped++
			}
			for _, it := range c.items {
				got = append(got, it["SK"].(*types.AttributeValueMemberS).Value)
			}
			if start = c.next; start == nil {
				return got, stopped
			}
			if between != nil {
				between(page)
			}
		}
	}
	for _, limit := range []int{1, 2, 100} {
		t.Run(fmt.Sprintf("unfiltered, pages of %d, with writes between pages", limit), func(t *testing.T) {
			f, all := build(230)
			want := slices.Clone(all)
			got, _ := pageAll(t, f, query{}, limit, ReadBudget, func(page int) {
				if page < 4 {
					// Newer than every entry (behind the cursor): not on these pages, as
					// in one partition. Older than every entry (a late arrival ahead of
					// the cursor): on them once, whichever shard holds it.
					newID, oldID := fmt.Sprintf("01KNEW%020d", page), fmt.Sprintf("01KOLD%020d", page)
					f.add(entryKeyOf("platform", newID), "2026-12-02T11:00:00.000Z#"+newID)
					f.add(entryKeyOf("platform", oldID), "2026-12-02T09:00:00.000Z#"+oldID)
					want = append(want, "2026-12-02T09:00:00.000Z#"+oldID)
				}
			})
			slices.Sort(want)
			slices.Reverse(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d entries, want %d:\n%v\n%v", len(got), len(want), got, want)
			}
		})
		t.Run(fmt.Sprintf("a rare filter within a small budget, pages of %d", limit), func(t *testing.T) {
			f, all := build(3000)
			f.match = func(sk string) bool { return strings.HasSuffix(sk, "7") && sk[len(sk)-2]%3 == 0 }
			var want []string
			for _, sk := range slices.Backward(all) {
				if f.match(sk) {
					want = append(want, sk)
				}
			}
			got, stopped := pageAll(t, f, query{action: "test.rare"}, limit, 200, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d entries, want %d", len(got), len(want))
			}
			if limit == 100 && stopped == 0 {
				t.Fatal("no page stopped early on a budget of 200 over 3,000 entries")
			}
		})
	}
}
