package users

import (
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/admins"
	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Page is a page of a node's console users, with the node's admin count.
type Page struct {
	Items      []View  `json:"items"`
	NextCursor *string `json:"nextCursor"`
	// NodeID and NodeKind name the node listed.
	NodeID   string    `json:"nodeId"`
	NodeKind tree.Kind `json:"nodeKind"`
	// ActiveAdmins counts the node's active admins (all of them, whatever the
	// filters); FewerThanTwoAdmins flags a node below the two recommended.
	ActiveAdmins       int  `json:"activeAdmins"`
	FewerThanTwoAdmins bool `json:"fewerThanTwoAdmins"`
}

var statuses = []string{identity.StatusInvited, identity.StatusActive, identity.StatusDeactivated}

// listQuery is a validated list request with the node it lists.
type listQuery struct {
	api.ListQuery
	scope tree.Node
}

// maxSearch bounds the email prefix searched.
const maxSearch = 254

// readFilters validates the filters of GET /v1/users (it cleans q, the email prefix,
// in place) and tells which node they name: other is set, with the node's id and
// kind, when nodeId names a node that is not the caller's own (callerNodeID), which
// must then be read; otherwise the caller's own node is listed. errs lists every
// invalid filter.
func readFilters(f map[string]string, callerNodeID string) (id string, kind tree.Kind, other bool, errs []problem.FieldError) {
	if v, ok := f["status"]; ok && !slices.Contains(statuses, v) {
		errs = append(errs, problem.Field("status", "must be one of "+strings.Join(statuses, ", ")))
	}
	if v, ok := f["role"]; ok {
		if _, fe := readRole(v); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if v, ok := f["subtree"]; ok {
		switch {
		case v != "true" && v != "false":
			errs = append(errs, problem.Field("subtree", "must be true or false"))
		case v == "true" && f["q"] != "":
			errs = append(errs, problem.Field("q", "searches one node's users: not with subtree=true"))
		}
	}
	if v, ok := f["q"]; ok {
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "" || len(v) > maxSearch || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			errs = append(errs, problem.Field("q", "must be 1 to 254 characters of an email address"))
		}
		f["q"] = v
	}
	id, named := f["nodeId"]
	if named && id != callerNodeID {
		k, ok := kindOfID(id)
		if !ok {
			errs = append(errs, problem.Field("nodeId", nodeIDRule))
		}
		kind, other = k, true
	}
	return id, kind, other, errs
}

// scopeFromQuery validates the query and finds the node whose users are listed: the
// one nodeId names, or else the caller's own. The policy then checks that the caller
// may see it.
func (s *Service) scopeFromQuery(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpUsersList); err != nil {
		return tree.Node{}, nil, err
	}
	q, err := api.ParseList(r, "nodeId", "status", "role", "q", "subtree")
	if err != nil {
		return tree.Node{}, nil, err
	}
	caller := api.CallerOf(r.Context())
	scope := caller.Node
	id, kind, other, errs := readFilters(q.Filters, caller.Node.ID)
	if len(errs) > 0 {
		return tree.Node{}, nil, problem.Invalid("the query string is invalid", errs...)
	}
	if other {
		n, err := s.loadNode(r.Context(), kind, id)
		if err != nil {
			return tree.Node{}, nil, err
		}
		scope = n.Node()
	}
	return scope, listQuery{ListQuery: q, scope: scope}, nil
}

// list serves GET /v1/users: the users of one node sorted by email, by status with
// GSI2 or all with GSI1, an email prefix as the sort key condition, a role as a
// filter; or with subtree=true those of the node's whole subtree, its own included
// (GSI3, GSI4 by status, sorted by node then email, the node's lineage prefix as the
// key condition); one Query per page, and one GetItem for the node's admin count.
func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := api.TargetOf(ctx).(listQuery)
	st, byStatus := q.Filters["status"]
	index, pks := "GSI1", []string{identity.UsersKey(q.scope.ID)}
	var prefix string
	switch {
	case q.Filters["subtree"] == "true" && byStatus:
		index, pks, prefix = "GSI4", nodes.SubtreeKeys(identity.SubtreeKind, st), nodes.LineagePrefix(q.scope.Lineage())
	case q.Filters["subtree"] == "true":
		index, pks, prefix = "GSI3", nodes.SubtreeKeys(identity.SubtreeKind, ""), nodes.LineagePrefix(q.scope.Lineage())
	case byStatus:
		index, pks = "GSI2", []string{identity.UsersByStatusKey(q.scope.ID, st)}
	}
	pkName, skName := index+"PK", index+"SK"
	ins := make([]dynamodb.QueryInput, len(pks))
	for i, pk := range pks {
		key := expression.Key(pkName).Equal(expression.Value(pk))
		if search, ok := q.Filters["q"]; ok {
			key = key.And(expression.Key(skName).BeginsWith(search))
		} else if prefix != "" {
			key = key.And(expression.Key(skName).BeginsWith(prefix))
		}
		b := expression.NewBuilder().WithKeyCondition(key)
		if role, ok := q.Filters["role"]; ok {
			b = b.WithFilter(expression.Name("role").Equal(expression.Value(role)))
		}
		expr, err := b.Build()
		if err != nil {
			return err
		}
		ins[i] = dynamodb.QueryInput{
			IndexName: &index, KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}
	}
	binding := q.Binding(api.CallerOf(ctx).UserID, "GET /v1/users\n"+q.scope.ID)
	var start store.Item
	if q.Cursor != "" {
		var err error
		if start, err = s.Cursors.Decode(binding, q.Cursor); err != nil {
			return problem.InvalidCursor()
		}
	}
	keyAttrs := []string{"PK", "SK", pkName, skName}
	var page store.Page
	var err error
	if len(ins) == 1 {
		ins[0].ExclusiveStartKey = start
		page, err = s.Store.QueryPage(ctx, ins[0], q.Limit, keyAttrs)
	} else {
		// The subtree indexes are sharded (nodes.SubtreeKeys): one Query per shard,
		// in parallel, merged by sort key.
		page, err = s.Store.QueryShards(ctx, ins, pks, start, q.Limit, keyAttrs, pkName, skName)
	}
	if err != nil {
		return err
	}
	n, err := admins.Count(ctx, s.Store, q.scope.ID)
	if err != nil {
		return err
	}
	out := Page{
		Items: make([]View, 0, len(page.Items)), NodeID: q.scope.ID, NodeKind: q.scope.Kind,
		ActiveAdmins: n, FewerThanTwoAdmins: n < admins.MinRecommended,
	}
	for _, av := range page.Items {
		var u identity.UserItem
		if err := attributevalue.UnmarshalMap(av, &u); err != nil {
			return err
		}
		out.Items = append(out.Items, viewOf(u))
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
