package store

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/meter"
)

// QueryShards reads one page of a list whose partition is split into shards, because
// every change writes it (a hot key, docs/scale.md): ins[i] is the same query on the
// shard partition pks[i] of the index whose partition and sort key attributes are
// pkAttr and skAttr. The queries run in parallel (one round trip in sequence, however
// many shards) and are merged in the index's order of skAttr (ascending, or descending
// when they set ScanIndexForward false); limit items are kept.
//
// The page's Next is the key of its last item, as for one partition; the following
// page reads every shard from that position (the shard's own partition key with the
// item's sort and table keys), so an item written meanwhile ahead of it is read
// whichever shard it is in, and one behind it is not, exactly as in one partition.
// A filter expression works as on one partition: a page may then hold fewer than limit
// items with a cursor, never skipping one. Every attribute in keyAttrs and skAttr must
// be a string (all our keys are). Each
// shard reads up to limit+1 items per page, so a page costs up to shards × a page in
// read units: the price of spreading the writes.
func (s *Store) QueryShards(ctx context.Context, ins []dynamodb.QueryInput, pks []string, start Item, limit int, keyAttrs []string, pkAttr, skAttr string) (Page, error) {
	pages := make([]Page, len(ins))
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i := range ins {
		in := ins[i]
		if start != nil {
			in.ExclusiveStartKey = Item{}
			for k, v := range start {
				in.ExclusiveStartKey[k] = v
			}
			in.ExclusiveStartKey[pkAttr] = &types.AttributeValueMemberS{Value: pks[i]}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pages[i], errs[i] = s.QueryPage(ctx, in, limit, keyAttrs)
		}()
	}
	wg.Wait()
	if len(ins) > 1 {
		meter.From(ctx).Overlap(len(ins) - 1)
	}
	for _, err := range errs {
		if err != nil {
			return Page{}, err
		}
	}
	descending := len(ins) > 0 && ins[0].ScanIndexForward != nil && !*ins[0].ScanIndexForward
	// A shard that DynamoDB stopped early (a filter expression, or the 1 MB cap, leaves
	// its Next past fewer than limit items) has read nothing beyond its Next: keeping
	// another shard's item from beyond it would move the cursor past the shard's unread
	// items. So the page ends at the nearest such Next, the frontier, and the cursor is
	// the frontier when the page ends there: every shard resumes from that position.
	var frontier Item
	for i, p := range pages {
		if p.Next != nil && len(p.Items) < limit && (frontier == nil || before(p.Next, frontier, skAttr, descending)) {
			frontier = pages[i].Next
		}
	}
	taken := make([]int, len(ins))
	var out Page
	atFrontier := false
	for len(out.Items) < limit {
		best := -1
		for i, p := range pages {
			if taken[i] == len(p.Items) {
				continue
			}
			if best < 0 || before(p.Items[taken[i]], pages[best].Items[taken[best]], skAttr, descending) {
				best = i
			}
		}
		if best >= 0 && frontier != nil && before(frontier, pages[best].Items[taken[best]], skAttr, descending) {
			atFrontier = true
			break
		}
		if best < 0 {
			atFrontier = frontier != nil
			break
		}
		out.Items = append(out.Items, pages[best].Items[taken[best]])
		taken[best]++
	}
	if atFrontier {
		out.Next = Item{}
		for _, a := range keyAttrs {
			out.Next[a] = frontier[a]
		}
		return out, nil
	}
	for i, p := range pages {
		if taken[i] < len(p.Items) || p.Next != nil {
			last := out.Items[len(out.Items)-1]
			out.Next = Item{}
			for _, a := range keyAttrs {
				out.Next[a] = last[a]
			}
			break
		}
	}
	return out, nil
}

func before(a, b Item, attr string, descending bool) bool {
	x, y := stringOf(a[attr]), stringOf(b[attr])
	if descending {
		return x > y
	}
	return x < y
}

func stringOf(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Stream reads a log whose partition is split into shards as one sequence in the
// order of its sort key, for readers that go on Query after Query within a budget of
// their own (filters on non-key attributes, an export's pages): ins[i] is the same
// query on shard partition pks[i], and every sort key is unique across the shards.
// Each Read queries the shards in parallel (one round trip in sequence) and answers
// only the items that no shard can still put before them: those up to the frontier,
// the position of the shard that read least far, which is also the Read's Next. Items
// a shard read past the frontier are kept for the next Read from that Next (a Read from
// any other start begins afresh), so nothing is read twice while one Stream goes on.
// The frontier is a key like any other: reading every shard on from it (as a cursor
// does, in a later request) misses nothing and repeats nothing. With one partition a
// Stream is that partition's Query, page after page.
type Stream struct {
	store      *Store
	ins        []dynamodb.QueryInput
	pks        []string
	pkAttr     string
	skAttr     string
	descending bool
	shards     []streamShard
	next       Item // the Next last answered: a Read from it goes on
}

type streamShard struct {
	start Item   // where its next Query starts (nil: from the beginning)
	done  bool   // its range is read to the end
	buf   []Item // items read but not yet answered, in order
}

// NewStream is a Stream over the shards (see Stream); pkAttr and skAttr name the
// partition and sort key attributes of the table or index queried.
func (s *Store) NewStream(ins []dynamodb.QueryInput, pks []string, pkAttr, skAttr string) *Stream {
	return &Stream{store: s, ins: ins, pks: pks, pkAttr: pkAttr, skAttr: skAttr,
		descending: len(ins) > 0 && ins[0].ScanIndexForward != nil && !*ins[0].ScanIndexForward}
}

// Shards is the number of partitions the stream reads.
func (r *Stream) Shards() int { return len(r.pks) }

// Read answers the next items from start (nil: the beginning), as QueryOnce does for
// one partition: the items in order, how many items its Queries evaluated (each
// shard at most each, before any filter) and where to go on (nil once every shard
// is read to its end). Only the shards with nothing kept are queried; a Read may
// answer no items yet a Next, when every item read lies past the frontier.
func (r *Stream) Read(ctx context.Context, each int, start Item) (Read, error) {
	if r.shards == nil || start == nil || !sameKey(start, r.next, r.pkAttr, r.skAttr) {
		r.shards = make([]streamShard, len(r.pks))
		for i := range r.shards {
			if start != nil {
				k := Item{}
				for a, v := range start {
					k[a] = v
				}
				k[r.pkAttr] = &types.AttributeValueMemberS{Value: r.pks[i]}
				r.shards[i].start = k
			}
		}
	}
	var ask []int
	for i, sh := range r.shards {
		if !sh.done && len(sh.buf) == 0 {
			ask = append(ask, i)
		}
	}
	reads := make([]Read, len(ask))
	errs := make([]error, len(ask))
	var wg sync.WaitGroup
	for k, i := range ask {
		in := r.ins[i]
		in.Limit = aws.Int32(int32(max(each, 1)))
		in.ExclusiveStartKey = r.shards[i].start
		wg.Add(1)
		go func() {
			defer wg.Done()
			reads[k], errs[k] = r.store.QueryOnce(ctx, in)
		}()
	}
	wg.Wait()
	if len(ask) > 1 {
		meter.From(ctx).Overlap(len(ask) - 1)
	}
	var out Read
	for k, i := range ask {
		if errs[k] != nil {
			r.shards = nil
			return Read{}, errs[k]
		}
		sh := &r.shards[i]
		sh.buf = append(sh.buf, reads[k].Items...)
		sh.start, sh.done = reads[k].Next, reads[k].Next == nil
		out.Scanned += reads[k].Scanned
	}
	// The frontier: the position of the shard that read least far.
	front := -1
	for i, sh := range r.shards {
		if !sh.done && (front < 0 || r.comesBefore(sh.start, r.shards[front].start)) {
			front = i
		}
	}
	for {
		best := -1
		for i, sh := range r.shards {
			if len(sh.buf) == 0 || front >= 0 && r.comesBefore(r.shards[front].start, sh.buf[0]) {
				continue
			}
			if best < 0 || r.comesBefore(sh.buf[0], r.shards[best].buf[0]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out.Items = append(out.Items, r.shards[best].buf[0])
		r.shards[best].buf = r.shards[best].buf[1:]
	}
	if front >= 0 {
		out.Next = Item{}
		for a, v := range r.shards[front].start {
			out.Next[a] = v
		}
	}
	r.next = out.Next
	return out, nil
}

// comesBefore tells whether a's sort key comes before b's in the stream's order.
func (r *Stream) comesBefore(a, b Item) bool {
	x, y := stringOf(a[r.skAttr]), stringOf(b[r.skAttr])
	if r.descending {
		return x > y
	}
	return x < y
}

func sameKey(a, b Item, attrs ...string) bool {
	if a == nil || b == nil {
		return false
	}
	for _, k := range attrs {
		if stringOf(a[k]) != stringOf(b[k]) {
			return false
		}
	}
	return true
}
