package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// shardTable is a fake Client holding partitions of items sorted by SK: it answers a
// Query on "PK = :p" from ExclusiveStartKey with up to Limit items, as DynamoDB pages
// one partition. It evaluates nothing else. The real path (QueryShards over DynamoDB
// Local's index) is the e2e suite's platform-wide organization lists.
type shardTable struct {
	Client
	mu      sync.Mutex
	parts   map[string][]string // partition → sort keys, sorted
	queries []string            // partitions queried, in any order
	// match, when set, is the Query's filter: an item evaluated but not matching
	// counts in ScannedCount and is not returned.
	match func(sk string) bool
}

func (f *shardTable) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	pk := in.ExpressionAttributeValues[":p"].(*types.AttributeValueMemberS).Value
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, pk)
	sks := slices.Clone(f.parts[pk])
	desc := in.ScanIndexForward != nil && !*in.ScanIndexForward
	if desc {
		slices.Reverse(sks)
	}
	from := 0
	if in.ExclusiveStartKey != nil {
		after := stringOf(in.ExclusiveStartKey["SK"])
		from = sort.Search(len(sks), func(i int) bool {
			if desc {
				return sks[i] < after
			}
			return sks[i] > after
		})
	}
	out := &dynamodb.QueryOutput{ConsumedCapacity: capacity}
	for j, sk := range sks[from:] {
		if int(out.ScannedCount) == int(*in.Limit) {
			out.LastEvaluatedKey = Item{"PK": s(pk), "SK": s(sks[from+j-1])}
			break
		}
		out.ScannedCount++
		if f.match == nil || f.match(sk) {
			out.Items = append(out.Items, Item{"PK": s(pk), "SK": s(sk)})
		}
	}
	return out, nil
}

func (f *shardTable) add(pk, sk string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parts[pk] = append(f.parts[pk], sk)
	slices.Sort(f.parts[pk])
}

func shardQueries(n int, desc bool) ([]dynamodb.QueryInput, []string) {
	ins := make([]dynamodb.QueryInput, n)
	pks := make([]string, n)
	for i := range ins {
		pks[i] = fmt.Sprintf("shard%d", i)
		ins[i] = dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(pks[i])}}
		if desc {
			ins[i].ScanIndexForward = aws.Bool(false)
		}
	}
	return ins, pks
}

func queryShards(ctx context.Context, st *Store, n int, desc bool, start Item, limit int) (Page, error) {
	ins, pks := shardQueries(n, desc)
	return st.QueryShards(ctx, ins, pks, start, limit, []string{"PK", "SK"}, "PK", "SK")
}

// readAll pages through the sharded list with limit, returning the sort keys in the
// order the pages gave them.
func readAll(t *testing.T, st *Store, desc bool, limit int, between func(page int)) []string {
	t.Helper()
	var got []string
	var start Item
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("more than 100 pages: the cursor does not advance")
		}
		p, err := queryShards(context.Background(), st, 4, desc, start, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > limit || p.Next != nil && len(p.Items) < limit && st.DB.(*shardTable).match == nil {
			t.Fatalf("page %d: %d items with limit %d (next %v): a page is full unless it is the last", page, len(p.Items), limit, p.Next != nil)
		}
		for _, it := range p.Items {
			got = append(got, stringOf(it["SK"]))
		}
		if p.Next == nil {
			return got
		}
		if between != nil {
			between(page)
		}
		start = p.Next
	}
}

func TestQueryShards(t *testing.T) {
	// 23 items spread unevenly over 3 shards (one empty), as a hash spreads ids.
	build := func() (*shardTable, []string) {
		f := &shardTable{parts: map[string][]string{}}
		var all []string
		for i := range 23 {
			sk := fmt.Sprintf("name%03d", i*7%23)
			f.add(fmt.Sprintf("shard%d", i%2*(1+i%3%2)), sk) // shards 0, 1 and 2
			all = append(all, sk)
		}
		slices.Sort(all)
		return f, all
	}
	for _, limit := range []int{1, 2, 5, 22, 23, 100} {
		t.Run(fmt.Sprintf("pages of %d give every item once, in order", limit), func(t *testing.T) {
			f, all := build()
			got := readAll(t, &Store{DB: f, Table: "tbl"}, false, limit, nil)
			if !slices.Equal(got, all) {
				t.Fatalf("got %v\nwant %v", got, all)
			}
		})
	}
	t.Run("descending", func(t *testing.T) {
		f, all := build()
		slices.Reverse(all)
		if got := readAll(t, &Store{DB: f, Table: "tbl"}, true, 4, nil); !slices.Equal(got, all) {
			t.Fatalf("got %v\nwant %v", got, all)
		}
	})
	t.Run("an item written behind the cursor is not read, one ahead of it is read once", func(t *testing.T) {
		f, all := build()
		got := readAll(t, &Store{DB: f, Table: "tbl"}, false, 5, func(page int) {
			if page == 0 {
				f.add("shard1", "name000a") // before the first page's last item
				f.add("shard3", "name020a") // ahead, in the shard empty so far
			}
		})
		want := append(slices.Clone(all), "name020a")
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
	})
	t.Run("a page is one round trip in sequence, one Query per shard", func(t *testing.T) {
		f, _ := build()
		st := &Store{DB: f, Table: "tbl"}
		var start Item
		for page := range 2 {
			ctx, m := WithMeter(context.Background())
			p, err := queryShards(ctx, st, 4, false, start, 5)
			if err != nil {
				t.Fatal(err)
			}
			if m.RoundTrips() != 4 || m.Sequential() != 1 {
				t.Fatalf("page %d: %d calls, %d in sequence, want 4 and 1", page, m.RoundTrips(), m.Sequential())
			}
			start = p.Next
		}
	})
	t.Run("a filter that leaves a shard short never skips its unread items", func(t *testing.T) {
		// Every item but one in ten of shard0 filtered out: its pages come back short,
		// with DynamoDB's Next, while the other shards run ahead.
		for _, limit := range []int{1, 2, 5, 100} {
			f, _ := build()
			for i := range 60 {
				f.add("shard0", fmt.Sprintf("name%03dz%02d", i%23, i))
			}
			hidden := func(sk string) bool { return len(sk) > 7 && sk[len(sk)-1] != '0' }
			f.match = func(sk string) bool { return !hidden(sk) }
			var want []string
			for _, p := range []string{"shard0", "shard1", "shard2", "shard3"} {
				for _, sk := range f.parts[p] {
					if !hidden(sk) {
						want = append(want, sk)
					}
				}
			}
			slices.Sort(want)
			got := readAll(t, &Store{DB: f, Table: "tbl"}, false, limit, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("limit %d: got %v\nwant %v", limit, got, want)
			}
		}
	})
	t.Run("the cursor is the last item's key, as for one partition", func(t *testing.T) {
		f, all := build()
		p, err := queryShards(context.Background(), &Store{DB: f, Table: "tbl"}, 4, false, nil, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got := stringOf(p.Next["SK"]); got != all[2] || len(p.Next) != 2 {
			t.Fatalf("Next %v, want the key of %s", p.Next, all[2])
		}
	})
}
