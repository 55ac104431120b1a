// Package levels serves the operations on the levels of the tree below the platform:
// create, list, get, update, suspend, enable and delete of distributors and partners
// (organizations and companies come next). One Level describes each; the code is the
// same for all, so every level gets the same validation, authorization, uniqueness,
// versioning and audit.
package levels

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/cursor"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Statuses of a distributor or partner.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Level describes one level of the tree as the API serves it.
type Level struct {
	Kind tree.Kind
	// Parent is the level above; ParentField names the parent's id in bodies, queries
	// and answers ("" when the parent is always the platform).
	Parent      tree.Kind
	ParentField string
	// Resource is the plural in paths and function names (distributors, partners).
	Resource string
	// Children are the kinds whose nodes hang below this level; a node with any of
	// them cannot be deleted.
	Children []tree.Kind
}

// The levels served today.
var (
	Distributors = Level{Kind: tree.KindDistributor, Parent: tree.KindPlatform, Resource: "distributors", Children: []tree.Kind{tree.KindPartner}}
	Partners     = Level{Kind: tree.KindPartner, Parent: tree.KindDistributor, ParentField: "distributorId", Resource: "partners", Children: []tree.Kind{tree.KindOrganization}}
)

// View is a node of a level as the API shows it; exactly one parent field is set,
// none for distributors.
type View struct {
	ID            string `json:"id"`
	DistributorID string `json:"distributorId,omitempty"`
	Name          string `json:"name"`
	Status        string `json:"status"`
	ContactEmail  string `json:"contactEmail,omitempty"`
	Version       int    `json:"version"`
	CreatedAt     string `json:"createdAt"`
	UpdatedAt     string `json:"updatedAt"`
}

func (l Level) view(it nodes.Item) View {
	v := View{
		ID: it.ID, Name: it.Name, Status: it.Status, ContactEmail: it.ContactEmail,
		Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
	if l.Parent == tree.KindDistributor {
		v.DistributorID = it.ParentID
	}
	return v
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

// Service serves one level's operations.
type Service struct {
	Level   Level
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
}

func (s *Service) op(verb string) tree.Operation {
	return tree.Operation(s.Level.Resource + "." + verb)
}

// Operations lists the level's operations keyed by function name
// (<resource>-<verb>, the folder under functions/).
func (s *Service) Operations() map[string]api.Operation {
	res, kind := "/v1/"+s.Level.Resource, string(s.Level.Kind)
	mk := func(verb, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: s.op(verb), Method: method, Path: path, Kind: kind, Callers: s.Callers, Target: target, Handle: h}
	}
	ops := map[string]api.Operation{
		"create":  mk("create", http.MethodPost, res, s.parentFromBody, api.Idempotent(s.Store, s.create)),
		"list":    mk("list", http.MethodGet, res, s.parentFromQuery, s.list),
		"get":     mk("get", http.MethodGet, res+"/{id}", s.target, s.get),
		"update":  mk("update", http.MethodPatch, res+"/{id}", s.target, s.update),
		"suspend": mk("suspend", http.MethodPost, res+"/{id}/suspend", s.target, s.transition(StatusActive, StatusSuspended, "suspended")),
		"enable":  mk("enable", http.MethodPost, res+"/{id}/enable", s.target, s.transition(StatusSuspended, StatusActive, "enabled")),
		"delete":  mk("delete", http.MethodDelete, res+"/{id}", s.target, s.delete),
	}
	out := make(map[string]api.Operation, len(ops))
	for verb, op := range ops {
		out[s.Level.Resource+"-"+verb] = op
	}
	return out
}

// target loads the node named by the path. An id that cannot be of this level is
// answered like a missing one, without a read.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	it, err := s.load(r.Context(), s.Level.Kind, r.PathValue("id"))
	if err != nil {
		return tree.Node{}, nil, err
	}
	return it.Node(), it, nil
}

// load reads node id of kind; a missing node, or one of another kind, is a 404.
func (s *Service) load(ctx context.Context, kind tree.Kind, id string) (nodes.Item, error) {
	if kind == tree.KindPlatform {
		id = tree.PlatformID
	} else if !nodes.ValidID(kind, id) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	it, err := nodes.Get(ctx, s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != kind) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	return it, err
}

func loaded(r *http.Request) nodes.Item { return api.TargetOf(r.Context()).(nodes.Item) }

func (s *Service) nameTaken() error {
	return problem.Conflict("name-taken", "another "+string(s.Level.Kind)+" here already has this name",
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

// createBody is what a create takes. The parent's id is read separately, under the
// level's ParentField name.
type createBody struct {
	Name         *string `json:"name"`
	ContactEmail string  `json:"contactEmail"`
	// DistributorID is a partner's parent.
	DistributorID *string `json:"distributorId"`
}

// roleAllows refuses, before anything is read, a caller whose role may never do verb
// on this level, wherever the parent: the answer then reveals nothing of any branch.
func (s *Service) roleAllows(r *http.Request, verb string) error {
	if err := tree.Allow(s.op(verb), api.CallerOf(r.Context()), nil); err != nil {
		return problem.Forbidden("your role may not " + string(s.op(verb)))
	}
	return nil
}

// created carries what the create's target loader read to the handler.
type created struct {
	parent nodes.Item
	body   createBody
}

// parentFromBody decodes a create's body and loads the parent it names (the platform
// for distributors): the policy then checks that the caller may create under it.
func (s *Service) parentFromBody(r *http.Request) (tree.Node, any, error) {
	if err := s.roleAllows(r, "create"); err != nil {
		return tree.Node{}, nil, err
	}
	var body createBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return tree.Node{}, nil, err
	}
	var parentID string
	switch {
	case s.Level.ParentField == "":
		if body.DistributorID != nil {
			return tree.Node{}, nil, problem.Invalid("the body has a field this operation does not take",
				problem.Field("distributorId", "unknown field"))
		}
	case body.DistributorID == nil:
		return tree.Node{}, nil, problem.Invalid("the parent is missing", problem.Field(s.Level.ParentField, "is required"))
	default:
		parentID = *body.DistributorID
		if !nodes.ValidID(s.Level.Parent, parentID) {
			return tree.Node{}, nil, problem.Invalid("the parent id is malformed",
				problem.Field(s.Level.ParentField, "must be the id of a "+string(s.Level.Parent)))
		}
	}
	parent, err := s.load(r.Context(), s.Level.Parent, parentID)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return parent.Node(), created{parent: parent, body: body}, nil
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	c := api.TargetOf(r.Context()).(created)
	if c.body.Name == nil {
		return problem.Invalid("the name is missing", problem.Field("name", "is required"))
	}
	name, err := nodes.CleanName("name", *c.body.Name)
	if err != nil {
		return err
	}
	if err := checkEmail("contactEmail", c.body.ContactEmail); err != nil {
		return err
	}
	it := nodes.NewChild(c.parent.Node(), s.Level.Kind, name, StatusActive, time.Now())
	it.ContactEmail = c.body.ContactEmail
	// The parent must still exist when the child is written.
	parentExists := store.Write{
		Item: types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			Key: nodes.Key(c.parent.ID), ConditionExpression: aws.String("attribute_exists(PK)"),
		}},
		OnConditionFail: problem.NotFound(string(s.Level.Parent)),
	}
	if err := s.write(r, "created", nil, &it, nodes.ClaimName, parentExists); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/"+s.Level.Resource+"/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, s.Level.view(it))
}

// write stores a change from before to after (either may be nil) with its change
// record, in one transaction. claim, when set, claims after's name.
func (s *Service) write(r *http.Request, verb string, before, after *nodes.Item,
	claim func(nodes.Item, error) (store.Write, error), extra ...store.Write) error {
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
		w, err := claim(*after, s.nameTaken())
		if err != nil {
			return err
		}
		writes = append(writes, w)
	}
	rec, err := audit.Record(r, audit.Change{
		Action: string(s.Level.Kind) + "." + verb,
		Target: audit.Target{Type: string(s.Level.Kind), ID: target.ID, Name: target.Name},
		Scope:  audit.NodeScope(target.Node()),
		Before: auditFields(before), After: auditFields(after),
	})
	if err != nil {
		return err
	}
	writes = append(writes, extra...)
	return s.Store.Transact(r.Context(), append(writes, rec)...)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, s.Level.view(it))
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
		return api.WriteJSON(w, http.StatusOK, s.Level.view(before))
	}
	after.Version++
	after.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
	after.SetIndexKeys()
	if err := s.write(r, "updated", &before, &after, claim); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, s.Level.view(after))
}

// transition builds the handler of a status action from one status to another.
func (s *Service) transition(from, to, verb string) api.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		before := loaded(r)
		if err := api.CheckVersion(r, before.Version); err != nil {
			return err
		}
		if before.Status != from {
			return problem.Conflict("invalid-transition", "the "+string(s.Level.Kind)+" is "+before.Status,
				problem.Field("status", "is already "+before.Status))
		}
		after := before
		after.Status = to
		after.Version++
		after.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
		after.SetIndexKeys()
		if err := s.write(r, verb, &before, &after, nil); err != nil {
			return err
		}
		w.Header().Set("ETag", api.ETag(after.Version))
		return api.WriteJSON(w, http.StatusOK, s.Level.view(after))
	}
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	// A node with children is not deleted: one Query of at most one item per kind of
	// child. (Cascading deletes come with the tree issue.)
	for _, child := range s.Level.Children {
		expr, err := expression.NewBuilder().WithKeyCondition(
			expression.Key("GSI1PK").Equal(expression.Value(nodes.ChildrenKey(before.ID, child)))).Build()
		if err != nil {
			return err
		}
		page, err := s.Store.QueryPage(r.Context(), dynamodb.QueryInput{
			IndexName: aws.String("GSI1"), KeyConditionExpression: expr.KeyCondition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}, 1, []string{"PK", "SK", "GSI1PK", "GSI1SK"})
		if err != nil {
			return err
		}
		if len(page.Items) > 0 {
			return problem.Conflict("has-children", "the "+string(s.Level.Kind)+" still has "+string(child)+"s; delete them first",
				problem.Field("id", "has "+string(child)+"s"))
		}
	}
	if err := s.write(r, "deleted", &before, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Page is a page of a level's nodes.
type Page struct {
	Items      []View  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// listQuery is a validated list request with the parent it lists under.
type listQuery struct {
	api.ListQuery
	parent nodes.Item
}

// parentFromQuery validates a list's query and loads the parent whose children it
// lists: the platform for distributors; for partners the distributor named by
// distributorId, or, without it, the caller's own distributor.
func (s *Service) parentFromQuery(r *http.Request) (tree.Node, any, error) {
	if err := s.roleAllows(r, "list"); err != nil {
		return tree.Node{}, nil, err
	}
	allowed := []string{"q", "status"}
	if s.Level.ParentField != "" {
		allowed = append(allowed, s.Level.ParentField)
	}
	q, err := api.ParseList(r, allowed...)
	if err != nil {
		return tree.Node{}, nil, err
	}
	var errs []problem.FieldError
	if st, ok := q.Filters["status"]; ok && st != StatusActive && st != StatusSuspended {
		errs = append(errs, problem.Field("status", "must be one of active, suspended"))
	}
	if search, ok := q.Filters["q"]; ok {
		clean, err := nodes.CleanName("q", search)
		var p *problem.Problem
		if errors.As(err, &p) {
			errs = append(errs, p.Errors...)
		}
		q.Filters["q"] = clean
	}
	parentID := ""
	if s.Level.ParentField != "" {
		caller := api.CallerOf(r.Context())
		id, given := q.Filters[s.Level.ParentField]
		switch {
		case given && !nodes.ValidID(s.Level.Parent, id):
			errs = append(errs, problem.Field(s.Level.ParentField, "must be the id of a "+string(s.Level.Parent)))
		case given:
			parentID = id
		case caller.Node.Kind == s.Level.Parent:
			parentID = caller.Node.ID
		default:
			errs = append(errs, problem.Field(s.Level.ParentField, "is required"))
		}
	}
	if len(errs) > 0 {
		return tree.Node{}, nil, problem.Invalid("the query string is invalid", errs...)
	}
	parent, err := s.load(r.Context(), s.Level.Parent, parentID)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return parent.Node(), listQuery{ListQuery: q, parent: parent}, nil
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q := api.TargetOf(r.Context()).(listQuery)
	status, byStatus := q.Filters["status"]
	search, hasSearch := q.Filters["q"]
	index, pkName, pk, sk := "GSI1", "GSI1PK", nodes.ChildrenKey(q.parent.ID, s.Level.Kind), "GSI1SK"
	if byStatus {
		index, pkName, pk, sk = "GSI2", "GSI2PK", nodes.ChildrenByStatusKey(q.parent.ID, s.Level.Kind, status), "GSI2SK"
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
	// The parent is part of the binding even when it was implied by the caller's node.
	binding := q.Binding(caller.UserID, "GET /v1/"+s.Level.Resource+"\n"+q.parent.ID)
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
