package audit

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/api"
	"opsconsole/shared/cursor"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Page is a page of the audit log.
type Page struct {
	Items      []Entry `json:"items"`
	NextCursor *string `json:"nextCursor"`
	// StoppedEarly is set when the page holds fewer than limit entries although the
	// log goes on: the filters matched too few of the entries this request could read
	// within its budget (ReadBudget). NextCursor continues where it stopped.
	StoppedEarly bool `json:"stoppedEarly"`
}

// ReadBudget bounds the entries one request evaluates when a filter is not a key
// condition (action, targetType, actorId): about 1 MB of entries, a few tens of read
// units, well inside the function's timeout. A page that finds fewer than limit
// matches within it says so (Page.StoppedEarly) rather than read on without bound.
const ReadBudget = 1000

// Lister serves GET /v1/audit-logs: the log of a node's subtree (the caller's own by
// default, any node in their branch with nodeId), or the history of one thing
// (targetId), newest first.
type Lister struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
}

// Operation is the route's operation.
func (l *Lister) Operation() api.Operation {
	return api.Operation{
		ID: tree.OpAuditLogsList, Method: http.MethodGet, Path: "/v1/audit-logs", Kind: "audit log",
		Callers: l.Callers, Handle: l.list,
	}
}

// Filters are the query parameters of the list besides limit and cursor.
var Filters = []string{"nodeId", "targetId", "from", "to", "action", "targetType", "actorId"}

// The patterns compile on first use (sync.OnceValue), not at package init: every
// function that records a change links this package, and compiling them there cost each
// one's cold start about 0.6 ms and 5,000 allocations (docs/measurements.md).
var (
	// targetIDPattern admits every id the API hands out (node ids, user subjects,
	// session ids) and nothing that could be mistaken for a key separator.
	targetIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`) })
	// actionPattern is an action (node.created) or a prefix of one ending in a dot.
	actionPattern     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z_.-]{0,99}$`) })
	targetTypePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z_]{0,49}$`) })
	actorIDPattern    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`) })
)

// query is a validated list request.
type query struct {
	nodeID, targetID string
	// from and to bound the sort key (see timeRange).
	from, to string
	// action is exact, or a prefix when actionPrefix.
	action       string
	actionPrefix bool
	targetType   string
	actorID      string
}

// parseQuery validates the filters of a list request.
func parseQuery(filters map[string]string) (query, error) {
	var q query
	var errs []problem.FieldError
	q.from, q.to, errs = timeRange(filters)
	check := func(name string, re *regexp.Regexp, message string) string {
		v, ok := filters[name]
		if ok && !re.MatchString(v) {
			errs = append(errs, problem.Field(name, message))
		}
		return v
	}
	if v, ok := filters["nodeId"]; ok {
		if _, node := nodes.KindOfID(v); !node {
			errs = append(errs, problem.Field("nodeId", "must be the id of a node (platform, dst_…, prt_…, org_…, cmp_… or eu_…)"))
		}
		q.nodeID = v
	}
	q.targetID = check("targetId", targetIDPattern(), "must be an id: 1 to 128 letters, digits and _.:@-")
	q.action = check("action", actionPattern(), "must be an action such as organization.created, or a prefix of one ending in a dot such as organization.")
	q.actionPrefix = strings.HasSuffix(q.action, ".")
	q.targetType = check("targetType", targetTypePattern(), "must be a target type such as organization")
	q.actorID = check("actorId", actorIDPattern(), "must be a user id: 1 to 128 letters, digits and _.:@-")
	if len(errs) > 0 {
		return q, problem.Invalid("the query string is invalid", errs...)
	}
	return q, nil
}

// timeRange validates the from and to filters and turns them into the sort key bounds
// of a time range: from is inclusive, and to covers every entry of its millisecond.
// A range that ends before it starts is refused here: DynamoDB would answer BETWEEN
// with bounds in the wrong order with a validation error, which is the caller's fault,
// not ours.
func timeRange(filters map[string]string) (from, to string, errs []problem.FieldError) {
	var times [2]time.Time
	for i, name := range []string{"from", "to"} {
		v, ok := filters[name]
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
			errs = append(errs, problem.Field(name, "must be an RFC 3339 time between years 0001 and 9999, such as 2026-01-02T15:04:05Z"))
			continue
		}
		times[i] = t.UTC()
		if i == 0 {
			from = times[i].Format(TimeFormat)
		} else {
			to = times[i].Format(TimeFormat) + "~"
		}
	}
	if from != "" && to != "" && times[0].After(times[1]) {
		errs = append(errs, problem.Field("from", "must not be after to"))
		from, to = "", ""
	}
	return from, to, errs
}

// inputs builds the Queries of q over the log of node, one per partition it reads,
// with those partitions: the node's audit partitions (LogPartitions: for the platform and
// distributors, its shards), or with a targetId the target's history partition, where
// only the entries whose scope holds node are the caller's to see. Time is the sort
// key; everything else filters.
func (q query) inputs(node string) (ins []dynamodb.QueryInput, pks []string, filtered bool, err error) {
	pks = LogPartitions(node)
	if q.targetID != "" {
		pks = []string{targetKey(q.targetID)}
	}
	for _, pk := range pks {
		in, f, err := q.input(pk, node)
		if err != nil {
			return nil, nil, false, err
		}
		ins, filtered = append(ins, in), f
	}
	return ins, pks, filtered, nil
}

// input is the Query of q over partition pk of node's log (see inputs).
func (q query) input(pk, node string) (in dynamodb.QueryInput, filtered bool, err error) {
	var conds []expression.ConditionBuilder
	if q.targetID != "" {
		// Entries of one target share its lineage, so this filter drops all or none of
		// a page: it costs no extra reads.
		conds = append(conds, expression.Contains(expression.Name("scope"), node))
	}
	key := expression.Key("PK").Equal(expression.Value(pk))
	switch sk := expression.Key("SK"); {
	case q.from != "" && q.to != "":
		key = key.And(sk.Between(expression.Value(q.from), expression.Value(q.to)))
	case q.from != "":
		key = key.And(sk.GreaterThanEqual(expression.Value(q.from)))
	case q.to != "":
		key = key.And(sk.LessThanEqual(expression.Value(q.to)))
	}
	switch {
	case q.action != "" && q.actionPrefix:
		conds = append(conds, expression.Name("action").BeginsWith(q.action))
		filtered = true
	case q.action != "":
		conds = append(conds, expression.Name("action").Equal(expression.Value(q.action)))
		filtered = true
	}
	if q.targetType != "" {
		conds = append(conds, expression.Name("target.type").Equal(expression.Value(q.targetType)))
		filtered = true
	}
	if q.actorID != "" {
		// The acting user, or the real user behind a login-as session.
		conds = append(conds, expression.Name("actor.userId").Equal(expression.Value(q.actorID)).
			Or(expression.Name("actor.impersonator.userId").Equal(expression.Value(q.actorID))))
		filtered = true
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	if len(conds) == 1 {
		b = b.WithFilter(conds[0])
	} else if len(conds) > 1 {
		b = b.WithFilter(expression.And(conds[0], conds[1], conds[2:]...))
	}
	expr, err := b.Build()
	if err != nil {
		return in, false, err
	}
	return dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: new(bool),
	}, filtered, nil
}

// reader runs one Query from start that evaluates at most n items.
type reader func(ctx context.Context, n int, start store.Item) (store.Read, error)

// shardedReader is a reader over the partitions of a log (one, or a sharded log's
// shards) read as one sequence, newest first. Unfiltered, each shard reads n items
// (limit+1): the page's limit+1 newest are among them whichever shards hold them, so
// the page is one round trip of parallel Queries, at up to shards × a page of read
// units. Filtered, the n items collect asks to evaluate are shared between the shards,
// so that its budget bounds the whole request.
func shardedReader(s *store.Stream, filtered bool) reader {
	return func(ctx context.Context, n int, start store.Item) (store.Read, error) {
		each := n
		if filtered {
			each = (n + s.Shards() - 1) / s.Shards()
		}
		return s.Read(ctx, each, start)
	}
}

// collected is what collect gathered for one page.
type collected struct {
	items        []store.Item
	next         store.Item
	stoppedEarly bool
}

// collect reads a page of limit matching items. Without a non-key filter every item
// read matches, so one Query of limit+1 items makes the page (the extra one tells
// whether a next page exists). With one, it reads on, Query after Query (each reading
// more than the last), until it has limit+1 matches, the range ends, or budget items
// were evaluated; a short page that
// stopped on the budget says so, and its next key is where the reading stopped.
func collect(ctx context.Context, read reader, limit, budget int, filtered bool, start store.Item) (collected, error) {
	var out collected
	left := budget
	for reads := 0; ; reads++ {
		n := limit + 1 - len(out.items)
		if filtered {
			// Read twice what is missing, then eight times, 32 times …: a common
			// match fills the page from a short read, a rare one reaches the budget in
			// a few Queries.
			n = min(left, n<<(1+2*min(reads, 5)))
		}
		r, err := read(ctx, n, start)
		if err != nil {
			return out, err
		}
		out.items = append(out.items, r.Items...)
		left -= r.Scanned
		start = r.Next
		if len(out.items) > limit {
			out.items = out.items[:limit]
			last := out.items[limit-1]
			out.next = store.Item{"PK": last["PK"], "SK": last["SK"]}
			return out, nil
		}
		if start == nil {
			return out, nil
		}
		if !filtered || left <= 0 {
			// Unfiltered, the 1 MB cap alone can stop a Query short; the page is what
			// it read.
			out.next = start
			out.stoppedEarly = filtered && len(out.items) < limit
			return out, nil
		}
	}
}

func (l *Lister) list(w http.ResponseWriter, r *http.Request) error {
	lq, err := api.ParseList(r, Filters...)
	if err != nil {
		return err
	}
	q, err := parseQuery(lq.Filters)
	if err != nil {
		return err
	}
	caller := api.CallerOf(r.Context())
	node := caller.Node.ID
	if q.nodeID != "" && q.nodeID != node {
		it, err := nodes.Get(r.Context(), l.Store, q.nodeID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return problem.NotFound("node")
		case err != nil:
			return err
		}
		// Outside the caller's branch reads exactly like a missing node.
		if !caller.Node.Contains(it.Node()) {
			return problem.NotFound("node")
		}
		node = it.ID
	}
	ins, pks, filtered, err := q.inputs(node)
	if err != nil {
		return err
	}
	binding := lq.Binding(caller.UserID, "GET /v1/audit-logs")
	var start store.Item
	if lq.Cursor != "" {
		if start, err = l.Cursors.Decode(binding, lq.Cursor); err != nil {
			return problem.InvalidCursor()
		}
	}
	read := shardedReader(l.Store.NewStream(ins, pks, "PK", "SK"), filtered)
	if q.targetID != "" && filtered {
		// A filtered history reads on within its budget; first make sure the caller
		// may see the target at all, so that an outsider learns nothing from how far
		// the reading went.
		visible, err := l.visibleTarget(r.Context(), q.targetID, node)
		if err != nil {
			return err
		}
		if !visible {
			return api.WriteJSON(w, http.StatusOK, Page{Items: []Entry{}})
		}
	}
	got, err := collect(r.Context(), read, lq.Limit, ReadBudget, filtered, start)
	if err != nil {
		return err
	}
	if q.targetID != "" && !filtered && len(got.items) == 0 {
		// The entries of a target share its lineage, so when none of the first limit+1
		// is the caller's to see, none is: there is nothing further to page through.
		got.next = nil
	}
	out := Page{Items: make([]Entry, 0, len(got.items)), StoppedEarly: got.stoppedEarly}
	for _, it := range got.items {
		var e entryItem
		if err := attributevalue.UnmarshalMap(it, &e); err != nil {
			return err
		}
		if e.Changes == nil {
			e.Changes = []FieldChange{}
		}
		out.Items = append(out.Items, e.Entry)
	}
	if got.next != nil {
		c, err := l.Cursors.Encode(binding, got.next)
		if err != nil {
			return errors.Join(errors.New("encode cursor"), err)
		}
		out.NextCursor = &c
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// visibleTarget tells whether node's admins may read target's history: whether its
// newest entry lies in node's subtree (entries of one target share its lineage). A
// target with no history is visible: its page is empty either way. One Query of one
// item.
func (l *Lister) visibleTarget(ctx context.Context, target, node string) (bool, error) {
	in, _, err := query{targetID: target}.input(targetKey(target), node)
	if err != nil {
		return false, err
	}
	in.Limit = new(int32)
	*in.Limit = 1
	r, err := l.Store.QueryOnce(ctx, in)
	if err != nil {
		return false, err
	}
	return r.Scanned == 0 || len(r.Items) > 0, nil
}
