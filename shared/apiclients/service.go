package apiclients

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/admins"
	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/cursor"
	"opsconsole/shared/deps"
	"opsconsole/shared/identity"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// Cognito is the part of the Cognito client the service uses: a client's user is
// created with its derived password at create, deleted with it, and signed in by the
// token endpoint.
type Cognito interface {
	AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, opts ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminSetUserPassword(ctx context.Context, in *cip.AdminSetUserPasswordInput, opts ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, opts ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	AdminInitiateAuth(ctx context.Context, in *cip.AdminInitiateAuthInput, opts ...func(*cip.Options)) (*cip.AdminInitiateAuthOutput, error)
}

// Service serves /v1/api-clients and POST /v1/auth/token.
type Service struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
	Cognito Cognito
	PoolID  string
	// AppClientID is the API clients' Cognito app client (API_CLIENTS_APP_CLIENT_ID).
	AppClientID string
	// PasswordKey derives the Cognito users' passwords (the cursor secret).
	PasswordKey []byte
	Mail        mail.Sender
	// Limiter counts failed token requests; nil counts nothing.
	Limiter *throttle.Limiter
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Function is the constructor of the named function (api-clients-create, …,
// auth-token) for the function table (shared/lambdas) and the function's main.
func Function(name string) func(deps.Deps) api.Operation {
	return func(d deps.Deps) api.Operation {
		op, ok := New(d).Operations()[name]
		if !ok {
			panic("apiclients: no operation " + name)
		}
		return op
	}
}

// New builds the service from a function's deps, with a Cognito client, the mail
// transport of the environment and the throttle; from zero deps (to tell the routes)
// it makes no client.
func New(d deps.Deps) *Service {
	s := &Service{
		Store: d.Store, Cursors: d.Cursors, Callers: d.Callers, PoolID: d.Config.UserPoolID,
		AppClientID: d.Config.APIClientsAppClient, PasswordKey: d.Config.CursorSecret,
	}
	if d.Store == nil {
		return s
	}
	sender, err := mail.New(mail.ConfigFromEnv(), d.Config.AWS)
	if err != nil {
		sender = mail.Unconfigured{Err: err}
	}
	s.Mail, s.Cognito = sender, cip.NewFromConfig(d.Config.AWS)
	s.Limiter = &throttle.Limiter{Store: d.Store, Window: TokenWindow}
	return s
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Operations lists the service's operations by function name.
func (s *Service) Operations() map[string]api.Operation {
	const res = "/v1/api-clients"
	mk := func(id tree.Operation, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: id, Method: method, Path: path, Kind: Kind, Callers: s.Callers, Target: target, Handle: h}
	}
	return map[string]api.Operation{
		"api-clients-create":        mk(tree.OpAPIClientsCreate, http.MethodPost, res, s.nodeFromBody, s.create),
		"api-clients-list":          mk(tree.OpAPIClientsList, http.MethodGet, res, s.nodeFromQuery, s.list),
		"api-clients-get":           mk(tree.OpAPIClientsGet, http.MethodGet, res+"/{id}", s.target, s.get),
		"api-clients-update":        mk(tree.OpAPIClientsUpdate, http.MethodPatch, res+"/{id}", s.target, s.update),
		"api-clients-rotate-secret": mk(tree.OpAPIClientsRotateSecret, http.MethodPost, res+"/{id}/rotate-secret", s.target, s.rotate),
		"api-clients-revoke":        mk(tree.OpAPIClientsRevoke, http.MethodPost, res+"/{id}/revoke", s.target, s.revoke),
		"api-clients-delete":        mk(tree.OpAPIClientsDelete, http.MethodDelete, res+"/{id}", s.target, s.delete),
		"auth-token":                {Method: http.MethodPost, Path: "/v1/auth/token", Kind: "route", Handle: s.token},
	}
}

// byPerson refuses an API client's change to API clients: only people manage machine
// credentials, so that a leaked client can neither mint nor prolong one.
func byPerson(r *http.Request) error {
	if api.CallerOf(r.Context()).Client != nil {
		return problem.Forbidden("API clients are managed by people: an API client may only read them")
	}
	return nil
}

// roleAllows refuses, before anything is read, a caller whose role may never do op.
func roleAllows(r *http.Request, op tree.Operation) error {
	if err := tree.Allow(op, api.CallerOf(r.Context()), nil); err != nil {
		return problem.Forbidden("your role may not " + string(op))
	}
	return nil
}

// loadNode reads the node id names (the platform, or a distributor, partner,
// organization or company): a malformed id is a 400 naming field, a missing node a 404.
func (s *Service) loadNode(ctx context.Context, field, id string) (nodes.Item, error) {
	kind, ok := nodes.KindOfID(id)
	if !ok || kind == tree.KindEndUser {
		return nodes.Item{}, problem.Invalid("the node id is malformed",
			problem.Field(field, "must be the id of the platform, a distributor, a partner, an organization or a company"))
	}
	if kind == tree.KindPlatform {
		return identity.PlatformNode(), nil
	}
	it, err := nodes.Get(ctx, s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != kind) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	return it, err
}

// created carries what the create's target loader read to the handler.
type created struct {
	node nodes.Item
	body api.Object
}

func (s *Service) nodeFromBody(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpAPIClientsCreate); err != nil {
		return tree.Node{}, nil, err
	}
	if err := byPerson(r); err != nil {
		return tree.Node{}, nil, err
	}
	b, err := api.DecodeObject(r)
	if err != nil {
		return tree.Node{}, nil, err
	}
	var id string
	v, ok := b["nodeId"]
	if !ok || isNull(v) {
		return tree.Node{}, nil, problem.Invalid("the node is missing", problem.Field("nodeId", "is required"))
	}
	if jsonString(v, &id) != nil {
		return tree.Node{}, nil, problem.Invalid("the node id is malformed", problem.Field("nodeId", "must be a string"))
	}
	n, err := s.loadNode(r.Context(), "nodeId", id)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return n.Node(), created{node: n, body: b}, nil
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := api.TargetOf(ctx).(created)
	caller := api.CallerOf(ctx)
	now := s.now()
	e, errs := ReadEdit(c.body, true, now)
	if len(errs) == 0 && !RoleFits(*e.Role, c.node.Kind, caller.Role) {
		errs = append(errs, problem.Field("role", "must be a role of the node's level ("+string(c.node.Kind)+"), never above your own"))
	}
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	secret, err := NewSecret()
	if err != nil {
		return err
	}
	// The Cognito user first: its subject is the client's id. Once it exists, every
	// failure further on deletes it again (dropUser).
	username := CognitoUsername()
	out, err := s.Cognito.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: &s.PoolID, Username: &username, MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: &username}, {Name: aws.String("email_verified"), Value: aws.String("true")},
		},
	})
	if err != nil {
		return err
	}
	it, err := s.storeNew(r, c, e, secret, username, out.User, now)
	if err != nil {
		s.dropUser(ctx, username, it.ID, err)
		return err
	}
	s.notify(ctx, it, "created", it.Attrs.CreatedByEmail)
	v := ViewOf(it, now)
	v.ClientSecret = secret
	w.Header().Set("Location", "/v1/api-clients/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, v)
}

// storeNew gives the client's new Cognito user its derived password and writes the client
// (with its change record, the node checked in service). It returns the item, whose ID
// is set once the user's sub is read, also on failure.
func (s *Service) storeNew(r *http.Request, c created, e Edit, secret, username string, user *ciptypes.UserType, now time.Time) (identity.ClientItem, error) {
	ctx := r.Context()
	var sub string
	if user != nil {
		for _, a := range user.Attributes {
			if aws.ToString(a.Name) == "sub" {
				sub = aws.ToString(a.Value)
			}
		}
	}
	id := identity.ClientIDOfSub(sub)
	if id == "" {
		return identity.ClientItem{}, errors.New("apiclients: Cognito gave no usable sub")
	}
	password := CognitoPassword(s.PasswordKey, username)
	if _, err := s.Cognito.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: &s.PoolID, Username: &username, Password: &password, Permanent: true,
	}); err != nil {
		return identity.ClientItem{}, err
	}
	caller := api.CallerOf(ctx)
	createdBy := caller
	if caller.Impersonator != nil {
		createdBy.UserID, createdBy.Email = caller.Impersonator.UserID, caller.Impersonator.Email
	}
	it := Apply(newItem(id, c.node, username, identity.HashSecret(secret), createdBy, nodes.Stamp(now)), e)
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		return it, err
	}
	// The node must still be there, and not being deleted, when the client is written.
	inService, err := nodes.InService(c.node.ID)
	if err != nil {
		return it, err
	}
	writes := []store.Write{put}
	if c.node.Kind != tree.KindPlatform {
		gone := problem.NotFound(string(c.node.Kind))
		gone.Errors = []problem.FieldError{problem.Field("nodeId", "no such "+string(c.node.Kind))}
		writes = append(writes, inService.FailsWith(gone))
	}
	return it, s.write(r, "created", nil, &it, writes...)
}

// dropUser deletes the Cognito user username of a create that failed with err, so that
// no user is left without a client (id, when known, is the client it was made for).
//
// It is deleted unless the client may have been written after all: when err is not
// DynamoDB's refusal of the transaction (a condition failed, or it was cancelled) but,
// say, a timeout, the item is read first, and a client that exists keeps its user. The
// deletion runs even if the request's context has ended.
//
// What remains when the deletion itself fails (logged at ERROR, with the username): a
// Cognito user that no client item names. It is inert: the token endpoint starts from
// the item, so no token is ever issued for it; its password is derived from the cursor
// secret and known to no one; and a token of it would be refused by the caller check,
// which finds no item for its sub. Neither a retry (a new create makes a new username)
// nor the node sweeper (it finds clients through their items) ends it: an operator
// deletes it by its username (docs/operations.md, FunctionErrorsAlarm).
func (s *Service) dropUser(ctx context.Context, username, id string, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	log := api.Log(ctx)
	var p *problem.Problem
	var tce *dynamodbtypes.TransactionCanceledException
	if id != "" && !errors.As(err, &p) && !errors.As(err, &tce) {
		var it identity.ClientItem
		switch gerr := s.Store.Get(ctx, identity.ClientKey(id), &it); {
		case gerr == nil:
			log.ErrorContext(ctx, "api client create: the client was written though the write failed; it keeps its Cognito user",
				"clientId", id, "cognitoUser", username, "error", err.Error())
			return
		case !errors.Is(gerr, store.ErrNotFound):
			log.ErrorContext(ctx, "api client create: the write failed and the client could not be read: its Cognito user is kept; delete it if no client names it",
				"clientId", id, "cognitoUser", username, "error", err.Error(), "readError", gerr.Error())
			return
		}
	}
	_, derr := s.Cognito.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &s.PoolID, Username: &username})
	var nf *ciptypes.UserNotFoundException
	if derr != nil && !errors.As(derr, &nf) {
		log.ErrorContext(ctx, "api client create: the Cognito user of a failed create was not deleted; no client names it: delete it",
			"cognitoUser", username, "error", err.Error(), "deleteError", derr.Error())
	}
}

// newItem is a new client at node.
func newItem(id string, node nodes.Item, username, secretHash string, by tree.Caller, ts string) identity.ClientItem {
	it := identity.ClientItem{
		PK: "APICLIENT#" + id, SK: "APICLIENT", Type: identity.ClientItemType, ID: id,
		NodeID: node.ID, NodeKind: node.Kind, NodePath: node.Path, Status: identity.ClientActive,
		CognitoUser: username, SecretHash: secretHash,
		Attrs:   identity.ClientAttrs{CreatedByUserID: by.UserID, CreatedByEmail: by.Email},
		Version: 1, CreatedAt: ts, UpdatedAt: ts,
		GSI1PK: identity.ClientsKey(node.ID), GSI1SK: ts + "#" + id,
	}
	if it.NodePath == nil {
		it.NodePath = []string{}
	}
	return it
}

// write commits writes with the change record of the change from before to after.
func (s *Service) write(r *http.Request, verb string, before, after *identity.ClientItem, writes ...store.Write) error {
	rec, err := audit.Record(r, Change(verb, before, after))
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(), append(writes, rec)...)
}

// Change describes the change from before to after for the audit log, under action
// api_client.<verb>, in the client's node's log and every log above it.
func Change(verb string, before, after *identity.ClientItem) audit.Change {
	t := after
	if t == nil {
		t = before
	}
	return audit.Change{
		Action: Kind + "." + verb,
		Target: audit.Target{Type: Kind, ID: t.ID, Name: t.Name},
		Scope:  append(append([]string{}, t.NodePath...), t.NodeID),
		Before: auditFields(before), After: auditFields(after),
		Version: t.Version,
	}
}

// notify emails the node's active admins that the client was created or its secret
// rotated. Best effort: the change is made; a failure is logged.
func (s *Service) notify(ctx context.Context, it identity.ClientItem, event, by string) {
	if err := s.sendNotice(ctx, it, event, by); err != nil {
		api.Log(ctx).ErrorContext(ctx, "api client notice not sent", "clientId", it.ID, "error", err.Error())
	}
}

func (s *Service) sendNotice(ctx context.Context, it identity.ClientItem, event, by string) error {
	ids, err := admins.Members(ctx, s.Store, it.NodeID)
	if err != nil || len(ids) == 0 {
		return err
	}
	keys := make([]store.Item, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, identity.UserKey(id))
	}
	users, err := s.Store.BatchGet(ctx, keys)
	if err != nil {
		return err
	}
	node := tree.Node{ID: it.NodeID, Kind: it.NodeKind, Path: it.NodePath}
	brand, err := mail.BrandingFor(ctx, s.Store, node)
	if err != nil {
		return err
	}
	nodeName := brand.Name
	if it.NodeKind != tree.KindPlatform {
		if n, err := nodes.Get(ctx, s.Store, it.NodeID); err == nil {
			nodeName = n.Name
		}
	}
	m, err := mail.Render(mail.TemplateAPIClient, brand, mail.APIClientNotice{
		Event: event, By: by, ClientName: it.Name, ClientID: it.ID, NodeName: nodeName,
		Role: strings.ReplaceAll(string(it.Role), "_", " "),
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, raw := range users {
		var u identity.UserItem
		if err := attributevalue.UnmarshalMap(raw, &u); err != nil || u.Status != identity.StatusActive {
			continue
		}
		m.To = u.Email
		errs = append(errs, s.Mail.Send(ctx, m))
	}
	return errors.Join(errs...)
}

// target loads the client the path names. One outside the caller's branch is answered
// by the middleware exactly like a missing one.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	return api.ItemTarget(s.Store, Kind, identity.ValidClientID, identity.ClientKey, func(it identity.ClientItem) (tree.Node, bool) {
		return tree.Node{ID: it.NodeID, Kind: it.NodeKind, Path: it.NodePath}, true
	})(r)
}

func loaded(r *http.Request) identity.ClientItem {
	return api.TargetOf(r.Context()).(identity.ClientItem)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, ViewOf(it, s.now()))
}

// advance makes after, an edited copy of before, the next version, and returns the
// write that stores it in place if before is still the current version.
func advance(before identity.ClientItem, after *identity.ClientItem, now time.Time) (store.Write, error) {
	after.Version++
	after.UpdatedAt = nodes.Stamp(now)
	put, err := store.Put(*after, store.VersionIs(before.Version))
	return put.FailsWith(problem.Stale()), err
}

func (s *Service) update(w http.ResponseWriter, r *http.Request) error {
	// After the branch check, so that a client outside the branch gets the 404 anyone does.
	if err := byPerson(r); err != nil {
		return err
	}
	before := loaded(r)
	b, err := api.DecodeObject(r)
	if err != nil {
		return err
	}
	now := s.now()
	e, errs := ReadEdit(b, false, now)
	if len(errs) == 0 && len(b) == 0 {
		errs = append(errs, problem.Field("body", "give at least one of "+strings.Join(updateFields, ", ")))
	}
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	after := Apply(before, e)
	if Same(before, after) {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, ViewOf(before, now))
	}
	put, err := advance(before, &after, now)
	if err != nil {
		return err
	}
	if err := s.write(r, "updated", &before, &after, put); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, ViewOf(after, now))
}

// rotate serves POST …/{id}/rotate-secret: a new secret, shown once; the old one
// works for RotationOverlap more, or stops at once with {"immediately": true}.
func (s *Service) rotate(w http.ResponseWriter, r *http.Request) error {
	// After the branch check, so that a client outside the branch gets the 404 anyone does.
	if err := byPerson(r); err != nil {
		return err
	}
	before := loaded(r)
	immediately := false
	if r.ContentLength != 0 {
		b, err := api.DecodeObject(r)
		if err != nil {
			return err
		}
		var errs []problem.FieldError
		for k, v := range b {
			if k != "immediately" {
				errs = append(errs, problem.Field(k, "is not a field of this body; allowed: immediately"))
				continue
			}
			if isNull(v) || jsonBool(v, &immediately) != nil {
				errs = append(errs, problem.Field("immediately", "must be a boolean"))
			}
		}
		if len(errs) > 0 {
			return problem.Invalid("the body is invalid", errs...)
		}
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if before.Status != identity.ClientActive {
		return problem.Conflict("invalid-transition", "the API client is "+before.Status+"; only an active one's secret can be rotated",
			problem.Field("status", "is "+before.Status))
	}
	secret, err := NewSecret()
	if err != nil {
		return err
	}
	now := s.now()
	after := Rotate(before, identity.HashSecret(secret), immediately, now)
	put, err := advance(before, &after, now)
	if err != nil {
		return err
	}
	if err := s.write(r, "secret_rotated", &before, &after, put); err != nil {
		return err
	}
	caller := api.CallerOf(r.Context())
	by := caller.Email
	if caller.Impersonator != nil {
		by = caller.Impersonator.Email
	}
	s.notify(r.Context(), after, "rotated the secret of", by)
	v := ViewOf(after, now)
	v.ClientSecret = secret
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, v)
}

// revoke serves POST …/{id}/revoke: the client's tokens are refused from the next
// call, and it gets no new one. It cannot be undone (create a new client). It takes
// no body (one sent is ignored, like the other status actions').
func (s *Service) revoke(w http.ResponseWriter, r *http.Request) error {
	// After the branch check, so that a client outside the branch gets the 404 anyone does.
	if err := byPerson(r); err != nil {
		return err
	}
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if before.Status != identity.ClientActive {
		return problem.Conflict("invalid-transition", "the API client is "+before.Status+" already",
			problem.Field("status", "is "+before.Status))
	}
	now := s.now()
	after := before
	after.Status, after.RevokedAt = identity.ClientRevoked, nodes.Stamp(now)
	after.PreviousSecretHash, after.Attrs.PreviousSecretUntil = "", ""
	put, err := advance(before, &after, now)
	if err != nil {
		return err
	}
	if err := s.write(r, "revoked", &before, &after, put); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, ViewOf(after, now))
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	// After the branch check, so that a client outside the branch gets the 404 anyone does.
	if err := byPerson(r); err != nil {
		return err
	}
	before := loaded(r)
	if len(r.URL.RawQuery) > 0 {
		return problem.Invalid("the query string is invalid", problem.Field("query", "takes no parameters"))
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	del := store.Delete(identity.ClientKey(before.ID), store.VersionIs(before.Version)).FailsWith(problem.Stale())
	if err := s.write(r, "deleted", &before, nil, del); err != nil {
		return err
	}
	// The item is gone, so the client's tokens are refused already; its Cognito user
	// follows (a failure leaves a user no token can ever be issued for: logged).
	if _, err := s.Cognito.AdminDeleteUser(r.Context(), &cip.AdminDeleteUserInput{UserPoolId: &s.PoolID, Username: &before.CognitoUser}); err != nil {
		var nf *ciptypes.UserNotFoundException
		if !errors.As(err, &nf) {
			api.Log(r.Context()).ErrorContext(r.Context(), "api client's Cognito user not deleted", "clientId", before.ID, "error", err.Error())
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Page is a page of API clients.
type Page struct {
	Items      []View  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

type listQuery struct {
	api.ListQuery
	node tree.Node
}

// nodeFromQuery validates a list's query: nodeId (required) names the node whose
// clients are listed; the policy then checks that the caller may see it.
func (s *Service) nodeFromQuery(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpAPIClientsList); err != nil {
		return tree.Node{}, nil, err
	}
	q, err := api.ParseList(r, "nodeId")
	if err != nil {
		return tree.Node{}, nil, err
	}
	id, ok := q.Filters["nodeId"]
	if !ok {
		return tree.Node{}, nil, problem.Invalid("the query string is invalid", problem.Field("nodeId", "is required"))
	}
	caller := api.CallerOf(r.Context())
	node := caller.Node
	if id != caller.Node.ID {
		n, err := s.loadNode(r.Context(), "nodeId", id)
		if err != nil {
			return tree.Node{}, nil, err
		}
		node = n.Node()
	}
	return node, listQuery{ListQuery: q, node: node}, nil
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	q := api.TargetOf(r.Context()).(listQuery)
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key("GSI1PK").Equal(expression.Value(identity.ClientsKey(q.node.ID)))).Build()
	if err != nil {
		return err
	}
	in := dynamodb.QueryInput{
		IndexName: aws.String("GSI1"), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	caller := api.CallerOf(r.Context())
	binding := q.Binding(caller.UserID, "GET /v1/api-clients\n"+q.node.ID)
	if q.Cursor != "" {
		start, err := s.Cursors.Decode(binding, q.Cursor)
		if err != nil {
			return problem.InvalidCursor()
		}
		in.ExclusiveStartKey = start
	}
	page, err := s.Store.QueryPage(r.Context(), in, q.Limit, []string{"PK", "SK", "GSI1PK", "GSI1SK"})
	if err != nil {
		return err
	}
	now := s.now()
	out := Page{Items: make([]View, 0, len(page.Items))}
	for _, av := range page.Items {
		var it identity.ClientItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		out.Items = append(out.Items, ViewOf(it, now))
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
