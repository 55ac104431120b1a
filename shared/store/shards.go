package store

import (
	"context"
	"sync"

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
