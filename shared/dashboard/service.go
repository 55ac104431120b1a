package dashboard

import (
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/admins"
	"opsconsole/shared/api"
	"opsconsole/shared/counts"
	"opsconsole/shared/deps"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Path is the dashboard's route.
const Path = "/v1/dashboard"

// Service serves GET /v1/dashboard.
type Service struct {
	Store   *store.Store
	Callers api.Callers
	// Now is the clock expiry is judged by (time.Now when nil).
	Now func() time.Time
}

// Function is the dashboard-get function's constructor, for the function table
// (shared/lambdas) and the function's main.
func Function(d deps.Deps) api.Operation {
	return (&Service{Store: d.Store, Callers: d.Callers}).Operation()
}

// Operation is GET /v1/dashboard.
func (s *Service) Operation() api.Operation {
	return api.Operation{
		ID: tree.OpDashboardGet, Method: http.MethodGet, Path: Path, Kind: "dashboard",
		Callers: s.Callers, Target: s.target, Handle: s.get,
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// loaded is what the target loader read, in one BatchGetItem: the node, the items of
// its totals, its admins and its expiry trie items at now.
type loaded struct {
	node   nodes.Item
	raw    map[string]store.Item // by sort key
	now    time.Time
	caller tree.Caller
}

const nodeIDRule = "must be the id of the platform, a distributor, a partner, an organization or a company"

// target validates the query (nodeId alone, optional: the caller's own node by
// default) and reads, in one round trip, everything the answer needs: the node (which
// the policy then places in the caller's branch, or answers 404 like a missing one),
// its totals (one item, or nine for the platform and a distributor: counts.TotalsKeys),
// its admins and the seven expiry items of now: at most 18 keys. A caller below partner
// admin is refused before anything is read.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	caller := api.CallerOf(r.Context())
	if err := tree.Allow(tree.OpDashboardGet, caller, nil); err != nil {
		return tree.Node{}, nil, problem.Forbidden("your role may not " + string(tree.OpDashboardGet))
	}
	id, err := readQuery(r.URL.RawQuery, caller.Node.ID)
	if err != nil {
		return tree.Node{}, nil, err
	}
	kind, _ := nodes.KindOfID(id)
	now := s.now()
	keys := []store.Item{nodes.Key(id), admins.Key(id)}
	keys = append(keys, counts.TotalsKeys(id)...)
	keys = append(keys, counts.UntilKeys(id, now)...)
	items, err := s.Store.BatchGet(r.Context(), keys)
	if err != nil {
		return tree.Node{}, nil, err
	}
	l := loaded{raw: map[string]store.Item{}, now: now, caller: caller}
	for _, it := range items {
		sk, ok := it["SK"].(*types.AttributeValueMemberS)
		if ok {
			l.raw[sk.Value] = it
		}
	}
	raw, ok := l.raw[nodes.SK]
	if !ok {
		return tree.Node{}, nil, problem.NotFound(string(kind))
	}
	if err := attributevalue.UnmarshalMap(raw, &l.node); err != nil {
		return tree.Node{}, nil, err
	}
	if l.node.Kind != kind {
		return tree.Node{}, nil, problem.NotFound(string(kind))
	}
	return l.node.Node(), l, nil
}

// readQuery reads the dashboard's query string: nodeId, at most once, naming a node
// with a dashboard; the caller's node when absent. Anything else is a 400.
func readQuery(raw, callerNode string) (string, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "", problem.Invalid("the query string is malformed", problem.Field("query", "malformed"))
	}
	var errs []problem.FieldError
	id := callerNode
	for name, vs := range values {
		switch {
		case name != "nodeId":
			errs = append(errs, problem.Field(name, "unknown query parameter"))
		case len(vs) > 1:
			errs = append(errs, problem.Field(name, "give it at most once"))
		default:
			id = vs[0]
			if k, ok := nodes.KindOfID(id); !ok || k == tree.KindEndUser {
				errs = append(errs, problem.Field("nodeId", nodeIDRule))
			}
		}
	}
	if len(errs) > 0 {
		return "", problem.Invalid("the query string is invalid", errs...)
	}
	return id, nil
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	l := api.TargetOf(r.Context()).(loaded)
	var shards []map[string]any
	trie := map[string]map[string]any{}
	for sk, raw := range l.raw {
		if !counts.IsTotalsItem(sk) && !counts.IsUntilItem(sk) {
			continue
		}
		var m map[string]any
		if err := attributevalue.UnmarshalMap(raw, &m); err != nil {
			return err
		}
		if counts.IsTotalsItem(sk) {
			shards = append(shards, m)
		} else {
			trie[sk] = m
		}
	}
	totals, asOf := counts.SumTotals(shards)
	if asOf == "" {
		// Nothing below the node has been counted since it was created: its totals
		// (all zeros) are those of that instant.
		asOf = l.node.CreatedAt
	}
	activeAdmins := 0
	if raw, ok := l.raw[admins.SK]; ok {
		n, err := admins.CountOf(raw)
		if err != nil {
			return err
		}
		activeAdmins = n
	}
	v := Build(l.node.Node(), l.node.Name, totals, counts.Expired(trie, l.now),
		activeAdmins, api.CallerOf(r.Context()), asOf, nodes.Stamp(l.now))
	return api.WriteJSON(w, http.StatusOK, v)
}
