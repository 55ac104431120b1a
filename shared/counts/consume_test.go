package counts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/consumers"
	"opsconsole/shared/counts"
	"opsconsole/shared/lambdas"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
)

// world is one test case's corner of the table: a parent node and its children,
// written for real, whose stream records the case hands to the consumer.
type world struct {
	t      *testing.T
	e      *env
	parent string
	// writes counts the stream records of the children written so far.
	writes int
}

func (w *world) id(child string) string { return w.parent + "-" + child }

// step is one thing a case does: a write to the table or a delivery of records.
type step func(w *world)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }

// putNode writes a node item as the API does: version 1.
func putNode(t *testing.T, st *store.Store, id, kind, parent, status string) {
	t.Helper()
	item := store.Item{
		"PK": s("NODE#" + id), "SK": s("NODE"), "type": s("node"), "id": s(id), "kind": s(kind),
		"name": s("Node " + id), "status": s(status), "version": n(1),
	}
	if parent != "" {
		item["parentId"] = s(parent)
	}
	if _, err := st.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &st.Table, Item: item}); err != nil {
		t.Fatal(err)
	}
}

// insert creates child under the case's parent, a partner in status.
func insert(child, status string) step {
	return func(w *world) {
		putNode(w.t, w.e.st, w.id(child), "partner", w.parent, status)
		w.writes++
	}
}

// update changes child's attribute and bumps its version, as every API change does.
func update(child, attr, value string) step {
	return func(w *world) {
		_, err := w.e.db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
			TableName: &w.e.st.Table, Key: store.Key("NODE#"+w.id(child), "NODE"),
			UpdateExpression:          aws.String("SET #a = :a ADD #v :one"),
			ConditionExpression:       aws.String("attribute_exists(PK)"),
			ExpressionAttributeNames:  map[string]string{"#a": attr, "#v": "version"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":a": s(value), ":one": n(1)},
		})
		if err != nil {
			w.t.Fatal(err)
		}
		w.writes++
	}
}

func setStatus(child, status string) step { return update(child, "status", status) }
func rename(child string) step            { return update(child, "name", "Renamed "+child) }

// remove deletes child.
func remove(child string) step {
	return func(w *world) {
		if _, err := w.e.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
			TableName: &w.e.st.Table, Key: store.Key("NODE#"+w.id(child), "NODE"),
		}); err != nil {
			w.t.Fatal(err)
		}
		w.writes++
	}
}

// removeParent deletes the parent the way its delete transaction must: the node
// item and its counts item together.
func removeParent() step {
	return func(w *world) {
		err := w.e.st.Transact(context.Background(),
			store.Delete(nodes.Key(w.parent), nil), store.Delete(counts.Key(w.parent), nil))
		if err != nil {
			w.t.Fatal(err)
		}
	}
}

// batch is the event of the children's records at the given positions (in write
// order), as the mapping delivered them.
func (w *world) batch(positions []int) events.DynamoDBEvent {
	w.t.Helper()
	// Wait for every record written so far, so that a case's records are all read
	// before any of them is delivered.
	need := w.writes
	for _, p := range positions {
		need = max(need, p+1)
	}
	recs := w.e.captured.records(w.t, w.parent, need)
	var ev events.DynamoDBEvent
	for _, p := range positions {
		ev.Records = append(ev.Records, recs[p])
	}
	return ev
}

// deliver hands the records at the given positions to the consumer as one batch,
// which must succeed.
func deliver(positions ...int) step {
	return deliverWith(nil, positions...)
}

// deliverWith delivers through a consumer whose DynamoDB client wrap wraps.
func deliverWith(wrap func(store.Client) store.Client, positions ...int) step {
	return func(w *world) {
		w.t.Helper()
		st := w.e.st
		if wrap != nil {
			st = &store.Store{DB: wrap(st.DB), Table: st.Table}
		}
		res, err := (&counts.Consumer{Store: st}).Handle(context.Background(), w.batch(positions))
		if err != nil || len(res.BatchItemFailures) > 0 {
			w.t.Fatalf("batch %v: %v, failures %+v", positions, err, res.BatchItemFailures)
		}
	}
}

// deliverConcurrently hands the same batch to n invocations at once, as overlapping
// retries of a timed-out invocation can.
func deliverConcurrently(n int, positions ...int) step {
	return func(w *world) {
		ev := w.batch(positions)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := (&counts.Consumer{Store: w.e.st}).Handle(context.Background(), ev)
				if err == nil && len(res.BatchItemFailures) > 0 {
					err = fmt.Errorf("failures %+v", res.BatchItemFailures)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			w.t.Fatal(err)
		}
	}
}

// deliverFailingAt delivers through a client whose TransactWriteItems fails once, at
// the transaction of the batch's record failAt: the answer must name that record
// alone, the checkpoint Lambda retries from.
func deliverFailingAt(failAt int, positions ...int) step {
	return func(w *world) {
		w.t.Helper()
		ev := w.batch(positions)
		c := &flaky{Client: w.e.st.DB, failOn: int32(failAt) + 1, err: errors.New("connection reset by peer")}
		res, err := (&counts.Consumer{Store: &store.Store{DB: c, Table: w.e.st.Table}}).Handle(context.Background(), ev)
		if err != nil {
			w.t.Fatal(err)
		}
		want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[failAt].Change.SequenceNumber}}
		if !reflect.DeepEqual(res.BatchItemFailures, want) {
			w.t.Fatalf("failures %+v, want the record at %d: %+v", res.BatchItemFailures, failAt, want)
		}
	}
}

// flaky fails chosen TransactWriteItems calls and passes everything else to the
// real client.
type flaky struct {
	store.Client
	calls atomic.Int32
	// failOn fails the failOn-th call (from 1) with err; conflicts fails the first
	// conflicts calls with a TransactionConflict cancellation.
	failOn    int32
	err       error
	conflicts int32
}

func (f *flaky) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	n := f.calls.Add(1)
	if n == f.failOn {
		return nil, f.err
	}
	if n <= f.conflicts {
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[len(reasons)-1].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]"), CancellationReasons: reasons}
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

// conflicting makes the first n transactions lose a conflict with another writer.
func conflicting(n int32) func(store.Client) store.Client {
	return func(c store.Client) store.Client { return &flaky{Client: c, conflicts: n} }
}

// countsItem says whether the parent's counts item must exist afterwards.
type countsItem int

const (
	anyItem countsItem = iota
	noItem
	anItem
)

func TestConsumerCountsChildrenExactly(t *testing.T) {
	e := needLocal(t)
	tests := []struct {
		name  string
		steps []step
		want  counts.Counts
		item  countsItem
		// markers are the children's markers afterwards: version, status, and whether
		// they expire.
		markers map[string]markerWant
	}{
		{
			name:    "inserts count each child under its kind and status",
			steps:   []step{insert("a", "active"), insert("b", "active"), insert("c", "suspended"), deliver(0, 1, 2)},
			want:    counts.Counts{"partner": {"active": 2, "suspended": 1}},
			markers: map[string]markerWant{"a": {1, "active", false}, "c": {1, "suspended", false}},
		},
		{
			name:  "a status change moves the child from one status to the other",
			steps: []step{insert("a", "active"), insert("b", "active"), deliver(0, 1), setStatus("a", "suspended"), deliver(2)},
			want:  counts.Counts{"partner": {"active": 1, "suspended": 1}},
		},
		{
			name:    "a change that keeps the status changes no count",
			steps:   []step{insert("a", "active"), rename("a"), deliver(0, 1)},
			want:    counts.Counts{"partner": {"active": 1}},
			markers: map[string]markerWant{"a": {1, "active", false}},
		},
		{
			name:    "a remove takes the child off, leaving a zero that Get omits",
			steps:   []step{insert("a", "active"), deliver(0), remove("a"), deliver(1)},
			want:    counts.Counts{},
			item:    anItem,
			markers: map[string]markerWant{"a": {2, "", true}},
		},
		{
			name:  "the same batch delivered twice counts once",
			steps: []step{insert("a", "active"), insert("b", "active"), setStatus("a", "suspended"), deliver(0, 1, 2), deliver(0, 1, 2)},
			want:  counts.Counts{"partner": {"active": 1, "suspended": 1}},
		},
		{
			name:    "an INSERT replayed after the REMOVE does not bring the child back",
			steps:   []step{insert("a", "active"), remove("a"), deliver(0, 1), deliver(0)},
			want:    counts.Counts{},
			markers: map[string]markerWant{"a": {2, "", true}},
		},
		{
			name:    "a REMOVE delivered before its INSERT leaves nothing counted",
			steps:   []step{insert("a", "active"), remove("a"), deliver(1), deliver(0)},
			want:    counts.Counts{},
			markers: map[string]markerWant{"a": {2, "", true}},
		},
		{
			// The second half of a bisected batch got through before the first half's
			// retry (or an overrun invocation wrote after its retry): the older records
			// arrive last and change nothing, though the status they end at is not
			// the newest.
			name: "records out of order across a batch retry end at the newest status",
			steps: []step{
				insert("a", "active"), setStatus("a", "suspended"), setStatus("a", "active"), insert("b", "suspended"),
				deliver(2, 3), deliver(0, 1),
			},
			want:    counts.Counts{"partner": {"active": 1, "suspended": 1}},
			markers: map[string]markerWant{"a": {3, "active", false}, "b": {1, "suspended", false}},
		},
		{
			name:  "a failed record is reported, and the batch retried from it counts once",
			steps: []step{insert("a", "active"), insert("b", "active"), insert("c", "active"), deliverFailingAt(1, 0, 1, 2), deliver(1, 2)},
			want:  counts.Counts{"partner": {"active": 3}},
		},
		{
			name:  "a transaction conflict is retried until the child is counted",
			steps: []step{insert("a", "active"), insert("b", "suspended"), deliverWith(conflicting(3), 0, 1)},
			want:  counts.Counts{"partner": {"active": 1, "suspended": 1}},
		},
		{
			name: "concurrent invocations of one batch count each child once",
			steps: []step{
				insert("a", "active"), insert("b", "active"), insert("c", "active"), setStatus("b", "suspended"), remove("c"),
				deliverConcurrently(8, 0, 1, 2, 3, 4),
			},
			want: counts.Counts{"partner": {"active": 1, "suspended": 1}},
		},
		{
			name:  "a child of a deleted parent is not counted and no counts item appears",
			steps: []step{insert("a", "active"), removeParent(), deliver(0)},
			want:  counts.Counts{},
			item:  noItem,
		},
		{
			// The cascade case: the child's REMOVE comes after its parent's delete took
			// the counts item. The REMOVE is still recorded on the marker (the
			// ancestors still there count it off their totals), which expires.
			name:    "a counted child's remove after its parent's delete does not bring the counts item back",
			steps:   []step{insert("a", "active"), deliver(0), removeParent(), remove("a"), deliver(1)},
			want:    counts.Counts{},
			item:    noItem,
			markers: map[string]markerWant{"a": {2, "", true}},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A distributor's id of the real form, so that its totals are sharded.
			w := &world{t: t, e: e, parent: fmt.Sprintf("dst_%02d%024d", i, time.Now().UnixNano())}
			putNode(t, e.st, w.parent, "distributor", "platform", "active")
			for _, step := range tc.steps {
				step(w)
			}
			got, err := counts.Get(context.Background(), e.st, w.parent)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("counts = %v, want %v", got, tc.want)
			}
			if got.Total() != tc.want.Total() {
				t.Errorf("Total = %d, want %d", got.Total(), tc.want.Total())
			}
			// The distributor's subtree totals, split in shards, say the same as its
			// children's counts whatever order and repetition the records came in
			// (unless the case deleted it: its totals then wait for the node sweeper,
			// which these cases do not run).
			totals, asOf := subtreeTotals(t, e.st, w.parent)
			if tc.item == noItem {
				totals = counts.Totals{}
			}
			wantTotals := counts.Totals{}
			for kind, byStatus := range tc.want {
				for status, n := range byStatus {
					wantTotals[counts.NodeFacet(kind, status)] = n
				}
			}
			if !reflect.DeepEqual(totals, wantTotals) {
				t.Errorf("subtree totals = %v, want %v", totals, wantTotals)
			}
			if tc.want.Total() > 0 && (asOf == "" || asOf > nodes.Stamp(time.Now())) {
				t.Errorf("the totals' asOf is %q, want the stream time of a counted change", asOf)
			}
			if tc.item != anyItem {
				exists := rawItem(t, e.st, counts.Key(w.parent)) != nil
				if exists != (tc.item == anItem) {
					t.Errorf("counts item exists = %v, want %v", exists, tc.item == anItem)
				}
			}
			for child, want := range tc.markers {
				checkMarker(t, e.st, w.id(child), want)
			}
		})
	}
}

// subtreeTotals reads and sums every item of node's totals, as the dashboard does.
func subtreeTotals(t *testing.T, st *store.Store, node string) (counts.Totals, string) {
	t.Helper()
	items, err := st.BatchGet(context.Background(), counts.TotalsKeys(node))
	if err != nil {
		t.Fatal(err)
	}
	var raws []map[string]any
	for _, it := range items {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, m)
	}
	return counts.SumTotals(raws)
}

type markerWant struct {
	v       int
	status  string
	expires bool
}

func rawItem(t *testing.T, st *store.Store, key store.Item) store.Item {
	t.Helper()
	out, err := st.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &st.Table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func checkMarker(t *testing.T, st *store.Store, id string, want markerWant) {
	t.Helper()
	var m struct {
		Type      string `dynamodbav:"type"`
		V         int    `dynamodbav:"v"`
		Status    string `dynamodbav:"status"`
		ParentID  string `dynamodbav:"parentId"`
		Kind      string `dynamodbav:"kind"`
		ExpiresAt int64  `dynamodbav:"expiresAt"`
	}
	if err := st.Get(context.Background(), store.Key("NODE#"+id, "COUNTED"), &m); err != nil {
		t.Fatalf("marker of %s: %v", id, err)
	}
	if m.V != want.v || m.Status != want.status || m.Type != "counted" || m.Kind != "partner" || m.ParentID == "" {
		t.Errorf("marker of %s = %+v, want v %d status %q", id, m, want.v, want.status)
	}
	if !want.expires {
		if m.ExpiresAt != 0 {
			t.Errorf("marker of %s expires at %d, want no expiry", id, m.ExpiresAt)
		}
		return
	}
	in := time.Until(time.Unix(m.ExpiresAt, 0))
	if in < 47*time.Hour || in > 49*time.Hour {
		t.Errorf("marker of %s expires in %s, want about 48 h", id, in)
	}
}

// TestTreeCounterWithTheSampleEvent invokes the tree-counter function's real handler,
// as lambdas.Build makes it from the environment, with events/stream-node-insert.json
// as its queue carries it, twice: the partner is counted once under its distributor.
func TestTreeCounterWithTheSampleEvent(t *testing.T) {
	e := needLocal(t)
	raw, err := os.ReadFile("../../events/stream-node-insert.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	const parent = "dst_01kar4sample0000000000000"
	putNode(t, e.st, parent, "distributor", "platform", "active")
	fn, err := lambdas.Build(context.Background(), "tree-counter")
	if err != nil {
		t.Fatal(err)
	}
	// As its queue delivers the record behind the stream router.
	counter, _ := consumers.Named("tree-counter")
	qev, err := counter.QueueEvent(ev)
	if err != nil || len(qev.Records) != 1 {
		t.Fatalf("queue event %+v: %v", qev, err)
	}
	for i := range 2 {
		res, err := fn.SQS(context.Background(), qev)
		if err != nil || len(res.BatchItemFailures) != 0 {
			t.Fatalf("invocation %d: %v %+v", i+1, err, res)
		}
	}
	got, err := counts.Get(context.Background(), e.st, parent)
	if err != nil {
		t.Fatal(err)
	}
	if want := (counts.Counts{"partner": {"active": 1}}); !reflect.DeepEqual(got, want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
}

func TestGetOfANodeWithoutCounts(t *testing.T) {
	e := needLocal(t)
	got, err := counts.Get(context.Background(), e.st, "dst_never_counted")
	if err != nil || got == nil || len(got) != 0 || got.Total() != 0 {
		t.Errorf("Get = %v, %v; want empty counts and no error", got, err)
	}
}
