// Package distributors serves the distributor operations: create, list, get, update,
// suspend, enable and delete. Distributors hang directly under the platform; only
// platform admins manage them.
package distributors

import (
	"errors"
	"net/http"
	"net/mail"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/cursor"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Statuses of a distributor.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Distributor is a distributor as the API shows it.
type Distributor struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	ContactEmail string `json:"contactEmail,omitempty"`
	Version      int    `json:"version"`
	CreatedAt    string `json:"createdAt"`
	UpdatedAt    string `json:"updatedAt"`
}

func fromItem(it nodes.Item) Distributor {
	return Distributor{
		ID: it.ID, Name: it.Name, Status: it.Status, ContactEmail: it.ContactEmail,
		Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
}

// auditFields are the fields the audit log compares.
func auditFields(it *nodes.Item) map[string]any {
	if it == nil {
		return nil
	}
	m := map[string]any{"name": it.Name, "status": it.Status}
	if it.ContactEmail != "" {
		m["contactEmail"] = it.ContactEmail
	}
	return m
}

// Service holds what the operations need.
type Service struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
}

const kind = "distributor"

// Operations lists every distributor operation, one per function.
func (s *Service) Operations() map[string]api.Operation {
	byID := func(id tree.Operation, method, path string, h api.Handler) api.Operation {
		return api.Operation{ID: id, Method: method, Path: path, Kind: kind, Callers: s.Callers, Target: s.target, Handle: h}
	}
	return map[string]api.Operation{
		"distributors-create": {ID: tree.OpDistributorsCreate, Method: http.MethodPost, Path: "/v1/distributors", Kind: kind, Callers: s.Callers,
			Handle: api.Idempotent(s.Store, s.create)},
		"distributors-list":   {ID: tree.OpDistributorsList, Method: http.MethodGet, Path: "/v1/distributors", Kind: kind, Callers: s.Callers, Handle: s.list},
		"distributors-get":    byID(tree.OpDistributorsGet, http.MethodGet, "/v1/distributors/{id}", s.get),
		"distributors-update": byID(tree.OpDistributorsUpdate, http.MethodPatch, "/v1/distributors/{id}", s.update),
		"distributors-suspend": byID(tree.OpDistributorsSuspend, http.MethodPost, "/v1/distributors/{id}/suspend",
			s.transition(StatusActive, StatusSuspended, "distributor.suspended")),
		"distributors-enable": byID(tree.OpDistributorsEnable, http.MethodPost, "/v1/distributors/{id}/enable",
			s.transition(StatusSuspended, StatusActive, "distributor.enabled")),
		"distributors-delete": byID(tree.OpDistributorsDelete, http.MethodDelete, "/v1/distributors/{id}", s.delete),
	}
}

// target loads the distributor named by the path. An id that cannot be a
// distributor's is answered like a missing one, without a read.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	id := r.PathValue("id")
	if !nodes.ValidID(tree.KindDistributor, id) {
		return tree.Node{}, nil, problem.NotFound(kind)
	}
	it, err := nodes.Get(r.Context(), s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != tree.KindDistributor) {
		return tree.Node{}, nil, problem.NotFound(kind)
	}
	if err != nil {
		return tree.Node{}, nil, err
	}
	return it.Node(), it, nil
}

func loaded(r *http.Request) nodes.Item { return api.TargetOf(r.Context()).(nodes.Item) }

var platform = tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}

func nameTaken() error {
	return problem.Conflict("name-taken", "another distributor already has this name",
		problem.Field("name", "already taken"))
}

func checkEmail(field, v string) error {
	if v == "" {
		return nil
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || len(v) > 254 {
		return problem.Invalid("the email address is invalid", problem.Field(field, "must be a plain email address such as ops@example.com"))
	}
	return nil
}

type createBody struct {
	Name         *string `json:"name"`
	ContactEmail string  `json:"contactEmail"`
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	var body createBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return problem.Invalid("the name is missing", problem.Field("name", "is required"))
	}
	name, err := nodes.CleanName("name", *body.Name)
	if err != nil {
		return err
	}
	if err := checkEmail("contactEmail", body.ContactEmail); err != nil {
		return err
	}
	it := nodes.NewChild(platform, tree.KindDistributor, name, StatusActive, time.Now())
	it.ContactEmail = body.ContactEmail
	if err := s.write(r, "distributor.created", nil, &it, nodes.ClaimName); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/distributors/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, fromItem(it))
}

// write stores a change from before to after (either may be nil) with its change
// record, in one transaction. claim, when set, claims after's name.
func (s *Service) write(r *http.Request, action string, before, after *nodes.Item,
	claim func(nodes.Item, error) (store.Write, error)) error {
	var writes []store.Write
	target := before
	if after != nil {
		target = after
		// A new node's id is fresh, so its condition failing is not the client's doing.
		cond, onFail := store.NotExists(), error(nil)
		if before != nil {
			cond, onFail = store.VersionIs(before.Version), problem.Stale()
		}
		put, err := store.Put(after, cond)
		if err != nil {
			return err
		}
		writes = append(writes, store.Write{Item: put, OnConditionFail: onFail})
	} else {
		writes = append(writes, store.Write{
			Item: store.Delete(nodes.Key(before.ID), store.VersionIs(before.Version)), OnConditionFail: problem.Stale(),
		})
	}
	if before != nil && (after == nil || claim != nil) {
		writes = append(writes, nodes.ReleaseName(*before, problem.Stale()))
	}
	if claim != nil {
		w, err := claim(*after, nameTaken())
		if err != nil {
			return err
		}
		writes = append(writes, w)
	}
	rec, err := audit.Record(r, audit.Change{
		Action: action,
		Target: audit.Target{Type: kind, ID: target.ID, Name: target.Name},
		Scope:  audit.NodeScope(target.Node()),
		Before: auditFields(before), After: auditFields(after),
	})
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(), append(writes, rec)...)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, fromItem(it))
}

type updateBody struct {
	Name         *string `json:"name"`
	ContactEmail *string `json:"contactEmail"`
}

func (s *Service) update(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	var body updateBody
	nulls, err := api.DecodePatch(r, &body)
	if err != nil {
		return err
	}
	for _, f := range nulls {
		switch f {
		case "name":
			return problem.Invalid("the name cannot be removed", problem.Field("name", "must not be null"))
		case "contactEmail":
			body.ContactEmail = new(string) // null removes the contact email, like ""
		}
	}
	if body.Name == nil && body.ContactEmail == nil {
		return problem.Invalid("the body changes nothing", problem.Field("body", "give at least one of name, contactEmail"))
	}
	after := before
	var claim func(nodes.Item, error) (store.Write, error)
	if body.Name != nil {
		name, err := nodes.CleanName("name", *body.Name)
		if err != nil {
			return err
		}
		after.Name = name
		if nodes.NameKey(name) != before.NameKey {
			claim = nodes.ClaimName
		}
	}
	if body.ContactEmail != nil {
		if err := checkEmail("contactEmail", *body.ContactEmail); err != nil {
			return err
		}
		after.ContactEmail = *body.ContactEmail
	}
	if after.Name == before.Name && after.ContactEmail == before.ContactEmail {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, fromItem(before))
	}
	after.Version++
	after.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
	after.SetIndexKeys()
	if err := s.write(r, "distributor.updated", &before, &after, claim); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, fromItem(after))
}

// transition builds the handler of a status action from one status to another.
func (s *Service) transition(from, to, action string) api.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		before := loaded(r)
		if err := api.CheckVersion(r, before.Version); err != nil {
			return err
		}
		if before.Status != from {
			return problem.Conflict("invalid-transition", "the distributor is "+before.Status,
				problem.Field("status", "is already "+before.Status))
		}
		after := before
		after.Status = to
		after.Version++
		after.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
		after.SetIndexKeys()
		if err := s.write(r, action, &before, &after, nil); err != nil {
			return err
		}
		w.Header().Set("ETag", api.ETag(after.Version))
		return api.WriteJSON(w, http.StatusOK, fromItem(after))
	}
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := s.write(r, "distributor.deleted", &before, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Page is a page of distributors.
type Page struct {
	Items      []Distributor `json:"items"`
	NextCursor *string       `json:"nextCursor"`
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q, err := api.ParseList(r, "q", "status")
	if err != nil {
		return err
	}
	var errs []problem.FieldError
	status, byStatus := q.Filters["status"]
	if byStatus && status != StatusActive && status != StatusSuspended {
		errs = append(errs, problem.Field("status", "must be one of active, suspended"))
	}
	search, hasSearch := q.Filters["q"]
	if hasSearch {
		search, err = nodes.CleanName("q", search)
		if err != nil {
			var p *problem.Problem
			errors.As(err, &p)
			errs = append(errs, p.Errors...)
		}
	}
	if len(errs) > 0 {
		return problem.Invalid("the query string is invalid", errs...)
	}
	index, pk, sk := "GSI1", nodes.ChildrenKey(tree.PlatformID, tree.KindDistributor), "GSI1SK"
	pkName := "GSI1PK"
	if byStatus {
		index, pk, pkName, sk = "GSI2", nodes.ChildrenByStatusKey(tree.PlatformID, tree.KindDistributor, status), "GSI2PK", "GSI2SK"
	}
	key := expression.Key(pkName).Equal(expression.Value(pk))
	if hasSearch {
		key = key.And(expression.Key(sk).BeginsWith(nodes.NameKey(search)))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return err
	}
	in := dynamodb.QueryInput{
		IndexName: &index, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	caller := api.CallerOf(r.Context())
	binding := q.Binding(caller.UserID, "GET /v1/distributors")
	if q.Cursor != "" {
		start, err := s.Cursors.Decode(binding, q.Cursor)
		if err != nil {
			return problem.InvalidCursor()
		}
		in.ExclusiveStartKey = start
	}
	page, err := s.Store.QueryPage(r.Context(), in, q.Limit, []string{"PK", "SK", pkName, sk})
	if err != nil {
		return err
	}
	out := Page{Items: make([]Distributor, 0, len(page.Items))}
	for _, av := range page.Items {
		var it nodes.Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		out.Items = append(out.Items, fromItem(it))
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
