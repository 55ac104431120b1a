package clientservices

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
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

// Service serves /v1/client-services.
type Service struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
	// Now is the clock expiresInDays is computed by (time.Now when nil).
	Now func() time.Time
}

// Function is the constructor of the named function (client-services-create, …) for
// the function table (shared/lambdas) and the function's main.
func Function(name string) func(deps.Deps) api.Operation {
	return func(d deps.Deps) api.Operation {
		s := &Service{Store: d.Store, Cursors: d.Cursors, Callers: d.Callers}
		op, ok := s.Operations()[name]
		if !ok {
			panic("clientservices: no operation " + name)
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

// Resource is the path of the collection.
const Resource = "/v1/client-services"

// Operations lists the service's operations by function name.
func (s *Service) Operations() map[string]api.Operation {
	const res = Resource
	mk := func(id tree.Operation, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: id, Method: method, Path: path, Kind: Kind, Callers: s.Callers, Target: target, Handle: h}
	}
	return map[string]api.Operation{
		"client-services-create":                mk(tree.OpClientServicesCreate, http.MethodPost, res, s.organizationFromBody, idempotency.Wrap(s.Store, s.create)),
		"client-services-list":                  mk(tree.OpClientServicesList, http.MethodGet, res, s.scopeFromQuery, s.list),
		"client-services-get":                   mk(tree.OpClientServicesGet, http.MethodGet, res+"/{id}", s.target, s.get),
		"client-services-certificate-get":       mk(tree.OpClientServicesCertificateGet, http.MethodGet, res+"/{id}/certificate", s.target, s.certificate),
		"client-services-update":                mk(tree.OpClientServicesUpdate, http.MethodPatch, res+"/{id}", s.target, s.update),
		"client-services-delete":                mk(tree.OpClientServicesDelete, http.MethodDelete, res+"/{id}", s.target, s.delete),
		"client-services-activate":              mk(tree.OpClientServicesActivate, http.MethodPost, res+"/{id}/activate", s.target, s.transition(StatusInactive, StatusActive, "activated")),
		"client-services-deactivate":            mk(tree.OpClientServicesDeactivate, http.MethodPost, res+"/{id}/deactivate", s.target, s.transition(StatusActive, StatusInactive, "deactivated")),
		"client-services-configurations-get":    mk(tree.OpClientServicesConfigurationsGet, http.MethodGet, res+"/{id}/configurations", s.target, s.configurations),
		"client-services-configurations-update": mk(tree.OpClientServicesConfigurationsUpdate, http.MethodPatch, res+"/{id}/configurations", s.target, s.configure),
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

// loadNode reads node id, which must be of kind; a missing one is a 404 named after
// its kind.
func (s *Service) loadNode(ctx context.Context, kind tree.Kind, id string) (nodes.Item, error) {
	if !nodes.ValidID(kind, id) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	it, err := nodes.Get(ctx, s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != kind) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	return it, err
}

// created carries what the create's target loader read to the handler.
type created struct {
	org  nodes.Item
	body body
}

func decodeBody(r *http.Request) (body, error) {
	var b body
	if err := api.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	if b == nil { // the JSON null
		return nil, problem.MalformedJSON("the body must be a JSON object")
	}
	return b, nil
}

// organizationFromBody decodes a create's body and loads the organization its
// organizationId names: the policy then checks that the caller may create there.
func (s *Service) organizationFromBody(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpClientServicesCreate); err != nil {
		return tree.Node{}, nil, err
	}
	b, err := decodeBody(r)
	if err != nil {
		return tree.Node{}, nil, err
	}
	v, ok := b["organizationId"]
	var id string
	switch {
	case !ok || isNull(v):
		return tree.Node{}, nil, problem.Invalid("the organization is missing", problem.Field("organizationId", "is required"))
	case jsonString(v, &id) != nil:
		return tree.Node{}, nil, problem.Invalid("the organization id is malformed", problem.Field("organizationId", "must be a string"))
	case !nodes.ValidID(tree.KindOrganization, id):
		return tree.Node{}, nil, problem.Invalid("the organization id is malformed",
			problem.Field("organizationId", "must be the id of an organization (org_…)"))
	}
	org, err := s.loadNode(r.Context(), tree.KindOrganization, id)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return org.Node(), created{org: org, body: b}, nil
}

func (s *Service) aliasTaken() error {
	return problem.Conflict("name-taken", "another client service of this organization already has this alias",
		problem.Field("alias", "already taken"))
}

// claimAlias is the write that claims its alias in its organization (409 name-taken
// when another service holds it).
func (s *Service) claimAlias(it Item) (store.Write, error) {
	put, err := store.Put(AliasClaim(it), store.NotExists())
	return put.FailsWith(s.aliasTaken()), err
}

// releaseAlias is the write that frees its alias, if it still holds it.
func releaseAlias(it Item) store.Write {
	return store.Delete(UniqueAliasKey(it.ParentID, it.Name), store.AttrIs("ownerId", it.ID)).FailsWith(problem.Stale())
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	c := api.TargetOf(r.Context()).(created)
	e, errs := readEdit(c.body, true)
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	now := s.now()
	it := apply(New(c.org.Node(), "", now), e)
	it.SetIndexKeys()
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		return err
	}
	listing, err := store.Put(it.Listing(), nil)
	if err != nil {
		return err
	}
	claim, err := s.claimAlias(it)
	if err != nil {
		return err
	}
	// The organization must still be there, and not being deleted, when the service
	// is written: otherwise nothing would ever sweep it (shared/sweep).
	inService, err := nodes.InService(c.org.ID)
	if err != nil {
		return err
	}
	gone := problem.NotFound(string(tree.KindOrganization))
	gone.Errors = []problem.FieldError{problem.Field("organizationId", "no such organization")}
	if err := s.write(r, "created", nil, &it, put, listing, claim, inService.FailsWith(gone)); err != nil {
		return err
	}
	w.Header().Set("Location", Resource+"/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, it.View(now))
}

// New is a new active client service of organization org with alias, before its
// other fields are set and its index keys derived (SetIndexKeys).
func New(org tree.Node, alias string, now time.Time) Item {
	ts := nodes.Stamp(now)
	id := NewID()
	return Item{
		PK: PK(id), SK: SK, Type: ItemType, ID: id, ParentID: org.ID, Path: org.Lineage(), Name: alias,
		Status: StatusActive, Version: 1, CreatedAt: ts, UpdatedAt: ts,
	}
}

// AliasClaim is the unique-key item that holds the service's alias in its organization.
func AliasClaim(it Item) nodes.UniqueName {
	return nodes.Unique(UniqueAliasPK(it.ParentID, it.Name), it.ID)
}

// write commits writes with the change record of the change from before to after
// (either may be nil), in one transaction.
func (s *Service) write(r *http.Request, verb string, before, after *Item, writes ...store.Write) error {
	rec, err := audit.Record(r, Change(verb, before, after))
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(), append(writes, rec)...)
}

// Change describes the change from before to after (either may be nil) for the
// audit log, under action client-service.<verb>; the sweeper records its deletions
// with it.
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

// target loads the client service the path names. One outside the caller's branch
// is answered by the middleware exactly like a missing one.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	return api.ItemTarget(s.Store, Kind, ValidID, Key, func(it Item) (tree.Node, bool) {
		return it.PolicyNode(), it.Type == ItemType && len(it.Path) > 0
	})(r)
}

func loaded(r *http.Request) Item { return api.TargetOf(r.Context()).(Item) }

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, it.View(s.now()))
}

// CertificatePEM is the answer of GET …/{id}/certificate.
type CertificatePEM struct {
	Certificate string `json:"certificate"`
}

func (s *Service) certificate(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	if it.PEM == "" {
		p := problem.NotFound("certificate")
		p.Detail = "the client service has no certificate"
		return p
	}
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, CertificatePEM{Certificate: it.PEM})
}

// advance makes after, an edited copy of before, the next version, and returns the
// writes that store it and its listing copy if before is still the current version.
func advance(before Item, after *Item, now time.Time) ([]store.Write, error) {
	after.Version++
	after.UpdatedAt = nodes.Stamp(now)
	after.SetIndexKeys()
	put, err := store.Put(*after, store.VersionIs(before.Version))
	if err != nil {
		return nil, err
	}
	listing, err := store.Put(after.Listing(), nil)
	return []store.Write{put.FailsWith(problem.Stale()), listing}, err
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
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	// The body is judged before the version: a malformed request is a 400 whatever its If-Match.
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	now := s.now()
	after := apply(before, e)
	if same(before, after) {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, before.View(now))
	}
	writes, err := advance(before, &after, now)
	if err != nil {
		return err
	}
	if AliasKey(after.Name) != AliasKey(before.Name) {
		claim, err := s.claimAlias(after)
		if err != nil {
			return err
		}
		writes = append(writes, releaseAlias(before), claim)
	}
	if err := s.write(r, "updated", &before, &after, writes...); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, after.View(now))
}

// transition builds the handler of a status action from status from to to.
func (s *Service) transition(from, to, past string) api.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		before := loaded(r)
		if err := api.CheckVersion(r, before.Version); err != nil {
			return err
		}
		if before.Status != from {
			return problem.Conflict("invalid-transition", "the client service is "+before.Status+"; only an "+from+" one can be "+past,
				problem.Field("status", "is "+before.Status))
		}
		now := s.now()
		after := before
		after.Status = to
		writes, err := advance(before, &after, now)
		if err != nil {
			return err
		}
		if err := s.write(r, past, &before, &after, writes...); err != nil {
			return err
		}
		w.Header().Set("ETag", api.ETag(after.Version))
		return api.WriteJSON(w, http.StatusOK, after.View(now))
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
	if err := s.write(r, "deleted", &before, nil, Removal(before, problem.Stale())...); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Removal is the writes that delete client service it as read (its item, conditional
// on its version, failing with stale; its listing copy; its alias's unique item; its
// mail settings, if it has them).
// The sweeper removes a deleted organization's services with them.
func Removal(it Item, stale error) []store.Write {
	return []store.Write{
		store.Delete(Key(it.ID), store.VersionIs(it.Version)).FailsWith(stale),
		store.Delete(ListingKey(it.ID), nil),
		store.Delete(UniqueAliasKey(it.ParentID, it.Name), store.AttrIs("ownerId", it.ID)).FailsWith(stale),
		store.Delete(SMTPKey(it.ID), nil),
	}
}

// Page is a page of client services.
type Page struct {
	Items      []View  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// listQuery is a validated list request with the node whose subtree it lists; empty
// is set when the filters contradict each other (an organization outside the
// partner named), so that nothing can match and nothing is read.
type listQuery struct {
	api.ListQuery
	scope tree.Node
	empty bool
}

// Filters are the list's query parameters besides limit and cursor.
var Filters = []string{"q", "status", "partnerId", "organizationId"}

// scopeFromQuery validates a list's query and finds the node whose subtree's
// services it lists: organizationId, else partnerId, else the caller's own node. The
// policy then checks that the caller may see that node.
func (s *Service) scopeFromQuery(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpClientServicesList); err != nil {
		return tree.Node{}, nil, err
	}
	q, err := api.ParseList(r, Filters...)
	if err != nil {
		return tree.Node{}, nil, err
	}
	var errs []problem.FieldError
	if v, ok := q.Filters["status"]; ok && !slices.Contains(Statuses, v) {
		errs = append(errs, problem.Field("status", "must be one of "+strings.Join(Statuses, ", ")))
	}
	if v, ok := q.Filters["q"]; ok {
		clean, fe := CleanAlias("q", v)
		if fe != nil {
			errs = append(errs, *fe)
		}
		q.Filters["q"] = clean
	}
	partnerID, byPartner := q.Filters["partnerId"]
	if byPartner && !nodes.ValidID(tree.KindPartner, partnerID) {
		errs = append(errs, problem.Field("partnerId", "must be the id of a partner (prt_…)"))
	}
	orgID, byOrg := q.Filters["organizationId"]
	if byOrg && !nodes.ValidID(tree.KindOrganization, orgID) {
		errs = append(errs, problem.Field("organizationId", "must be the id of an organization (org_…)"))
	}
	if len(errs) > 0 {
		return tree.Node{}, nil, problem.Invalid("the query string is invalid", errs...)
	}
	caller := api.CallerOf(r.Context())
	scope := caller.Node
	switch {
	case byOrg:
		scope = tree.Node{ID: orgID, Kind: tree.KindOrganization}
	case byPartner:
		scope = tree.Node{ID: partnerID, Kind: tree.KindPartner}
	}
	if scope.ID == caller.Node.ID {
		// The caller's own node, read by the guard a moment ago (with its lineage).
		scope = caller.Node
	} else {
		it, err := s.loadNode(r.Context(), scope.Kind, scope.ID)
		if err != nil {
			return tree.Node{}, nil, err
		}
		scope = it.Node()
	}
	// An organization's partner is the third of its lineage (platform, distributor,
	// partner): another partner named with it leaves nothing to list.
	empty := byOrg && byPartner && (len(scope.Path) < 3 || scope.Path[2] != partnerID)
	return scope, listQuery{ListQuery: q, scope: scope, empty: empty}, nil
}

// listInput is the one Query of a page of the services below scope in status ("" for
// any) whose alias begins with prefix ("" for any), in alias order.
func listInput(scope tree.Node, status, prefix string) (dynamodb.QueryInput, []string, error) {
	index := Index(scope.Kind, status != "")
	pkName, skName := index+"PK", index+"SK"
	key := expression.Key(pkName).Equal(expression.Value(ScopeKey(scope.ID, status)))
	if prefix != "" {
		key = key.And(expression.Key(skName).BeginsWith(AliasKey(prefix)))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return dynamodb.QueryInput{}, nil, err
	}
	return dynamodb.QueryInput{
		IndexName: &index, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, []string{"PK", "SK", pkName, skName}, nil
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q := api.TargetOf(r.Context()).(listQuery)
	out := Page{Items: []View{}}
	caller := api.CallerOf(r.Context())
	// The scope is part of the binding even when it was implied by the caller's node.
	binding := q.Binding(caller.UserID, "GET "+Resource+"\n"+q.scope.ID)
	var start store.Item
	if q.Cursor != "" {
		var err error
		if start, err = s.Cursors.Decode(binding, q.Cursor); err != nil {
			return problem.InvalidCursor()
		}
	}
	if q.empty {
		return api.WriteJSON(w, http.StatusOK, out)
	}
	in, keyAttrs, err := listInput(q.scope, q.Filters["status"], q.Filters["q"])
	if err != nil {
		return err
	}
	in.ExclusiveStartKey = start
	page, err := s.Store.QueryPage(r.Context(), in, q.Limit, keyAttrs)
	if err != nil {
		return err
	}
	now := s.now()
	for _, av := range page.Items {
		var it Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		out.Items = append(out.Items, it.View(now))
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

// jsonString reads a JSON string member into s.
func jsonString(v json.RawMessage, s *string) error { return json.Unmarshal(v, s) }

// configurations serves GET …/{id}/configurations: every setting of the catalog with
// its value. The ETag is the service's version (a change of configurations makes the
// next one).
func (s *Service) configurations(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, it.Config.View())
}

// configure serves PATCH …/{id}/configurations {key: value | null}: the body is judged
// whole (every bad key named) before If-Match, then the service's item is written
// with its new configurations, as its next version, with the change record of every
// effective value that changed.
func (s *Service) configure(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	b, err := api.DecodeObject(r)
	if err != nil {
		return err
	}
	ch, errs := ReadConfigurationChange(b)
	if len(errs) > 0 {
		return problem.Invalid("the configurations are invalid", errs...)
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	after := before
	after.Config = before.Config.Apply(ch)
	if reflect.DeepEqual(before.Config.Apply(nil), after.Config) {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, before.Config.View())
	}
	if len(after.Config) == 0 {
		after.Config = nil
	}
	writes, err := advance(before, &after, s.now())
	if err != nil {
		return err
	}
	rec, err := audit.Record(r, audit.Change{
		Action: Kind + ".configured",
		Target: audit.Target{Type: Kind, ID: before.ID, Name: before.Name},
		Scope:  before.Path,
		Before: before.Config.Effective(), After: after.Config.Effective(),
		Version: after.Version,
	})
	if err != nil {
		return err
	}
	if err := s.Store.Transact(r.Context(), append(writes, rec)...); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, after.Config.View())
}
