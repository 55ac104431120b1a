package licenses

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/cursor"
	"opsconsole/shared/deps"
	"opsconsole/shared/idempotency"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Service serves /v1/licenses.
type Service struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
	// Now is the clock expiry is judged by (time.Now when nil).
	Now func() time.Time
}

// Function is the constructor of the named function (licenses-create, …) for the
// function table (shared/lambdas) and the function's main.
func Function(name string) func(deps.Deps) api.Operation {
	return func(d deps.Deps) api.Operation {
		s := &Service{Store: d.Store, Cursors: d.Cursors, Callers: d.Callers}
		op, ok := s.Operations()[name]
		if !ok {
			panic("licenses: no operation " + name)
		}
		return op
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Operations lists the service's operations by function name.
func (s *Service) Operations() map[string]api.Operation {
	const res = "/v1/licenses"
	mk := func(id tree.Operation, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: id, Method: method, Path: path, Kind: Kind, Callers: s.Callers, Target: target, Handle: h}
	}
	return map[string]api.Operation{
		"licenses-create":     mk(tree.OpLicensesCreate, http.MethodPost, res, s.holderFromBody, idempotency.Wrap(s.Store, s.create)),
		"licenses-list":       mk(tree.OpLicensesList, http.MethodGet, res, s.scopeFromQuery, s.list),
		"licenses-get":        mk(tree.OpLicensesGet, http.MethodGet, res+"/{id}", s.target, s.get),
		"licenses-update":     mk(tree.OpLicensesUpdate, http.MethodPatch, res+"/{id}", s.target, s.update),
		"licenses-delete":     mk(tree.OpLicensesDelete, http.MethodDelete, res+"/{id}", s.target, s.delete),
		"licenses-activate":   mk(tree.OpLicensesActivate, http.MethodPost, res+"/{id}/activate", s.target, s.transition(StatusInactive, StatusActive, "activated")),
		"licenses-deactivate": mk(tree.OpLicensesDeactivate, http.MethodPost, res+"/{id}/deactivate", s.target, s.transition(StatusActive, StatusInactive, "deactivated")),
	}
}

// roleAllows refuses, before anything is read, a caller whose role may never do op,
// wherever the target: the answer then reveals nothing of any branch.
func roleAllows(r *http.Request, op tree.Operation) error {
	if err := tree.Allow(op, api.CallerOf(r.Context()), nil); err != nil {
		return problem.Forbidden("your role may not " + string(op))
	}
	return nil
}

// holderKind tells the kind of a node that can hold licenses, from its id.
func holderKind(id string) (tree.Kind, bool) {
	k, ok := nodes.KindOfID(id)
	return k, ok && tree.LicenseHolder(k)
}

// loadNode reads node id, which must be of kind; a missing one is a 404 named after
// its kind.
func (s *Service) loadNode(ctx context.Context, kind tree.Kind, id string) (nodes.Item, error) {
	it, err := nodes.Get(ctx, s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != kind) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	return it, err
}

// created carries what the create's target loader read to the handler.
type created struct {
	holder nodes.Item
	body   body
}

func decodeBody(r *http.Request) (body, error) {
	b, err := api.DecodeObject(r)
	return body(b), err
}

// holderFromBody decodes a create's body and loads the holder its nodeId names: the
// policy then checks that the caller may create there (an organization admin never
// may: 403 before anything is read).
func (s *Service) holderFromBody(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpLicensesCreate); err != nil {
		return tree.Node{}, nil, err
	}
	b, err := decodeBody(r)
	if err != nil {
		return tree.Node{}, nil, err
	}
	v, ok := b["nodeId"]
	var id string
	switch {
	case !ok || isNull(v):
		return tree.Node{}, nil, problem.Invalid("the holder is missing", problem.Field("nodeId", "is required"))
	case jsonString(v, &id) != nil:
		return tree.Node{}, nil, problem.Invalid("the holder id is malformed", problem.Field("nodeId", "must be a string"))
	}
	kind, ok := holderKind(id)
	if !ok {
		return tree.Node{}, nil, problem.Invalid("the holder id is malformed",
			problem.Field("nodeId", "must be the id of a distributor, a partner or an organization (dst_…, prt_… or org_…)"))
	}
	holder, err := s.loadNode(r.Context(), kind, id)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return holder.Node(), created{holder: holder, body: b}, nil
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	c := api.TargetOf(r.Context()).(created)
	e, errs := readEdit(c.body, true)
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	now := s.now()
	ts := nodes.Stamp(now)
	it := Item{
		PK: PK(""), SK: SK, Type: ItemType, ParentID: c.holder.ID, Path: c.holder.Node().Lineage(),
		Status: StatusActive, Version: 1, CreatedAt: ts, UpdatedAt: ts,
		Attrs: Attrs{ValidFrom: ts, Seats: DefaultSeats},
	}
	it, errs = apply(it, e, c.body)
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	key, err := NewKey()
	if err != nil {
		return err
	}
	it.ID, it.Attrs.Key = NewID(), key
	it.PK = PK(it.ID)
	it.SetIndexKeys()
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		return err
	}
	// The holder must still be there, and not being deleted, when the license is
	// written: otherwise nothing would ever sweep it (shared/sweep).
	inService, err := nodes.InService(c.holder.ID)
	if err != nil {
		return err
	}
	gone := problem.NotFound(string(c.holder.Kind))
	gone.Errors = []problem.FieldError{problem.Field("nodeId", "no such "+string(c.holder.Kind))}
	if err := s.write(r, "created", nil, &it, put, inService.FailsWith(gone)); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/licenses/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, it.View(now, true))
}

// write commits writes with the change record of the change from before to after
// (either may be nil), in one transaction.
func (s *Service) write(r *http.Request, verb string, before, after *Item, writes ...store.Write) error {
	rec, err := record(r, verb, before, after)
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(), append(writes, rec)...)
}

// record is the change record of a change to a license, made by r's caller.
func record(r *http.Request, verb string, before, after *Item) (store.Write, error) {
	return audit.Record(r, Change(verb, before, after))
}

// Change describes the change from before to after (either may be nil) for the
// audit log, under action license.<verb>; the sweeper records its deletions with it.
func Change(verb string, before, after *Item) audit.Change {
	target := after
	if target == nil {
		target = before
	}
	return audit.Change{
		Action: Kind + "." + verb,
		Target: audit.Target{Type: Kind, ID: target.ID, Name: target.Name},
		Scope:  target.Path,
		Before: auditFields(before), After: auditFields(after),
		Version: target.Version,
	}
}

// target loads the license the path names. One outside the caller's branch is
// answered by the middleware exactly like a missing one.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	return api.ItemTarget(s.Store, Kind, ValidID, Key, func(it Item) (tree.Node, bool) {
		return it.policyNode(), len(it.Path) > 0
	})(r)
}

func loaded(r *http.Request) Item { return api.TargetOf(r.Context()).(Item) }

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, it.View(s.now(), true))
}

// advance makes after, an edited copy of before, the next version, and returns the
// write that stores it in place if before is still the current version.
func advance(before Item, after *Item, now time.Time) (store.Write, error) {
	after.Version++
	after.UpdatedAt = nodes.Stamp(now)
	after.SetIndexKeys()
	put, err := store.Put(*after, store.VersionIs(before.Version))
	return put.FailsWith(problem.Stale()), err
}

func (s *Service) update(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	e, errs := readEdit(b, false)
	if len(errs) == 0 && len(b) == 0 {
		errs = append(errs, problem.Field("body", "give at least one of "+strings.Join(updateFields, ", ")))
	}
	var after Item
	if len(errs) == 0 {
		after, errs = apply(before, e, b)
	}
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	// The body is judged before the version: a malformed request is a 400 whatever its If-Match.
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	now := s.now()
	if after.Name == before.Name && after.Attrs == before.Attrs {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, before.View(now, true))
	}
	put, err := advance(before, &after, now)
	if err != nil {
		return err
	}
	if err := s.write(r, "updated", &before, &after, put); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, after.View(now, true))
}

// transition builds the handler of a status action from stored status from to to.
// It changes the stored status only: a license past its validUntil reads expired
// either way, and deactivating it still keeps it off should its validity be extended.
func (s *Service) transition(from, to, past string) api.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		before := loaded(r)
		if err := api.CheckVersion(r, before.Version); err != nil {
			return err
		}
		if before.Status != from {
			return problem.Conflict("invalid-transition", "the license is "+before.Status+"; only an "+from+" one can be "+past,
				problem.Field("status", "is "+before.Status))
		}
		now := s.now()
		after := before
		after.Status = to
		put, err := advance(before, &after, now)
		if err != nil {
			return err
		}
		if err := s.write(r, past, &before, &after, put); err != nil {
			return err
		}
		w.Header().Set("ETag", api.ETag(after.Version))
		return api.WriteJSON(w, http.StatusOK, after.View(now, true))
	}
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	if len(r.URL.RawQuery) > 0 {
		return problem.Invalid("the query string is invalid", problem.Field("query", "takes no parameters"))
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	del := store.Delete(Key(before.ID), store.VersionIs(before.Version)).FailsWith(problem.Stale())
	if err := s.write(r, "deleted", &before, nil, del); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Page is a page of licenses.
type Page struct {
	Items      []View  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// listQuery is a validated list request with the node whose subtree it lists.
type listQuery struct {
	api.ListQuery
	scope tree.Node
}

// Filters are the list's query parameters besides limit and cursor.
var Filters = []string{"nodeId", "type", "status"}

// scopeFromQuery validates a list's query and finds the node whose subtree's licenses
// it lists: nodeId, or the caller's own node. The policy then checks that the caller
// may see that node.
func (s *Service) scopeFromQuery(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpLicensesList); err != nil {
		return tree.Node{}, nil, err
	}
	q, err := api.ParseList(r, Filters...)
	if err != nil {
		return tree.Node{}, nil, err
	}
	var errs []problem.FieldError
	if v, ok := q.Filters["type"]; ok && !slices.Contains(Types, v) {
		errs = append(errs, problem.Field("type", "must be one of "+strings.Join(Types, ", ")))
	}
	if v, ok := q.Filters["status"]; ok && !slices.Contains(Statuses, v) {
		errs = append(errs, problem.Field("status", "must be one of "+strings.Join(Statuses, ", ")))
	}
	caller := api.CallerOf(r.Context())
	scope := caller.Node
	id, named := q.Filters["nodeId"]
	var kind tree.Kind
	if named {
		k, ok := holderKind(id)
		if id == tree.PlatformID {
			k, ok = tree.KindPlatform, true
		}
		if !ok {
			errs = append(errs, problem.Field("nodeId", "must be the id of the platform, a distributor, a partner or an organization"))
		}
		kind = k
	}
	if len(errs) > 0 {
		return tree.Node{}, nil, problem.Invalid("the query string is invalid", errs...)
	}
	if named && id != caller.Node.ID {
		it, err := s.loadNode(r.Context(), kind, id)
		if err != nil {
			return tree.Node{}, nil, err
		}
		scope = it.Node()
	}
	return scope, listQuery{ListQuery: q, scope: scope}, nil
}

// listInput is the one Query of a page of the licenses of scope's subtree with the
// filters typ and status ("" for none), at now: the partition names the type and the
// stored status when they are filtered on, and the key condition the subtree. Whether
// a license has expired is judged by a filter on validUntil in the same Query: for
// active and inactive it drops the expired ones of that stored status; for expired it
// keeps, from every license, those past validUntil. A filtered page may so hold fewer
// than limit licenses, even none, and still have a next one.
func listInput(scope tree.Node, typ, status string, now time.Time) (dynamodb.QueryInput, []string, error) {
	stored := ""
	if status == StatusActive || status == StatusInactive {
		stored = status
	}
	index, pk := BranchPartition(typ, stored)
	pkName, skName := index+"PK", index+"SK"
	key := expression.Key(pkName).Equal(expression.Value(pk))
	if prefix := BranchPrefix(scope.Lineage()); prefix != "" {
		key = key.And(expression.Key(skName).BeginsWith(prefix))
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	until, stamp := expression.Name("attrs.validUntil"), expression.Value(nodes.Stamp(now))
	switch status {
	case StatusExpired:
		b = b.WithFilter(until.LessThanEqual(stamp))
	case StatusActive, StatusInactive:
		b = b.WithFilter(expression.AttributeNotExists(until).Or(until.GreaterThan(stamp)))
	}
	expr, err := b.Build()
	if err != nil {
		return dynamodb.QueryInput{}, nil, err
	}
	return dynamodb.QueryInput{
		IndexName: &index, KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, []string{"PK", "SK", pkName, skName}, nil
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q := api.TargetOf(r.Context()).(listQuery)
	now := s.now()
	in, keyAttrs, err := listInput(q.scope, q.Filters["type"], q.Filters["status"], now)
	if err != nil {
		return err
	}
	caller := api.CallerOf(r.Context())
	// The scope is part of the binding even when it was implied by the caller's node.
	binding := q.Binding(caller.UserID, "GET /v1/licenses\n"+q.scope.ID)
	if q.Cursor != "" {
		start, err := s.Cursors.Decode(binding, q.Cursor)
		if err != nil {
			return problem.InvalidCursor()
		}
		in.ExclusiveStartKey = start
	}
	page, err := s.Store.QueryPage(r.Context(), in, q.Limit, keyAttrs)
	if err != nil {
		return err
	}
	out := Page{Items: make([]View, 0, len(page.Items))}
	for _, av := range page.Items {
		var it Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		// The key is shown by create and get, not in lists.
		out.Items = append(out.Items, it.View(now, false))
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
