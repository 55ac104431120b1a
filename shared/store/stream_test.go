package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// streamTable is a fake table of n items with sort keys "k0000"… spread over shards
// partitions by i*7 mod shards, shard 3 left empty when shards > 3, as a hash
// spreads ids unevenly.
func streamTable(n, shards int) (*shardTable, []string) {
	f := &shardTable{parts: map[string][]string{}}
	var all []string
	for i := range n {
		sh := i * 7 % shards
		if shards > 3 && sh == 3 {
			sh = 0
		}
		sk := fmt.Sprintf("k%04d", i)
		f.add(fmt.Sprintf("shard%d", sh), sk)
		all = append(all, sk)
	}
	return f, all
}

// streamPage reads one page of limit items from start with a new Stream, as a list
// request does from a cursor (collect in shared/audit): Reads of each items per
// shard until limit+1 items or the end, then the limit-th item's key as the next.
func streamPage(t *testing.T, st *Store, shards int, desc bool, start Item, limit, each int) ([]string, Item) {
	t.Helper()
	ins, pks := shardQueries(shards, desc)
	r := st.NewStream(ins, pks, "PK", "SK")
	var items []Item
	for reads := 0; ; reads++ {
		if reads > 1000 {
			t.Fatal("the stream does not advance")
		}
		got, err := r.Read(context.Background(), each, start)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, got.Items...)
		start = got.Next
		if len(items) > limit {
			items = items[:limit]
			start = Item{"PK": items[limit-1]["PK"], "SK": items[limit-1]["SK"]}
			break
		}
		if start == nil {
			break
		}
	}
	var sks []string
	for _, it := range items {
		sks = append(sks, stringOf(it["SK"]))
	}
	return sks, start
}

func TestStream(t *testing.T) {
	const shards = 8
	for _, desc := range []bool{true, false} {
		for _, each := range []int{1, 3, 100} {
			t.Run(fmt.Sprintf("read to the end, %d per shard, descending %v: every item once, in order", each, desc), func(t *testing.T) {
				f, all := streamTable(41, shards)
				if desc {
					slices.Reverse(all)
				}
				ins, pks := shardQueries(shards, desc)
				r := (&Store{DB: f, Table: "tbl"}).NewStream(ins, pks, "PK", "SK")
				var got []string
				var start Item
				scanned := 0
				for reads := 0; ; reads++ {
					if reads > 200 {
						t.Fatal("the stream does not advance")
					}
					rd, err := r.Read(context.Background(), each, start)
					if err != nil {
						t.Fatal(err)
					}
					for _, it := range rd.Items {
						got = append(got, stringOf(it["SK"]))
					}
					scanned += rd.Scanned
					if start = rd.Next; start == nil {
						break
					}
				}
				if !slices.Equal(got, all) {
					t.Fatalf("got %v\nwant %v", got, all)
				}
				if scanned != len(all) {
					t.Fatalf("evaluated %d items for %d: an item was read twice", scanned, len(all))
				}
			})
		}
	}
	for _, limit := range []int{1, 2, 100} {
		t.Run(fmt.Sprintf("pages of %d from cursors, with writes between pages: each item once, in order", limit), func(t *testing.T) {
			f, all := streamTable(41, shards)
			st := &Store{DB: f, Table: "tbl"}
			want := slices.Clone(all)
			var got []string
			var start Item
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatal("more than 100 pages")
				}
				sks, next := streamPage(t, st, shards, true, start, limit, limit+1)
				if len(sks) > limit || next != nil && len(sks) < limit {
					t.Fatalf("page %d: %d items, limit %d", page, len(sks), limit)
				}
				got = append(got, sks...)
				if next == nil {
					break
				}
				start = next
				if page < 3 {
					// Behind the cursor (newer than everything): not read, as in one
					// partition. Ahead of it (older than everything, as an entry that
					// arrives late): read once, whichever shard holds it.
					f.add(fmt.Sprintf("shard%d", page), fmt.Sprintf("k9999-%d", page))
					late := fmt.Sprintf("k-%d", page)
					f.add(fmt.Sprintf("shard%d", page*5%shards), late)
					want = append(want, late)
				}
			}
			slices.Sort(want)
			slices.Reverse(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
	t.Run("a filter: pages from cursors find every match once, small reads or large", func(t *testing.T) {
		for _, each := range []int{1, 4, 50} {
			f, all := streamTable(300, shards)
			f.match = func(sk string) bool { return sk[len(sk)-1] == '7' }
			var want []string
			for _, sk := range slices.Backward(all) {
				if f.match(sk) {
					want = append(want, sk)
				}
			}
			st := &Store{DB: f, Table: "tbl"}
			var got []string
			var start Item
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatal("more than 100 pages")
				}
				sks, next := streamPage(t, st, shards, true, start, 4, each)
				got = append(got, sks...)
				if start = next; next == nil {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("each %d: got %v\nwant %v", each, got, want)
			}
		}
	})
	t.Run("a Read is one round trip in sequence, one Query per shard", func(t *testing.T) {
		f, _ := streamTable(41, shards)
		ins, pks := shardQueries(shards, true)
		r := (&Store{DB: f, Table: "tbl"}).NewStream(ins, pks, "PK", "SK")
		ctx, m := WithMeter(context.Background())
		rd, err := r.Read(ctx, 6, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.RoundTrips() != shards || m.Sequential() != 1 {
			t.Fatalf("%d calls, %d in sequence, want %d and 1", m.RoundTrips(), m.Sequential(), shards)
		}
		// Every shard read its 6 newest (the empty one nothing): the 6 newest of all
		// are answered, whichever shards hold them.
		if len(rd.Items) < 6 || stringOf(rd.Items[0]["SK"]) != "k0040" {
			t.Fatalf("first read answered %d items from %v", len(rd.Items), rd.Items)
		}
	})
	t.Run("one partition is its Query, page after page", func(t *testing.T) {
		f, all := streamTable(10, 1)
		ins, pks := shardQueries(1, false)
		r := (&Store{DB: f, Table: "tbl"}).NewStream(ins, pks, "PK", "SK")
		rd, err := r.Read(context.Background(), 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rd.Items) != 4 || stringOf(rd.Next["SK"]) != all[3] || stringOf(rd.Next["PK"]) != "shard0" {
			t.Fatalf("read %d items, next %v", len(rd.Items), rd.Next)
		}
	})
}
