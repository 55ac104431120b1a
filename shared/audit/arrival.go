package audit

// Arrival: when an entry reached its node's partition, which decides the digest that
// covers it (shared/auditdigest). The writer stamps each item it puts with arrivedAt
// and puts it only if it is not there yet (a replay keeps the first stamp), so an
// entry's arrival never changes once written; an entry whose arrival falls in a later
// period than its time (a late one) is also keyed into GSI1 under AUDITL#<node> by
// arrival, so that the digest of its arrival period finds it without reading back.

import (
	"context"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/meter"
	"opsconsole/shared/store"
)

// DefaultDigestPeriod is the digest period when AUDIT_DIGEST_PERIOD is unset: an hour,
// as CloudTrail's digest files.
const DefaultDigestPeriod = time.Hour

// DigestPeriodFromEnv is AUDIT_DIGEST_PERIOD (a Go duration such as 1h or 30s) or
// DefaultDigestPeriod. The writer, the digest maker and the exporter must agree on it:
// it is one setting of the deployment (template.yaml), never changed while it runs.
func DigestPeriodFromEnv() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("AUDIT_DIGEST_PERIOD")); err == nil && d >= time.Second {
		return d
	}
	return DefaultDigestPeriod
}

// PeriodStart is the start of the period of length d that holds t (periods are
// aligned on the Unix epoch).
func PeriodStart(t time.Time, d time.Duration) time.Time {
	return time.UnixMilli(t.UnixMilli() - t.UnixMilli()%d.Milliseconds()).UTC()
}

// lateKey is the GSI1 partition of a node's late entries, sorted by arrival.
func lateKey(node string) string { return "AUDITL#" + node }

// queueKey is the partition of the markers of one arrival period: which nodes had
// entries arrive in it, so that the digest maker visits those and no other.
func queueKey(periodStart time.Time) string { return "AUDITQ#" + periodStart.Format(TimeFormat) }

// stamp sets the arrival of the items of one entry (at is the entry's time): arrivedAt
// on each, and on a node partition's item, when it arrives in a later period than its
// time, its GSI1 keys. It answers the arrival's period.
func stamp(items []store.Item, at string, arrived time.Time, period time.Duration) time.Time {
	t, err := time.Parse(TimeFormat, at)
	if err == nil && arrived.Before(t) {
		// Never before the entry's own time (another clock may run ahead): the entry
		// is then found by its time's period, which is its arrival's.
		arrived = t
	}
	a := arrived.Format(TimeFormat)
	p := PeriodStart(arrived, period)
	late := err == nil && PeriodStart(t, period).Before(p)
	for _, it := range items {
		it["arrivedAt"] = &types.AttributeValueMemberS{Value: a}
		pk := store.PKOf(it)
		if late && len(pk) > len("AUDIT#") && pk[:len("AUDIT#")] == "AUDIT#" {
			it["GSI1PK"] = &types.AttributeValueMemberS{Value: lateKeyOf(pk)}
			it["GSI1SK"] = &types.AttributeValueMemberS{Value: a + "#" + it["SK"].(*types.AttributeValueMemberS).Value}
		}
	}
	return p
}

// Arrived is an entry read for its digest: the item as stored, in its log's order.
type Arrived = store.Item

// ArrivedIn reads the entries of node's log that arrived in the period
// [start, start+period), in sort key order (time, then id), from every partition of
// the log (LogPartitions: a sharded log's shards, read in parallel, and merged): those of
// the period's own time range that did not arrive late (one Query per partition,
// paged), and the late ones of other times that arrived in it (a Query of each
// partition's late index on GSI1 and a BatchGetItem of the entries, which the index
// does not project). Entries written before arrival was recorded count as arriving at
// their time.
func ArrivedIn(ctx context.Context, st *store.Store, node string, start time.Time, period time.Duration) ([]Arrived, error) {
	pks := LogPartitions(node)
	parts := make([][]Arrived, len(pks))
	calls := make([]int, len(pks))
	errs := make([]error, len(pks))
	var wg sync.WaitGroup
	for i, pk := range pks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i], calls[i], errs[i] = arrivedInPartition(ctx, st, pk, start, period)
		}()
	}
	wg.Wait()
	// The partitions' calls ran side by side: in sequence, only the longest's.
	meter.From(ctx).Overlap(sumOf(calls) - slices.Max(calls))
	var out []Arrived
	for i := range pks {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, parts[i]...)
	}
	slices.SortFunc(out, func(a, b Arrived) int { return compareSK(a, b) })
	return out, nil
}

func sumOf(ns []int) int {
	t := 0
	for _, n := range ns {
		t += n
	}
	return t
}

// arrivedInPartition is ArrivedIn over one partition pk of a node's log, unsorted,
// with the number of calls it made (one after another).
func arrivedInPartition(ctx context.Context, st *store.Store, pk string, start time.Time, period time.Duration) ([]Arrived, int, error) {
	from, to := start.Format(TimeFormat), start.Add(period).Format(TimeFormat)
	key := expression.Key("PK").Equal(expression.Value(pk)).
		And(expression.Key("SK").Between(expression.Value(from), expression.Value(to)))
	expr, err := expression.NewBuilder().WithKeyCondition(key).
		WithFilter(expression.AttributeNotExists(expression.Name("GSI1PK"))).Build()
	if err != nil {
		return nil, 0, err
	}
	in := dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ConsistentRead: new(bool),
	}
	*in.ConsistentRead = true
	var out []Arrived
	calls := 0
	for {
		r, err := st.QueryOnce(ctx, in)
		calls++
		if err != nil {
			return nil, calls, err
		}
		for _, it := range r.Items {
			// BETWEEN includes an entry at exactly the next period's start.
			if sk := it["SK"].(*types.AttributeValueMemberS).Value; sk < to {
				out = append(out, it)
			}
		}
		if in.ExclusiveStartKey = r.Next; r.Next == nil {
			break
		}
	}
	late, n, err := lateArrivals(ctx, st, lateKeyOf(pk), from, to)
	if err != nil {
		return nil, calls + n, err
	}
	return append(out, late...), calls + n, nil
}

func compareSK(a, b store.Item) int {
	x, y := a["SK"].(*types.AttributeValueMemberS).Value, b["SK"].(*types.AttributeValueMemberS).Value
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// lateArrivals reads the late entries of the late index partition index (GSI1)
// that arrived in [from, to), with the number of calls it made.
func lateArrivals(ctx context.Context, st *store.Store, index, from, to string) ([]Arrived, int, error) {
	key := expression.Key("GSI1PK").Equal(expression.Value(index)).
		And(expression.Key("GSI1SK").Between(expression.Value(from), expression.Value(to)))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, 0, err
	}
	in := dynamodb.QueryInput{
		IndexName: new(string), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	*in.IndexName = "GSI1"
	var keys []store.Item
	calls := 0
	for {
		r, err := st.QueryOnce(ctx, in)
		calls++
		if err != nil {
			return nil, calls, err
		}
		for _, it := range r.Items {
			if it["GSI1SK"].(*types.AttributeValueMemberS).Value < to {
				keys = append(keys, store.Item{"PK": it["PK"], "SK": it["SK"]})
			}
		}
		if in.ExclusiveStartKey = r.Next; r.Next == nil {
			break
		}
	}
	var out []Arrived
	for len(keys) > 0 {
		n := min(len(keys), store.MaxBatchGet)
		got, err := st.BatchGet(ctx, keys[:n])
		calls++
		if err != nil {
			return nil, calls, err
		}
		out = append(out, got...)
		keys = keys[n:]
	}
	return out, calls, nil
}

// ArrivalOf is the arrival time of an entry read with ArrivedIn or a list's Query:
// arrivedAt, or its time for an entry written before arrival was recorded.
func ArrivalOf(it store.Item) string {
	if v, ok := it["arrivedAt"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	if v, ok := it["at"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// ActiveNodes lists the nodes that had entries arrive in the period starting at
// start (the writer's markers), sorted, each once.
func ActiveNodes(ctx context.Context, st *store.Store, start time.Time) ([]string, error) {
	key := expression.Key("PK").Equal(expression.Value(queueKey(start)))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, err
	}
	in := dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), ConsistentRead: new(bool),
	}
	*in.ConsistentRead = true
	seen := map[string]bool{}
	for {
		r, err := st.QueryOnce(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range r.Items {
			if ns, ok := it["nodes"].(*types.AttributeValueMemberSS); ok {
				for _, n := range ns.Value {
					seen[n] = true
				}
			}
		}
		if in.ExclusiveStartKey = r.Next; r.Next == nil {
			break
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}
