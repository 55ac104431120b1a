package levels

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/api"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Page is a page of a level's nodes.
type Page struct {
	Items      []View  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// listQuery is a validated list request with the node it lists below.
type listQuery struct {
	api.ListQuery
	scope tree.Node
}

// scopeParams are the query parameters that name the node a list is scoped to, with
// their kinds.
func (l Level) scopeParams() map[string]tree.Kind {
	out := map[string]tree.Kind{}
	for _, k := range l.scopeKinds() {
		if f := idField(k); f != "" {
			out[f] = k
		}
	}
	return out
}

// scopeFromQuery validates a list's query and finds the node whose descendants of
// this level it lists: the one a scope parameter names (partnerId, distributorId …),
// or else the caller's own node when the level can be listed there. The policy then
// checks that the caller may see that node.
func (s *Service) scopeFromQuery(r *http.Request) (tree.Node, any, error) {
	if err := s.roleAllows(r, "list"); err != nil {
		return tree.Node{}, nil, err
	}
	params := s.Level.scopeParams()
	allowed := []string{"q", s.Level.filter()}
	for f := range params {
		allowed = append(allowed, f)
	}
	q, err := api.ParseList(r, allowed...)
	if err != nil {
		return tree.Node{}, nil, err
	}
	var errs []problem.FieldError
	if v, ok := q.Filters[s.Level.filter()]; ok {
		if want := s.Level.filterValues(); !slices.Contains(want, v) {
			errs = append(errs, problem.Field(s.Level.filter(), "must be one of "+strings.Join(want, ", ")))
		}
	}
	if search, ok := q.Filters["q"]; ok {
		clean, err := nodes.CleanName("q", search)
		var p *problem.Problem
		if errors.As(err, &p) {
			errs = append(errs, p.Errors...)
		}
		q.Filters["q"] = clean
	}
	var given []string
	for f := range params {
		if _, ok := q.Filters[f]; ok {
			given = append(given, f)
		}
	}
	slices.Sort(given)
	caller := api.CallerOf(r.Context())
	var scope tree.Node
	load := false
	switch {
	case len(given) > 1:
		errs = append(errs, problem.Field(given[0], "give only one of "+strings.Join(given, ", ")))
	case len(given) == 1:
		kind, id := params[given[0]], q.Filters[given[0]]
		if !nodes.ValidID(kind, id) {
			errs = append(errs, problem.Field(given[0], "must be the id of a "+string(kind)))
			break
		}
		scope = tree.Node{ID: id, Kind: kind}
		if id == caller.Node.ID {
			scope = caller.Node
		} else {
			load = true
		}
	case slices.Contains(s.Level.scopeKinds(), caller.Node.Kind):
		// The caller's own node was read by the guard a moment ago; no read needed.
		scope = caller.Node
	default:
		errs = append(errs, problem.Field(s.Level.ParentField, "is required"))
	}
	if _, searched := q.Filters["q"]; searched && s.Level.Subtree && len(errs) == 0 && scope.Kind != s.Level.Parent {
		errs = append(errs, problem.Field("q", "searches the "+s.Level.Resource+" of one "+string(s.Level.Parent)+": give "+s.Level.ParentField))
	}
	if len(errs) > 0 {
		return tree.Node{}, nil, problem.Invalid("the query string is invalid", errs...)
	}
	if load {
		it, err := s.load(r.Context(), scope.Kind, scope.ID)
		if err != nil {
			return tree.Node{}, nil, err
		}
		scope = it.Node()
	}
	return scope, listQuery{ListQuery: q, scope: scope}, nil
}

// filterValues are the values the list filter takes.
func (l Level) filterValues() []string {
	if l.filter() == "status" {
		return l.Statuses
	}
	return []string{"true", "false"}
}

// index picks the index and partitions that list the level's nodes below scope: GSI1
// and GSI2 under the parent, GSI3/GSI4 and GSI5/GSI6 across the two levels above (the
// platform's partitions are sharded, nodes.BranchKeys: more than one value then), or
// GSI3/GSI4 with a lineage prefix across any ancestor's subtree (prefix, "" for none).
func (l Level) index(scope tree.Node, filter string, byFilter bool) (index, pk, sk string, values []string, prefix string) {
	if l.Subtree && scope.Kind != l.Parent {
		index, values = "GSI3", nodes.SubtreeKeys(l.Kind, "")
		if byFilter {
			index, values = "GSI4", nodes.SubtreeKeys(l.Kind, filter)
		}
		return index, index + "PK", index + "SK", values, nodes.LineagePrefix(scope.Lineage())
	}
	n := 1
	values = []string{nodes.ChildrenKey(scope.ID, l.Kind)}
	if scope.Kind != l.Parent {
		n = 3
		if kinds := l.scopeKinds(); len(kinds) == 3 && scope.Kind == kinds[2] {
			n = 5
		}
		values = nodes.BranchKeys(scope.ID, l.Kind, "")
	}
	if byFilter {
		n++
		if scope.Kind == l.Parent {
			values = []string{nodes.ChildrenByStatusKey(scope.ID, l.Kind, filter)}
		} else {
			values = nodes.BranchKeys(scope.ID, l.Kind, filter)
		}
	}
	name := "GSI" + string(rune('0'+n))
	return name, name + "PK", name + "SK", values, ""
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q := api.TargetOf(r.Context()).(listQuery)
	filter, byFilter := q.Filters[s.Level.filter()]
	search, hasSearch := q.Filters["q"]
	index, pkName, sk, pks, prefix := s.Level.index(q.scope, filter, byFilter)
	ins := make([]dynamodb.QueryInput, len(pks))
	for i, pk := range pks {
		key := expression.Key(pkName).Equal(expression.Value(pk))
		switch {
		case prefix != "":
			key = key.And(expression.Key(sk).BeginsWith(prefix))
		case hasSearch:
			key = key.And(expression.Key(sk).BeginsWith(nodes.NameKey(search)))
		}
		expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
		if err != nil {
			return err
		}
		ins[i] = dynamodb.QueryInput{
			IndexName: &index, KeyConditionExpression: expr.KeyCondition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}
	}
	caller := api.CallerOf(r.Context())
	// The scope is part of the binding even when it was implied by the caller's node.
	binding := q.Binding(caller.UserID, "GET /v1/"+s.Level.Resource+"\n"+q.scope.ID)
	var start store.Item
	if q.Cursor != "" {
		var err error
		if start, err = s.Cursors.Decode(binding, q.Cursor); err != nil {
			return problem.InvalidCursor()
		}
	}
	keyAttrs := []string{"PK", "SK", pkName, sk}
	var page store.Page
	var err error
	if len(ins) == 1 {
		ins[0].ExclusiveStartKey = start
		page, err = s.Store.QueryPage(r.Context(), ins[0], q.Limit, keyAttrs)
	} else {
		page, err = s.Store.QueryShards(r.Context(), ins, pks, start, q.Limit, keyAttrs, pkName, sk)
	}
	if err != nil {
		return err
	}
	out := Page{Items: make([]View, 0, len(page.Items))}
	for _, av := range page.Items {
		var it nodes.Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		out.Items = append(out.Items, s.Level.view(it))
	}
	if page.Next != nil {
		c, err := s.Cursors.Encode(binding, page.Next)
		if err != nil {
			return err
		}
		out.NextCursor = &c
	}
	return api.WriteJSON(w, http.StatusOK, out)
}
