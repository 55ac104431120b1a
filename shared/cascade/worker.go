package cascade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/counts"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Defaults of the Worker's knobs.
const (
	// DefaultConcurrency bounds the DynamoDB calls one run has in flight.
	DefaultConcurrency = 16
	// MaxTransactItems is TransactWriteItems' limit. A batch of siblings takes four
	// items per node (node, unique name, counts, audit record; three for a leaf kind,
	// which never has a counts item) and one for the parent's counter: 24 nodes, or
	// 33 leaves, per transaction.
	MaxTransactItems = 100
	// SafetyMargin is kept free before the Lambda deadline, to record the progress.
	SafetyMargin = 30 * time.Second
	// MaxIdleRuns is how many consecutive runs may remove nothing before the job is
	// stalled.
	MaxIdleRuns = 3
	// pageSize is the children read by one Query.
	pageSize = 100
	// maxIdlePasses is how many walks of what is left may remove nothing (the index
	// still lists removed children, or does not list new ones yet) before a run ends.
	maxIdlePasses = 8
	// maxTries bounds the attempts at one node whose delete keeps failing on a
	// version that, read again, is the same.
	maxTries = 3
)

// Worker is the tree-deleter function: it runs the job whose item's stream record
// it is given (see the package comment).
type Worker struct {
	Store *store.Store
	// Budget is how long one run works before it records its progress and lets the
	// next run continue; never past the Lambda deadline less SafetyMargin. 0 means
	// until that deadline. A run always removes something before the budget stops
	// it, so even a tiny budget makes progress.
	Budget time.Duration
	// Concurrency bounds the DynamoDB calls in flight (DefaultConcurrency when 0).
	// Separate branches of the subtree are emptied concurrently; the siblings of one
	// parent are deleted one transaction after the other, since each one updates
	// the parent's children counter.
	Concurrency int
	// Batch caps the number of siblings deleted per transaction; 0 means as many as
	// fit in MaxTransactItems.
	Batch int
	// Fields are a node's fields as the audit log shows them (DefaultFields when nil).
	Fields func(nodes.Item) map[string]any
	// Pause is the first wait before walking again what is left when a walk removed
	// nothing (100 ms when 0); it doubles up to 20 times itself.
	Pause time.Duration
}

// Progress is what one run did.
type Progress struct {
	// Done is true when the root is gone (and the job item with it).
	Done bool
	// Removed is the nodes this run removed; Total those of every recorded run.
	Removed, Total int
	// Stalled is true when the job has stopped for want of progress.
	Stalled bool
	// Calls are the run's DynamoDB round trips; Took its duration.
	Calls int
	Took  time.Duration
}

var (
	// errOutOfTime ends a run whose budget is spent.
	errOutOfTime = errors.New("the run's time budget is spent")
	// errNoProgress ends a run whose walks keep removing nothing.
	errNoProgress = errors.New("the run removes nothing")
)

// Handle is the stream handler: each INSERT or MODIFY record of a job item runs the
// job. A run that fails is reported as the batch's item failure, so the stream gives
// that record again (and the run starts over from what is left); the records after
// it are not run now, since they come again after it.
func (w *Worker) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		rootID, ok := jobRoot(rec)
		if !ok {
			continue
		}
		if _, err := w.Run(ctx, rootID); err != nil {
			api.Log(ctx).ErrorContext(ctx, "cascade run failed; the stream retries its record",
				"rootId", rootID, "sequenceNumber", rec.Change.SequenceNumber, "error", err.Error())
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			return resp, nil
		}
	}
	return resp, nil
}

// jobRoot reads the root id of an INSERT or MODIFY record of a job item.
func jobRoot(rec events.DynamoDBEventRecord) (string, bool) {
	switch events.DynamoDBOperationType(rec.EventName) {
	case events.DynamoDBOperationTypeInsert, events.DynamoDBOperationTypeModify:
	default:
		return "", false
	}
	pk, ok1 := rec.Change.Keys["PK"]
	sk, ok2 := rec.Change.Keys["SK"]
	if !ok1 || !ok2 || pk.DataType() != events.DataTypeString || sk.DataType() != events.DataTypeString ||
		sk.String() != jobSK || !strings.HasPrefix(pk.String(), jobPrefix) {
		return "", false
	}
	id := strings.TrimPrefix(pk.String(), jobPrefix)
	return id, id != ""
}

// Run works on the job deleting rootID's subtree until the root is gone or the
// budget is spent; then it deletes the job item, or records its progress on it (which
// starts the next run). An error means nothing was recorded: run it again.
func (w *Worker) Run(ctx context.Context, rootID string) (p Progress, err error) {
	ctx, meter := store.WithMeter(ctx)
	start := time.Now()
	job, err := GetJob(ctx, w.Store, rootID)
	if errors.Is(err, store.ErrNotFound) {
		return Progress{Done: true}, nil // finished already: a record delivered again
	}
	if err != nil {
		return Progress{}, err
	}
	if job.Stalled != "" {
		api.Log(ctx).WarnContext(ctx, "cascade stalled; remove the job's stalled attribute to resume it",
			"rootId", rootID, "jobId", job.ID, "stalled", job.Stalled)
		return Progress{Total: job.Deleted, Stalled: true}, nil
	}
	r, err := w.newRun(ctx, job, start)
	if err != nil {
		return Progress{}, err
	}
	defer func() {
		p.Calls, p.Took = meter.RoundTrips(), time.Since(start)
		read, write := meter.Units()
		api.Log(ctx).InfoContext(ctx, "cascade run", "rootId", rootID, "jobId", job.ID, "removed", p.Removed,
			"total", p.Total, "done", p.Done, "stalled", p.Stalled, "latencyMs", p.Took.Milliseconds(),
			"dynamodbCalls", p.Calls, "readUnits", read, "writeUnits", write, "error", errText(err))
	}()
	p.Done, err = r.finish(ctx)
	p.Removed = int(r.deleted.Load())
	p.Total = job.Deleted + p.Removed
	switch {
	case p.Done:
		return p, w.Store.DeleteIf(ctx, JobKey(rootID), nil)
	case err != nil && !errors.Is(err, errOutOfTime) && !errors.Is(err, errNoProgress):
		return p, err
	}
	// A run counts as idle when its walks removed nothing (not when it ran out of
	// time before finishing one).
	idle := job.IdleRuns
	switch {
	case p.Removed > 0:
		idle = 0
	case errors.Is(err, errNoProgress):
		idle++
	}
	p.Stalled = idle >= MaxIdleRuns
	err = w.Store.Transact(ctx, progressUpdate(rootID, p.Removed, idle, p.Stalled).FailsWith(errJobGone))
	if errors.Is(err, errJobGone) {
		// Another run finished the job meanwhile.
		p.Done, p.Stalled, err = true, false, nil
	}
	if p.Stalled {
		api.Log(ctx).ErrorContext(ctx, "cascade stalled: its runs remove nothing; remove the job's stalled attribute to resume it",
			"rootId", rootID, "jobId", job.ID)
	}
	return p, err
}

var errJobGone = errors.New("the job item is gone")

// progressUpdate records a run's progress on the job item. Its stream record starts
// the next run (unless stalled is set, which the next run reads and stops at).
func progressUpdate(rootID string, removed, idle int, stalled bool) store.Write {
	names := map[string]string{"#pk": "PK", "#hb": "heartbeat", "#idle": "idleRuns", "#del": "deleted", "#runs": "runs"}
	values := map[string]any{":hb": nodes.Stamp(time.Now()), ":idle": idle, ":n": removed, ":one": 1}
	set := "SET #hb = :hb, #idle = :idle"
	if stalled {
		names["#st"] = "stalled"
		set += ", #st = :hb"
	}
	return store.Edit(JobKey(rootID), store.Expr{
		Update:    set + " ADD #del :n, #runs :one",
		Condition: "attribute_exists(#pk)",
		Names:     names, Values: values,
	})
}

// run is one run of a job.
type run struct {
	w       *Worker
	job     Job
	meta    api.Meta
	mark    types.AttributeValue
	fields  func(nodes.Item) map[string]any
	pause   time.Duration
	sem     chan struct{}
	deleted atomic.Int64
	// soft is the end of the budget (it stops a run that has removed something),
	// hard the end of the time the Lambda deadline leaves; zero when unbounded.
	soft, hard time.Time
}

func (w *Worker) newRun(ctx context.Context, job Job, start time.Time) (*run, error) {
	mark, err := attributevalue.Marshal(Deletion{JobID: job.ID, StartedAt: job.StartedAt})
	if err != nil {
		return nil, err
	}
	r := &run{w: w, job: job, meta: job.Meta(), mark: mark, fields: w.Fields, pause: w.Pause}
	if r.fields == nil {
		r.fields = DefaultFields
	}
	if r.pause <= 0 {
		r.pause = 100 * time.Millisecond
	}
	n := w.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	r.sem = make(chan struct{}, n)
	if w.Budget > 0 {
		r.soft = start.Add(w.Budget)
	}
	if dl, ok := ctx.Deadline(); ok {
		margin := SafetyMargin
		if left := dl.Sub(start); left < 2*margin {
			margin = left / 2
		}
		r.hard = dl.Add(-margin)
	}
	return r, nil
}

func (r *run) outOfTime() bool {
	now := time.Now()
	if !r.hard.IsZero() && now.After(r.hard) {
		return true
	}
	return !r.soft.IsZero() && now.After(r.soft) && r.deleted.Load() > 0
}

// call makes one DynamoDB call within the run's concurrency bound, unless the run is
// out of time.
func (r *run) call(ctx context.Context, f func() error) error {
	if r.outOfTime() {
		return errOutOfTime
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.sem }()
	if r.outOfTime() { // the wait for a slot may have been long
		return errOutOfTime
	}
	return f()
}

// finish walks what is left of the subtree from the root, emptying it leaves first,
// then deletes the root, until the root is gone. A walk that removes nothing (the
// index lags behind the table) is followed by a growing pause.
func (r *run) finish(ctx context.Context) (bool, error) {
	for idle := 0; ; {
		before := r.deleted.Load()
		root, found, err := r.read(ctx, r.job.RootID)
		if err != nil || !found {
			return !found && err == nil, err
		}
		if len(root.Path) == 0 {
			return false, fmt.Errorf("cascade: the root %s has no parent", root.ID)
		}
		if !root.marked {
			// A job written without Begin (or by an older version): mark the root now.
			if gone, err := r.markNode(ctx, root.Item); gone || err != nil {
				return gone, err
			}
		}
		if err := r.clear(ctx, root.Item); err != nil {
			return false, err
		}
		n, err := r.removeAll(ctx, root.Path[len(root.Path)-1], []nodes.Item{root.Item})
		if err != nil {
			return false, err
		}
		if n == 1 {
			return true, nil
		}
		if r.deleted.Load() > before {
			idle = 0
			continue
		}
		if idle++; idle >= maxIdlePasses {
			return false, errNoProgress
		}
		if r.outOfTime() {
			return false, errOutOfTime
		}
		if err := store.Pause(ctx, min(r.pause<<idle, 20*r.pause)); err != nil {
			return false, err
		}
	}
}

// listed is a node as read, with whether it carries the deleting mark.
type listed struct {
	nodes.Item
	marked bool
}

func decode(raw store.Item) (listed, error) {
	var l listed
	if err := attributevalue.UnmarshalMap(raw, &l.Item); err != nil {
		return l, fmt.Errorf("node item: %w", err)
	}
	_, l.marked = raw[DeletingAttr]
	return l, nil
}

// read reads node id, strongly consistent.
func (r *run) read(ctx context.Context, id string) (listed, bool, error) {
	var raw store.Item
	err := r.call(ctx, func() error {
		res, err := r.w.Store.DB.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: &r.w.Store.Table, Key: nodes.Key(id), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return fmt.Errorf("get node %s: %w", id, err)
		}
		raw = res.Item
		return nil
	})
	if err != nil || raw == nil {
		return listed{}, false, err
	}
	l, err := decode(raw)
	return l, err == nil, err
}

var errGone = errors.New("the node is gone")

// markNode sets the deleting mark on node it, if it still exists, and on its status
// replicas if it has any (a distributor, root of a job written without Begin); gone
// tells it did not exist.
func (r *run) markNode(ctx context.Context, it nodes.Item) (gone bool, err error) {
	upd, err := store.Update(nodes.Key(it.ID), store.Item{DeletingAttr: r.mark}, nil,
		expression.AttributeExists(expression.Name("PK")))
	if err != nil {
		return false, err
	}
	writes := append([]store.Write{upd.FailsWith(errGone)}, nodes.StatusWrites(it, r.mark)...)
	err = r.call(ctx, func() error {
		return r.w.Store.Transact(ctx, writes...)
	})
	if errors.Is(err, errGone) {
		return true, nil
	}
	return false, err
}

// clear removes n's descendants, one page of children at a time: it empties the
// subtrees of the page's children that have children (concurrently: the subtrees
// are disjoint), then deletes the page's children. Children that cannot be deleted
// yet are left to the next walk.
func (r *run) clear(ctx context.Context, n nodes.Item) error {
	kind := tree.ChildKind(n.Kind)
	if kind == "" {
		return nil
	}
	var start store.Item
	for {
		var page store.Page
		err := r.call(ctx, func() error {
			var err error
			page, err = r.w.Store.QueryPage(ctx, dynamodb.QueryInput{
				IndexName:                 aws.String("GSI1"),
				KeyConditionExpression:    aws.String("#pk = :pk"),
				ExpressionAttributeNames:  map[string]string{"#pk": "GSI1PK"},
				ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: nodes.ChildrenKey(n.ID, kind)}},
				ExclusiveStartKey:         start,
			}, pageSize, []string{"PK", "SK", "GSI1PK", "GSI1SK"})
			return err
		})
		if err != nil {
			return err
		}
		children := make([]nodes.Item, 0, len(page.Items))
		errs := make([]error, len(page.Items))
		var wg sync.WaitGroup
		for i, raw := range page.Items {
			c, err := decode(raw)
			if err != nil {
				return err
			}
			children = append(children, c.Item)
			if c.Children == 0 || leaf(c.Kind) {
				continue
			}
			wg.Go(func() { errs[i] = r.descend(ctx, c) })
		}
		wg.Wait()
		if err := firstError(errs); err != nil {
			return err
		}
		if _, err := r.removeAll(ctx, n.ID, children); err != nil {
			return err
		}
		if page.Next == nil {
			return nil
		}
		start = page.Next
	}
}

// descend marks child c (so that nothing is created under it any more) and empties
// its subtree.
func (r *run) descend(ctx context.Context, c listed) error {
	if !c.marked {
		gone, err := r.markNode(ctx, c.Item)
		if gone || err != nil {
			return err
		}
	}
	return r.clear(ctx, c.Item)
}

// firstError prefers a real error to errOutOfTime.
func firstError(errs []error) error {
	var out error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, errOutOfTime):
			if out == nil {
				out = err
			}
		default:
			return err
		}
	}
	return out
}

// removeAll deletes items, siblings under parentID, Batch at a time, one transaction
// after the other (each updates the parent's children counter). It returns how many
// it deleted; those it could not (gone, children left, changing) are skipped.
func (r *run) removeAll(ctx context.Context, parentID string, items []nodes.Item) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	batch := (MaxTransactItems - 1) / itemsPerNode(items[0].Kind)
	if r.w.Batch > 0 {
		batch = min(batch, r.w.Batch)
	}
	removed := 0
	for start := 0; start < len(items); start += batch {
		n, err := r.remove(ctx, parentID, items[start:min(start+batch, len(items))])
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// leaf reports whether nodes of kind never have children, hence never a counts item.
func leaf(kind tree.Kind) bool { return tree.ChildKind(kind) == "" }

// itemsPerNode is the transaction items the delete of a node of kind takes: the node,
// its name, its audit record, its counts item (but for leaves), its status replicas
// (distributors).
func itemsPerNode(kind tree.Kind) int {
	n := 4
	if leaf(kind) {
		n = 3
	}
	if nodes.HasStatusReplicas(kind) {
		n += nodes.StatusReplicas
	}
	return n
}

// victim is a node of a batch being deleted.
type victim struct {
	it nodes.Item
	// nameless is set once the node's unique-name item turned out not to be its own
	// (missing): there is nothing to release.
	nameless bool
	tries    int
}

// part names a batch transaction's item whose condition failed.
type part int

const (
	partNode part = iota
	partName
	partParent
)

// failure is the error a batch transaction's failed condition means: which node
// (index in the batch) and which of its items.
type failure struct {
	index int
	part  part
}

func (f *failure) Error() string {
	return fmt.Sprintf("condition %d of node %d failed", f.part, f.index)
}

// remove deletes a batch of siblings in one transaction, each with the writes of a
// single delete; the parent's counter drops by the batch's size in one update. A
// node whose condition fails is read again: gone or with children, it is left out;
// at a newer version, it is retried as it now is.
func (r *run) remove(ctx context.Context, parentID string, items []nodes.Item) (int, error) {
	pending := make([]*victim, len(items))
	for i, it := range items {
		pending[i] = &victim{it: it}
	}
	for len(pending) > 0 {
		writes, err := r.writes(parentID, pending)
		if err != nil {
			return 0, err
		}
		err = r.call(ctx, func() error { return r.w.Store.Transact(ctx, writes...) })
		if err == nil {
			r.deleted.Add(int64(len(pending)))
			return len(pending), nil
		}
		var f *failure
		if !errors.As(err, &f) {
			return 0, err
		}
		switch f.part {
		case partParent:
			return 0, fmt.Errorf("the parent %s of a batch of %d is gone", parentID, len(pending))
		case partName:
			pending[f.index].nameless = true
		case partNode:
			v := pending[f.index]
			now, found, err := r.read(ctx, v.it.ID)
			if err != nil {
				return 0, err
			}
			v.tries++
			if !found || now.Children > 0 || v.tries >= maxTries {
				pending = append(pending[:f.index], pending[f.index+1:]...)
				continue
			}
			v.it = now.Item
		}
	}
	return 0, nil
}

// writes are a batch's transaction: the nodes' deletes first (so a node's failure is
// the one reported when there are several), then their names, counts items (but for
// leaves, which have none), status replicas (distributors) and audit records, then
// the parent's counter.
func (r *run) writes(parentID string, batch []*victim) ([]store.Write, error) {
	out := make([]store.Write, 0, 4*len(batch)+1)
	for i, v := range batch {
		del, err := deleteNode(v.it)
		if err != nil {
			return nil, err
		}
		out = append(out, del.FailsWith(&failure{index: i, part: partNode}))
	}
	for i, v := range batch {
		if !v.nameless {
			out = append(out, nodes.ReleaseName(v.it, &failure{index: i, part: partName}))
		}
		if !leaf(v.it.Kind) {
			out = append(out, store.Delete(counts.Key(v.it.ID), nil))
		}
		out = append(out, nodes.StatusDeletes(v.it)...)
		rec, err := audit.RecordBy(r.job.Actor, r.meta, audit.Change{
			Action:  string(v.it.Kind) + ".deleted",
			Target:  audit.Target{Type: string(v.it.Kind), ID: v.it.ID, Name: v.it.Name},
			Scope:   audit.NodeScope(v.it.Node()),
			Before:  r.fields(v.it),
			Version: v.it.Version,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	sub, err := store.Add(nodes.Key(parentID), "children", -len(batch))
	if err != nil {
		return nil, err
	}
	return append(out, sub.FailsWith(&failure{index: -1, part: partParent})), nil
}

// deleteNode is the delete of a node at the version read, when it has no children:
// the condition of the single delete.
func deleteNode(it nodes.Item) (store.Write, error) {
	c, err := store.Cond(nodes.Childless(it.Version))
	if err != nil {
		return store.Write{}, err
	}
	return store.Delete(nodes.Key(it.ID), c), nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
