package webhooks

import (
	"context"
	"encoding/json"
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
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/ssrf"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// Resource is the path of the collection.
const Resource = "/v1/webhook-endpoints"

// Service serves /v1/webhook-endpoints and /v1/webhook-event-types.
type Service struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
	// Sealer encrypts new secrets (create, rotate-secret); nil in the other functions.
	// No function here sends to the delivery queue: each writes its change record in
	// the transaction of its change, and the dispatcher queues the work the record
	// asks for (a verification, a test, a redelivery, a recovery), so the work is
	// never lost between a committed change and a send that failed.
	Sealer Sealer
	// Guard judges URLs at registration.
	Guard ssrf.Guard
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Operations lists the service's operations by function name.
func (s *Service) Operations() map[string]api.Operation {
	const res = Resource
	mk := func(id tree.Operation, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: id, Method: method, Path: path, Kind: Kind, Callers: s.Callers, Target: target, Handle: h}
	}
	testOp := mk(tree.OpWebhookEndpointsTest, http.MethodPost, res+"/{id}/test", s.target, s.test)
	testOp.NodeLimit = throttle.PerNode(s.Store, throttle.WebhookTests, holderOf)
	recoverOp := mk(tree.OpWebhookEndpointsRecover, http.MethodPost, res+"/{id}/recover", s.target, s.recover)
	recoverOp.NodeLimit = throttle.PerNode(s.Store, throttle.WebhookRecoveries, holderOf)
	return map[string]api.Operation{
		"webhook-endpoints-create":        mk(tree.OpWebhookEndpointsCreate, http.MethodPost, res, s.nodeFromBody, s.create),
		"webhook-endpoints-list":          mk(tree.OpWebhookEndpointsList, http.MethodGet, res, s.scopeFromQuery, s.list),
		"webhook-endpoints-get":           mk(tree.OpWebhookEndpointsGet, http.MethodGet, res+"/{id}", s.target, s.get),
		"webhook-endpoints-update":        mk(tree.OpWebhookEndpointsUpdate, http.MethodPatch, res+"/{id}", s.target, s.update),
		"webhook-endpoints-delete":        mk(tree.OpWebhookEndpointsDelete, http.MethodDelete, res+"/{id}", s.target, s.delete),
		"webhook-endpoints-rotate-secret": mk(tree.OpWebhookEndpointsRotate, http.MethodPost, res+"/{id}/rotate-secret", s.target, s.rotate),
		"webhook-endpoints-verify":        mk(tree.OpWebhookEndpointsVerify, http.MethodPost, res+"/{id}/verify", s.target, s.verify),
		"webhook-endpoints-enable":        mk(tree.OpWebhookEndpointsEnable, http.MethodPost, res+"/{id}/enable", s.target, s.enable),
		"webhook-endpoints-test":          testOp,
		"webhook-endpoints-recover":       recoverOp,
		"webhook-deliveries-list":         mk(tree.OpWebhookDeliveriesList, http.MethodGet, res+"/{id}/deliveries", s.target, s.deliveries),
		"webhook-deliveries-redeliver":    mk(tree.OpWebhookDeliveriesResend, http.MethodPost, res+"/{id}/deliveries/{deliveryId}/redeliver", s.target, s.redeliver),
		"webhook-event-types-list": {ID: tree.OpWebhookEventTypesList, Method: http.MethodGet, Path: "/v1/webhook-event-types",
			Kind: "webhook-event-type", Callers: s.Callers, Handle: s.eventTypes},
	}
}

// roleAllows refuses, before anything is read, a caller whose role may never do op.
func roleAllows(r *http.Request, op tree.Operation) error {
	if err := tree.Allow(op, api.CallerOf(r.Context()), nil); err != nil {
		return problem.Forbidden("your role may not " + string(op))
	}
	return nil
}

func decodeBody(r *http.Request) (body, error) {
	b, err := api.DecodeObject(r)
	return body(b), err
}

// created carries what the create's target loader read to the handler.
type created struct {
	node nodes.Item
	body body
}

// loadNode reads the node id names, which must hold endpoints; anything else is a
// 404 naming the field.
func (s *Service) loadNode(ctx context.Context, field, id string) (nodes.Item, error) {
	notFound := func() error {
		p := problem.NotFound("node")
		p.Errors = []problem.FieldError{problem.Field(field, "no such distributor, partner or organization")}
		return p
	}
	kind, ok := nodes.KindOfID(id)
	if !ok || !Holder(kind) || !nodes.ValidID(kind, id) {
		return nodes.Item{}, notFound()
	}
	it, err := nodes.Get(ctx, s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != kind) {
		return nodes.Item{}, notFound()
	}
	return it, err
}

// nodeFromBody decodes a create's body and loads the node its nodeId names.
func (s *Service) nodeFromBody(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpWebhookEndpointsCreate); err != nil {
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
		return tree.Node{}, nil, problem.Invalid("the node is missing", problem.Field("nodeId", "is required"))
	case json.Unmarshal(v, &id) != nil:
		return tree.Node{}, nil, problem.Invalid("the node id is malformed", problem.Field("nodeId", "must be a string"))
	}
	if k, ok := nodes.KindOfID(id); !ok || !Holder(k) || !nodes.ValidID(k, id) {
		return tree.Node{}, nil, problem.Invalid("the node id is malformed",
			problem.Field("nodeId", "must be the id of a distributor, partner or organization (dst_…, prt_…, org_…)"))
	}
	n, err := s.loadNode(r.Context(), "nodeId", id)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return n.Node(), created{node: n, body: b}, nil
}

func (s *Service) checkURL(raw string) error {
	_, err := s.Guard.CheckURL(raw)
	return err
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	c := api.TargetOf(r.Context()).(created)
	e, errs := readEdit(c.body, true, s.checkURL)
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	now := s.now()
	ts := nodes.Stamp(now)
	id := NewID()
	secret := NewSecret()
	sealed, err := s.Sealer.Seal(r.Context(), id, []byte(secret))
	if err != nil {
		return err
	}
	it := apply(Item{
		PK: PK(id), SK: SK, Type: ItemType, ID: id, ParentID: c.node.ID, NodeKind: c.node.Kind, Path: c.node.Node().Lineage(),
		Status: StatusPending, Secrets: []Sealed{{Ciphertext: sealed, CreatedAt: ts}}, Version: 1, CreatedAt: ts, UpdatedAt: ts,
	}, e)
	it.SetIndexKeys()
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		return err
	}
	inService, err := nodes.InService(c.node.ID)
	if err != nil {
		return err
	}
	gone := problem.NotFound("node")
	gone.Errors = []problem.FieldError{problem.Field("nodeId", "no such distributor, partner or organization")}
	// The dispatcher sends the challenge when it reads the change record.
	if err := s.write(r, "created", nil, &it, put, inService.FailsWith(gone)); err != nil {
		return err
	}
	w.Header().Set("Location", Resource+"/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, WithSecret{View: it.View(), Secret: secret})
}

// write commits writes with the change record of the change from before to after.
func (s *Service) write(r *http.Request, verb string, before, after *Item, writes ...store.Write) error {
	rec, err := audit.Record(r, Change(verb, before, after, nil))
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(), append(writes, rec)...)
}

// Change describes a change of an endpoint for the audit log, under action
// webhook-endpoint.<verb>; extra adds fields of the change that are not the
// endpoint's (the delivery redelivered, the span recovered).
func Change(verb string, before, after *Item, extra map[string]any) audit.Change {
	target := after
	if target == nil {
		target = before
	}
	b, a := auditFields(before), auditFields(after)
	if len(extra) > 0 {
		if a == nil {
			a = map[string]any{}
		}
		if b == nil {
			b = map[string]any{}
		}
		for k, v := range extra {
			a[k] = v
		}
	}
	return audit.Change{
		Action: Kind + "." + verb,
		Target: audit.Target{Type: Kind, ID: target.ID, Name: target.Attrs.URL},
		Scope:  target.Path,
		Before: b, After: a,
		Version: target.Version,
	}
}

// target loads the endpoint the path names.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	return api.ItemTarget(s.Store, Kind, ValidID, Key, func(it Item) (tree.Node, bool) {
		return it.policyNode(), it.Type == ItemType && len(it.Path) > 0
	})(r)
}

func loaded(r *http.Request) Item { return api.TargetOf(r.Context()).(Item) }

// holderOf is the node holding the loaded endpoint, which its allowances are counted
// against: the target's own node is the endpoint, and counting per endpoint would let
// a tenant multiply an allowance by creating endpoints.
func holderOf(r *http.Request) string { return loaded(r).ParentID }

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, it.View())
}

// Advance makes after the next version of before and returns its conditional put.
func Advance(before Item, after *Item, now time.Time) (store.Write, error) {
	after.Version = before.Version + 1
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
	e, errs := readEdit(b, false, s.checkURL)
	if len(errs) == 0 && len(b) == 0 {
		errs = append(errs, problem.Field("body", "give at least one of "+strings.Join(updateFields, ", ")))
	}
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	after := apply(before, e)
	if after.Attrs.URL == before.Attrs.URL && after.Attrs.Description == before.Attrs.Description && slices.Equal(after.Attrs.EventTypes, before.Attrs.EventTypes) {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, before.View())
	}
	// A new URL is verified again: until it answers, it receives nothing.
	reverify := after.Attrs.URL != before.Attrs.URL && before.Status != StatusDisabled
	if reverify {
		after.Status, after.Attrs.VerifiedAt, after.Attrs.VerificationError = StatusPending, "", ""
	}
	put, err := Advance(before, &after, s.now())
	if err != nil {
		return err
	}
	if err := s.write(r, "updated", &before, &after, put); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, after.View())
}

func noQuery(r *http.Request) error {
	if len(r.URL.RawQuery) > 0 {
		return problem.Invalid("the query string is invalid", problem.Field("query", "takes no parameters"))
	}
	return nil
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	if err := noQuery(r); err != nil {
		return err
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	// Its deliveries stay until their TTL; nothing reads them once the endpoint is gone.
	del := store.Delete(Key(before.ID), store.VersionIs(before.Version)).FailsWith(problem.Stale())
	if err := s.write(r, "deleted", &before, nil, del); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotate makes a new secret: the old one signs beside it for Overlap, then stops.
func (s *Service) rotate(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	if err := noQuery(r); err != nil {
		return err
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	now := s.now()
	secret := NewSecret()
	sealed, err := s.Sealer.Seal(r.Context(), before.ID, []byte(secret))
	if err != nil {
		return err
	}
	after := before
	after.Secrets = []Sealed{{Ciphertext: sealed, CreatedAt: nodes.Stamp(now)}}
	for _, old := range before.Secrets {
		if old.ExpiresAt == "" {
			old.ExpiresAt = nodes.Stamp(now.Add(Overlap))
		}
		if t, err := time.Parse(time.RFC3339, old.ExpiresAt); err == nil && t.After(now) {
			after.Secrets = append(after.Secrets, old)
		}
	}
	after.Attrs.SecretRotatedAt = nodes.Stamp(now)
	put, err := Advance(before, &after, now)
	if err != nil {
		return err
	}
	if err := s.write(r, "secret-rotated", &before, &after, put); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, WithSecret{View: after.View(), Secret: secret})
}

// Accepted is the answer of the actions that queue work.
type Accepted struct {
	EndpointID string `json:"endpointId"`
	DeliveryID string `json:"deliveryId,omitempty"`
	Status     string `json:"status"`
}

// verify sends the challenge again to a pending endpoint (an active one is already
// verified; a disabled one is enabled first).
func (s *Service) verify(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	if err := noQuery(r); err != nil {
		return err
	}
	if it.Status != StatusPending {
		return problem.Conflict("invalid-transition", "the endpoint is "+it.Status+"; only a pending one is verified (a disabled one is enabled)",
			problem.Field("status", "is "+it.Status))
	}
	if err := s.replayed(r, it, "verification-requested", map[string]any{"verificationRequested": nodes.Stamp(s.now())}); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusAccepted, Accepted{EndpointID: it.ID, Status: it.Status})
}

// enable makes a disabled endpoint pending and sends it the challenge: it is active
// again once it answers.
func (s *Service) enable(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	if err := noQuery(r); err != nil {
		return err
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if before.Status != StatusDisabled {
		return problem.Conflict("invalid-transition", "the endpoint is "+before.Status+"; only a disabled one can be enabled",
			problem.Field("status", "is "+before.Status))
	}
	after := before
	after.Status = StatusPending
	after.Attrs.FailingSince, after.Attrs.DisabledAt, after.Attrs.LastError, after.Attrs.VerificationError = "", "", "", ""
	put, err := Advance(before, &after, s.now())
	if err != nil {
		return err
	}
	if err := s.write(r, "enabled", &before, &after, put); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, after.View())
}

// EventTypesPage is the catalog's answer.
type EventTypesPage struct {
	Items []EventType `json:"items"`
}

func (s *Service) eventTypes(w http.ResponseWriter, r *http.Request) error {
	if err := roleAllows(r, tree.OpWebhookEventTypesList); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, EventTypesPage{Items: Catalog()})
}

// Page is a page of endpoints.
type Page struct {
	Items      []View  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

type listQuery struct {
	api.ListQuery
	scope tree.Node
}

// scopeFromQuery validates a list's query and finds the node whose endpoints it
// lists: nodeId, else the caller's own node.
func (s *Service) scopeFromQuery(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpWebhookEndpointsList); err != nil {
		return tree.Node{}, nil, err
	}
	q, err := api.ParseList(r, "nodeId", "status")
	if err != nil {
		return tree.Node{}, nil, err
	}
	var errs []problem.FieldError
	if v, ok := q.Filters["status"]; ok && !slices.Contains(Statuses, v) {
		errs = append(errs, problem.Field("status", "must be one of "+strings.Join(Statuses, ", ")))
	}
	id, byNode := q.Filters["nodeId"]
	if byNode {
		if k, ok := nodes.KindOfID(id); !ok || !Holder(k) || !nodes.ValidID(k, id) {
			errs = append(errs, problem.Field("nodeId", "must be the id of a distributor, partner or organization (dst_…, prt_…, org_…)"))
		}
	}
	if len(errs) > 0 {
		return tree.Node{}, nil, problem.Invalid("the query string is invalid", errs...)
	}
	caller := api.CallerOf(r.Context())
	scope := caller.Node
	if byNode && id != caller.Node.ID {
		n, err := s.loadNode(r.Context(), "nodeId", id)
		if err != nil {
			return tree.Node{}, nil, err
		}
		scope = n.Node()
	}
	return scope, listQuery{ListQuery: q, scope: scope}, nil
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q := api.TargetOf(r.Context()).(listQuery)
	out := Page{Items: []View{}}
	caller := api.CallerOf(r.Context())
	binding := q.Binding(caller.UserID, "GET "+Resource+"\n"+q.scope.ID)
	var start store.Item
	if q.Cursor != "" {
		var err error
		if start, err = s.Cursors.Decode(binding, q.Cursor); err != nil {
			return problem.InvalidCursor()
		}
	}
	if !Holder(q.scope.Kind) {
		return api.WriteJSON(w, http.StatusOK, out)
	}
	in, keyAttrs, err := ListInput(q.scope.ID, q.Filters["status"])
	if err != nil {
		return err
	}
	in.ExclusiveStartKey = start
	page, err := s.Store.QueryPage(r.Context(), in, q.Limit, keyAttrs)
	if err != nil {
		return err
	}
	for _, av := range page.Items {
		var it Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		out.Items = append(out.Items, it.View())
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

// ListInput is the one Query of a node's endpoints of status ("" for any), in id
// (creation) order: GSI1 without a status, GSI2 with one.
func ListInput(nodeID, status string) (dynamodb.QueryInput, []string, error) {
	index := "GSI1"
	if status != "" {
		index = "GSI2"
	}
	key := expression.Key(index + "PK").Equal(expression.Value(ScopeKey(nodeID, status)))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return dynamodb.QueryInput{}, nil, err
	}
	return dynamodb.QueryInput{
		IndexName: &index, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, []string{"PK", "SK", index + "PK", index + "SK"}, nil
}
