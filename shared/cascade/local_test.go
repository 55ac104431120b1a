package cascade_test

// This file is in package cascade_test: it starts DynamoDB Local through
// infra/local/localtest, which imports shared/lambdas, which imports cascade.
//
// The tests run the worker directly against a real DynamoDB Local table created from
// template.yaml, with no stream pollers, so each test decides when and how a run
// happens (the whole system, stream included, is tested in infra/e2e).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/infra/local/localtest"
	"opsconsole/shared/api"
	"opsconsole/shared/cascade"
	"opsconsole/shared/counts"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

var platformOnce sync.Once

func TestMain(m *testing.M) { localtest.Main(m) }

// needLocal is the package's table in DynamoDB Local (localtest.Need), with the
// platform root written once.
func needLocal(t testing.TB) *store.Store {
	t.Helper()
	env := localtest.Need(t, "cascade-test")
	var err error
	platformOnce.Do(func() {
		var platform store.Write
		if platform, err = store.Put(identity.PlatformNode(), nil); err == nil {
			err = env.Store.Transact(context.Background(), platform)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return env.Store
}

// ---------------------------------------------------------------- seeding

// seeded is a subtree written straight into the table.
type seeded struct {
	root  nodes.Item
	nodes []nodes.Item // the root first, then every descendant
}

// statusOf is the status a node of kind is created in.
func statusOf(kind tree.Kind) string {
	if kind == tree.KindOrganization {
		return "approved"
	}
	return "active"
}

// newNode makes a node of kind under parent, with its index keys, as the levels do.
func newNode(parent nodes.Item, kind tree.Kind, name string) nodes.Item {
	it := nodes.NewChild(parent.Node(), kind, name, statusOf(kind), time.Now())
	filter := it.Status
	if kind == tree.KindCompany {
		filter = "false" // companies are listed by their virtual flag
		it.Attrs = map[string]any{"virtual": false}
	}
	if kind == tree.KindEndUser {
		it.Attrs = map[string]any{"firstName": "Erin", "lastName": "User"}
	}
	it.SetIndexKeys(filter, kind == tree.KindOrganization)
	return it
}

// seed writes, under parent (which must exist), a node of parent's child kind with
// shape[0] children, each with shape[1] children, and so on, with their unique-name
// items, a counts item for each node with children, and parent's children counter
// incremented: what creating them through the API leaves, but written with
// BatchWriteItem, which is much faster.
func seed(t testing.TB, st *store.Store, parent nodes.Item, prefix string, shape ...int) seeded {
	t.Helper()
	ctx := context.Background()
	root := newNode(parent, tree.ChildKind(parent.Kind), prefix+" root")
	s := seeded{root: root}
	var items []store.Item
	var add func(it nodes.Item, depth int)
	add = func(it nodes.Item, depth int) {
		var kids []nodes.Item
		if depth < len(shape) {
			kind := tree.ChildKind(it.Kind)
			for i := range shape[depth] {
				name := fmt.Sprintf("%s %s %d", prefix, it.ID, i)
				if kind == tree.KindEndUser {
					name = fmt.Sprintf("u%d-%s@example.com", i, it.ID)
				}
				kids = append(kids, newNode(it, kind, name))
			}
		}
		it.Children = len(kids)
		s.nodes = append(s.nodes, it)
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			t.Fatal(err)
		}
		name, err := attributevalue.MarshalMap(nodes.NameOf(it))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, av, name)
		if len(kids) > 0 {
			items = append(items, store.Item{
				"PK": counts.Key(it.ID)["PK"], "SK": counts.Key(it.ID)["SK"],
				"type": &types.AttributeValueMemberS{Value: "counts"},
				string(kids[0].Kind) + "#" + kids[0].Status: &types.AttributeValueMemberN{Value: fmt.Sprint(len(kids))},
			})
		}
		for _, k := range kids {
			add(k, depth+1)
		}
	}
	add(root, 0)
	batchWrite(t, st, items)
	inc, err := store.Add(nodes.Key(parent.ID), "children", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Transact(ctx, inc); err != nil {
		t.Fatal(err)
	}
	s.root = s.nodes[0]
	return s
}

// batchWrite puts items, 25 per BatchWriteItem, 16 calls at a time.
func batchWrite(t testing.TB, st *store.Store, items []store.Item) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(items)/25+1)
	for start := 0; start < len(items); start += 25 {
		chunk := items[start:min(start+25, len(items))]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			reqs := make([]types.WriteRequest, len(chunk))
			for i, it := range chunk {
				reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
			}
			for len(reqs) > 0 {
				out, err := st.DB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
					RequestItems: map[string][]types.WriteRequest{st.Table: reqs},
				})
				if err != nil {
					errs <- err
					return
				}
				reqs = out.UnprocessedItems[st.Table]
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// distributor seeds a fresh distributor under the platform.
func distributor(t testing.TB, st *store.Store) nodes.Item {
	t.Helper()
	return seed(t, st, identity.PlatformNode(), unique("D")).root
}

func unique(prefix string) string { return fmt.Sprintf("%s %d", prefix, time.Now().UnixNano()) }

// ---------------------------------------------------------------- checks

// keysOf are the keys of every item a node owns: itself, its counts, its name.
func keysOf(it nodes.Item) []store.Item {
	return []store.Item{nodes.Key(it.ID), counts.Key(it.ID), nodes.UniqueNameKey(it.ParentID, it.Kind, it.Name)}
}

// left returns the items of ns (nodes, counts, names) still in the table.
func left(t testing.TB, st *store.Store, ns []nodes.Item) []string {
	t.Helper()
	var keys []store.Item
	for _, n := range ns {
		keys = append(keys, keysOf(n)...)
	}
	var out []string
	for start := 0; start < len(keys); start += store.MaxBatchGet {
		got, err := st.BatchGet(context.Background(), keys[start:min(start+store.MaxBatchGet, len(keys))])
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range got {
			out = append(out, it["PK"].(*types.AttributeValueMemberS).Value+" "+it["SK"].(*types.AttributeValueMemberS).Value)
		}
	}
	return out
}

func node(t testing.TB, st *store.Store, id string) nodes.Item {
	t.Helper()
	it, err := nodes.Get(context.Background(), st, id)
	if err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	return it
}

// changeRecords lists the change records about the targets in ids (a Scan: a test's
// way to see every record, since the audit writer is not running here).
func changeRecords(t testing.TB, st *store.Store, ids map[string]bool) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	var start store.Item
	for {
		res, err := st.DB.(*dynamodb.Client).Scan(context.Background(), &dynamodb.ScanInput{
			TableName: &st.Table, ExclusiveStartKey: start,
			FilterExpression:          aws.String("#t = :t"),
			ExpressionAttributeNames:  map[string]string{"#t": "type"},
			ExpressionAttributeValues: store.Item{":t": &types.AttributeValueMemberS{Value: "change"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			var rec map[string]any
			if err := attributevalue.UnmarshalMap(it, &rec); err != nil {
				t.Fatal(err)
			}
			id, _ := rec["target"].(map[string]any)["id"].(string)
			if ids[id] {
				out[id] = append(out[id], rec)
			}
		}
		if res.LastEvaluatedKey == nil {
			return out
		}
		start = res.LastEvaluatedKey
	}
}

// ---------------------------------------------------------------- beginning

type fixedCallers struct{ caller tree.Caller }

func (f fixedCallers) Caller(context.Context, string) (tree.Caller, error) { return f.caller, nil }

var theActor = tree.Caller{UserID: "user-1", Email: "ops@example.com", Role: tree.RolePlatformAdmin,
	Node: tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}}

// begin calls cascade.Begin the way the delete handler will: inside the API
// middleware, from an API Gateway request, so that the caller and the request's
// metadata are those of a real call. It returns the status answered.
func begin(t testing.TB, st *store.Store, root nodes.Item) (int, string) {
	t.Helper()
	op := api.Operation{
		ID: tree.Operation(resource(root.Kind) + ".delete"), Method: http.MethodDelete, Path: "/v1/" + resource(root.Kind) + "/{id}",
		Kind: string(root.Kind), Callers: fixedCallers{theActor},
		Target: func(*http.Request) (tree.Node, any, error) { return root.Node(), root, nil },
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			if err := cascade.Begin(r, st, root, nil); err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusAccepted, map[string]string{"id": root.ID, "status": cascade.StatusDeleting})
		},
	}
	path := "/v1/" + resource(root.Kind) + "/" + root.ID
	res, err := api.Lambda(api.Serve(op))(context.Background(), events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, RawQueryString: "cascade=true",
		Headers: map[string]string{"user-agent": "cascade-test/1.0"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-" + root.ID,
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "DELETE", Path: path, SourceIP: "198.51.100.7", UserAgent: "cascade-test/1.0"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": theActor.UserID}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Body
}

func resource(kind tree.Kind) string {
	switch kind {
	case tree.KindEndUser:
		return "end-users"
	case tree.KindCompany:
		return "companies"
	}
	return string(kind) + "s"
}

// runUntilDone runs the worker until the job is done, and returns the runs' progress.
func runUntilDone(t testing.TB, w *cascade.Worker, rootID string, maxRuns int) []cascade.Progress {
	t.Helper()
	var out []cascade.Progress
	for range maxRuns {
		p, err := w.Run(context.Background(), rootID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
		if p.Done {
			return out
		}
	}
	t.Fatalf("not done after %d runs: %+v", maxRuns, out)
	return nil
}

// ---------------------------------------------------------------- tests

func TestCascadeRemovesTheSubtreeAndNothingElse(t *testing.T) {
	st := needLocal(t)
	d := distributor(t, st)
	// The partner to delete: 3 organizations × 3 companies × 5 end users; and a
	// sibling partner that must stay as it is.
	doomed := seed(t, st, d, unique("P"), 3, 3, 5)
	kept := seed(t, st, d, unique("Q"), 1, 1, 2)
	if n := len(doomed.nodes); n != 1+3+9+45 {
		t.Fatalf("seeded %d nodes", n)
	}
	before := node(t, st, d.ID)

	status, body := begin(t, st, doomed.root)
	if status != http.StatusAccepted {
		t.Fatalf("begin: %d %s", status, body)
	}
	t.Run("the root is marked and a job written at once", func(t *testing.T) {
		var raw map[string]any
		if err := st.Get(context.Background(), nodes.Key(doomed.root.ID), &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw[cascade.DeletingAttr]; !ok {
			t.Fatalf("root not marked: %v", raw)
		}
		job, err := cascade.GetJob(context.Background(), st, doomed.root.ID)
		if err != nil {
			t.Fatal(err)
		}
		if job.Actor.UserID != theActor.UserID || job.RequestID != "req-"+doomed.root.ID || job.SourceIP != "198.51.100.7" ||
			job.RootKind != tree.KindPartner || job.Deleted != 0 {
			t.Fatalf("job %+v", job)
		}
	})
	t.Run("a repeated request is accepted again and changes nothing", func(t *testing.T) {
		job, _ := cascade.GetJob(context.Background(), st, doomed.root.ID)
		if status, body := begin(t, st, doomed.root); status != http.StatusAccepted {
			t.Fatalf("again: %d %s", status, body)
		}
		again, _ := cascade.GetJob(context.Background(), st, doomed.root.ID)
		if again.ID != job.ID {
			t.Fatalf("a second job %s replaced %s", again.ID, job.ID)
		}
	})

	w := &cascade.Worker{Store: st}
	runs := runUntilDone(t, w, doomed.root.ID, 5)
	t.Logf("%d nodes in %d run(s): %+v", len(doomed.nodes), len(runs), runs)
	if last := runs[len(runs)-1]; last.Total != len(doomed.nodes) && len(runs) == 1 {
		t.Errorf("removed %d nodes, want %d", last.Total, len(doomed.nodes))
	}

	t.Run("every node, counts item and name of the subtree is gone", func(t *testing.T) {
		if l := left(t, st, doomed.nodes); len(l) > 0 {
			t.Fatalf("left behind: %v", l)
		}
		if _, err := cascade.GetJob(context.Background(), st, doomed.root.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the job item is still there: %v", err)
		}
	})
	t.Run("the parent counts one child less; the sibling subtree is untouched", func(t *testing.T) {
		after := node(t, st, d.ID)
		if after.Children != before.Children-1 || after.Version != before.Version {
			t.Fatalf("parent before %d children v%d, after %d v%d", before.Children, before.Version, after.Children, after.Version)
		}
		for _, n := range kept.nodes {
			now := node(t, st, n.ID)
			if now.Version != n.Version || now.Children != n.Children {
				t.Fatalf("%s changed: %+v", n.ID, now)
			}
		}
		want := 2 * len(kept.nodes) // nodes and names, and the counts of those with children
		for _, n := range kept.nodes {
			if n.Children > 0 {
				want++
			}
		}
		if l := left(t, st, kept.nodes); len(l) != want {
			t.Fatalf("the sibling subtree lost items: %d left of %d", len(l), want)
		}
	})
	t.Run("each removed node has its audit record, naming who asked and from where", func(t *testing.T) {
		ids := map[string]bool{}
		for _, n := range doomed.nodes {
			ids[n.ID] = true
		}
		recs := changeRecords(t, st, ids)
		for _, n := range doomed.nodes {
			var actions []string
			for _, r := range recs[n.ID] {
				actions = append(actions, r["action"].(string))
				actor := r["actor"].(map[string]any)
				if actor["userId"] != theActor.UserID || actor["email"] != theActor.Email || actor["role"] != string(theActor.Role) ||
					r["requestId"] != "req-"+doomed.root.ID || r["sourceIp"] != "198.51.100.7" || r["userAgent"] != "cascade-test/1.0" {
					t.Fatalf("record of %s: %v", n.ID, r)
				}
				if !slices.Equal(anyStrings(r["scope"]), n.Node().Lineage()) {
					t.Fatalf("record of %s has scope %v, want %v", n.ID, r["scope"], n.Node().Lineage())
				}
			}
			slices.Sort(actions)
			want := []string{string(n.Kind) + ".deleted"}
			if n.ID == doomed.root.ID {
				want = []string{"partner.deleted", "partner.deletion-started"}
			}
			if !slices.Equal(actions, want) {
				t.Fatalf("%s %s: records %v, want %v", n.Kind, n.ID, actions, want)
			}
		}
	})
}

func expressionTrue() expression.ConditionBuilder {
	return expression.AttributeExists(expression.Name("PK"))
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func TestBeginRefusesAStaleOrMissingRoot(t *testing.T) {
	st := needLocal(t)
	d := distributor(t, st)
	p := seed(t, st, d, unique("P"), 1)
	stale := p.root
	stale.Version--
	if status, body := begin(t, st, stale); status != http.StatusPreconditionFailed {
		t.Fatalf("stale: %d %s", status, body)
	}
	if _, err := cascade.GetJob(context.Background(), st, p.root.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a stale begin wrote a job: %v", err)
	}
	gone := p.root
	gone.ID = nodes.NewID(tree.KindPartner)
	if status, body := begin(t, st, gone); status != http.StatusNotFound {
		t.Fatalf("missing: %d %s", status, body)
	}
}

func TestCascadeResumesAfterBudgetsAndCrashes(t *testing.T) {
	st := needLocal(t)
	d := distributor(t, st)

	t.Run("a tiny budget chains many runs, each removing something", func(t *testing.T) {
		doomed := seed(t, st, d, unique("Budget"), 2, 3, 6)
		if status, body := begin(t, st, doomed.root); status != http.StatusAccepted {
			t.Fatalf("begin: %d %s", status, body)
		}
		w := &cascade.Worker{Store: st, Budget: time.Nanosecond, Concurrency: 1}
		runs := runUntilDone(t, w, doomed.root.ID, 200)
		if len(runs) < 5 {
			t.Fatalf("only %d runs", len(runs))
		}
		total := 0
		for i, r := range runs {
			if r.Removed == 0 {
				t.Fatalf("run %d removed nothing: %+v", i, runs)
			}
			total += r.Removed
		}
		if total != len(doomed.nodes) {
			t.Fatalf("runs removed %d nodes, want %d", total, len(doomed.nodes))
		}
		if l := left(t, st, doomed.nodes); len(l) > 0 {
			t.Fatalf("left behind: %v", l)
		}
	})

	t.Run("runs killed midway, then a last run: nothing is orphaned", func(t *testing.T) {
		doomed := seed(t, st, d, unique("Crash"), 3, 3, 8)
		if status, body := begin(t, st, doomed.root); status != http.StatusAccepted {
			t.Fatalf("begin: %d %s", status, body)
		}
		w := &cascade.Worker{Store: st, Concurrency: 4}
		crashed := 0
		for i := range 4 {
			// Kill the run after a few transactions, mid-batch, mid-walk, as a crash
			// would: the context has no deadline the worker could see coming, and the
			// calls in flight fail.
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Duration(30+30*i)*time.Millisecond, cancel)
			_, err := w.Run(ctx, doomed.root.ID)
			cancel()
			if err != nil {
				crashed++
			}
		}
		if crashed == 0 {
			t.Fatal("no run was cut off; make the timeouts shorter")
		}
		// What is left is still a tree: every remaining node's parent exists and
		// counts exactly its remaining children.
		checkTree(t, st, doomed.nodes)
		runUntilDone(t, w, doomed.root.ID, 3)
		if l := left(t, st, doomed.nodes); len(l) > 0 {
			t.Fatalf("left behind: %v", l)
		}
	})
}

// checkTree checks that among ns every remaining node's parent remains (or is
// outside ns) and that each remaining node's children counter is its remaining
// children.
func checkTree(t *testing.T, st *store.Store, ns []nodes.Item) {
	t.Helper()
	in := map[string]bool{}
	for _, n := range ns {
		in[n.ID] = true
	}
	remaining := map[string]nodes.Item{}
	for _, n := range ns {
		it, err := nodes.Get(context.Background(), st, n.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		remaining[n.ID] = it
	}
	kids := map[string]int{}
	for _, it := range remaining {
		if _, ok := remaining[it.ParentID]; !ok && in[it.ParentID] {
			t.Fatalf("%s %s is orphaned: its parent %s is gone", it.Kind, it.ID, it.ParentID)
		}
		kids[it.ParentID]++
	}
	for id, it := range remaining {
		if it.Children != kids[id] {
			t.Fatalf("%s %s counts %d children, has %d", it.Kind, id, it.Children, kids[id])
		}
	}
	t.Logf("%d of %d nodes remain", len(remaining), len(ns))
}

func TestAStuckCascadeStallsAndResumes(t *testing.T) {
	st := needLocal(t)
	d := distributor(t, st)
	doomed := seed(t, st, d, unique("Stuck"), 1, 1)
	company := doomed.nodes[2]
	// An end user the index does not list (a lagging index, exaggerated): the
	// company's delete keeps failing on its children counter.
	hidden := newNode(company, tree.KindEndUser, "hidden@example.com")
	visible := hidden
	hidden.GSI1PK, hidden.GSI1SK = "", ""
	put, _ := store.Put(hidden, nil)
	inc, _ := store.Add(nodes.Key(company.ID), "children", 1)
	claim, _ := nodes.ClaimName(hidden, nil)
	if err := st.Transact(context.Background(), put, inc, claim); err != nil {
		t.Fatal(err)
	}
	if status, body := begin(t, st, doomed.root); status != http.StatusAccepted {
		t.Fatalf("begin: %d %s", status, body)
	}
	w := &cascade.Worker{Store: st, Pause: time.Millisecond}
	var runs []cascade.Progress
	for range cascade.MaxIdleRuns + 2 {
		p, err := w.Run(context.Background(), doomed.root.ID)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, p)
	}
	if last := runs[len(runs)-1]; !last.Stalled || last.Done {
		t.Fatalf("runs %+v, want the job stalled", runs)
	}
	job, err := cascade.GetJob(context.Background(), st, doomed.root.ID)
	if err != nil || job.Stalled == "" || job.IdleRuns != cascade.MaxIdleRuns {
		t.Fatalf("job %+v, %v", job, err)
	}
	checkTree(t, st, append(doomed.nodes, hidden))

	// The index catches up; an operator removes the stalled mark (its MODIFY record
	// would start a run in AWS): the job finishes.
	put, _ = store.Put(visible, nil)
	if err := st.Transact(context.Background(), put); err != nil {
		t.Fatal(err)
	}
	resume, _ := store.Update(cascade.JobKey(doomed.root.ID), nil, []string{"stalled"}, expressionTrue())
	if err := st.Transact(context.Background(), resume); err != nil {
		t.Fatal(err)
	}
	runUntilDone(t, w, doomed.root.ID, 2)
	if l := left(t, st, append(doomed.nodes, visible)); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
}

func TestHandleRunsJobRecordsOnly(t *testing.T) {
	st := needLocal(t)
	d := distributor(t, st)
	doomed := seed(t, st, d, unique("Handle"), 2)
	if status, body := begin(t, st, doomed.root); status != http.StatusAccepted {
		t.Fatalf("begin: %d %s", status, body)
	}
	rec := func(event, pk, sk string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: event, Change: events.DynamoDBStreamRecord{
			SequenceNumber: "1" + pk,
			Keys: map[string]events.DynamoDBAttributeValue{
				"PK": events.NewStringAttribute(pk), "SK": events.NewStringAttribute(sk),
			},
		}}
	}
	w := &cascade.Worker{Store: st}
	jobPK := cascade.JobKey(doomed.root.ID)["PK"].(*types.AttributeValueMemberS).Value
	// Records the worker must ignore: the job's REMOVE, another item's INSERT.
	res, err := w.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		rec("REMOVE", jobPK, "CASCADE"), rec("INSERT", "NODE#"+doomed.root.ID, "NODE"),
	}})
	if err != nil || len(res.BatchItemFailures) > 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := nodes.Get(context.Background(), st, doomed.root.ID); err != nil {
		t.Fatalf("an unrelated record ran the job: %v", err)
	}
	res, err = w.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec("MODIFY", jobPK, "CASCADE")}})
	if err != nil || len(res.BatchItemFailures) > 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if l := left(t, st, doomed.nodes); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
}

// BenchmarkCascade10000 deletes a partner with 10 organizations × 10 companies × 99
// end users (10,111 nodes) per iteration and reports the throughput and the DynamoDB
// round trips per node. Seeding is not timed.
//
//	go test ./shared/cascade -run '^$' -bench Cascade10000 -benchtime 1x
func BenchmarkCascade10000(b *testing.B) {
	st := needLocal(b)
	d := distributor(b, st)
	var nodesDone, calls int
	var took time.Duration
	for range b.N {
		b.StopTimer()
		doomed := seed(b, st, d, unique("Bench"), 10, 10, 99)
		if status, body := begin(b, st, doomed.root); status != http.StatusAccepted {
			b.Fatalf("begin: %d %s", status, body)
		}
		w := &cascade.Worker{Store: st}
		b.StartTimer()
		start := time.Now()
		runs := runUntilDone(b, w, doomed.root.ID, 10)
		took += time.Since(start)
		b.StopTimer()
		for _, r := range runs {
			calls += r.Calls
		}
		nodesDone += len(doomed.nodes)
		if l := left(b, st, doomed.nodes); len(l) > 0 {
			b.Fatalf("%d items left behind", len(l))
		}
	}
	b.ReportMetric(float64(nodesDone)/took.Seconds(), "nodes/s")
	b.ReportMetric(float64(calls)/float64(nodesDone), "ddb-calls/node")
	b.ReportMetric(float64(nodesDone)/float64(b.N), "nodes/op")
}
