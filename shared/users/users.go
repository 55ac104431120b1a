// Package users serves the console users of the tree's nodes (/v1/users): invitation
// with a single-use activation link sent by our own email, activation, resending an
// invitation, listing, reading, changing, deactivating, reactivating and deleting
// users, with a guard that never lets a node lose its last active admin; and the
// public forgotten-password flow (a code by email, then a new password).
//
// A console user lives in two systems that share no transaction: Cognito (the sign-in
// account) and the table (the user item, which the API trusts on every call). The
// table decides: every operation writes it so that, whatever fails afterwards, Cognito
// is at most more permissive than the table, which the API never honours (a user whose
// item is not active is refused on every call, whatever their token). Each operation
// says in a comment what happens on each failure.
package users

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/cursor"
	"opsconsole/shared/idempotency"
	"opsconsole/shared/identity"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// How long the secrets sent by email work.
const (
	ActivationValidity = 72 * time.Hour
	ResetValidity      = 15 * time.Minute
	// ResetMaxAttempts is how many wrong codes a pending reset takes before it dies.
	ResetMaxAttempts = 5
	// claimFor is how long an activation or a reset holds its token while it sets the
	// password in Cognito, so that two uses of one token cannot both set a password.
	claimFor = 30 * time.Second
)

// Service serves the operations on console users.
type Service struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
	Cognito Cognito
	PoolID  string
	Mail    mail.Sender
	// ConsoleURL is the console frontend the emails link to.
	ConsoleURL string
	// Limits are the forgotten-password rate limits; zero values take the defaults.
	Limits Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limits bound the public password operations per email and per source IP, in
// windows of Window.
type Limits struct {
	Window                      time.Duration
	ForgotPerEmail, ForgotPerIP int
	ResetPerEmail, ResetPerIP   int
}

// DefaultLimits are the limits in force unless a Service sets its own.
var DefaultLimits = Limits{Window: 15 * time.Minute, ForgotPerEmail: 5, ForgotPerIP: 30, ResetPerEmail: 10, ResetPerIP: 30}

func (s *Service) limits() Limits {
	l := s.Limits
	if l.Window == 0 {
		l = DefaultLimits
	}
	return l
}

func (s *Service) limiter() *throttle.Limiter {
	return &throttle.Limiter{Store: s.Store, Window: s.limits().Window, Now: s.Now}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Paths of the public routes.
const (
	PathActivate       = "/v1/auth/activate"
	PathForgotPassword = "/v1/auth/password/forgot"
	PathResetPassword  = "/v1/auth/password/reset"
)

// Operations lists the operations keyed by function name (the folder under
// functions/).
func (s *Service) Operations() map[string]api.Operation {
	const res = "/v1/users"
	mk := func(op tree.Operation, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: op, Method: method, Path: path, Kind: "user", Callers: s.Callers, Target: target, Handle: s.metered(h)}
	}
	public := func(path string, h api.Handler) api.Operation {
		return api.Operation{Method: http.MethodPost, Path: path, Kind: "route", Handle: s.metered(h)}
	}
	return map[string]api.Operation{
		"users-invite":         {ID: tree.OpUsersInvite, Method: http.MethodPost, Path: res, Kind: "user", Callers: s.Callers, Target: s.nodeFromBody, Handle: idempotency.Wrap(s.Store, s.metered(s.invite)), NodeLimit: s.invitations()},
		"users-list":           mk(tree.OpUsersList, http.MethodGet, res, s.scopeFromQuery, s.list),
		"users-get":            mk(tree.OpUsersGet, http.MethodGet, res+"/{id}", s.target, s.get),
		"users-update":         mk(tree.OpUsersUpdate, http.MethodPatch, res+"/{id}", s.target, s.update),
		"users-deactivate":     mk(tree.OpUsersDeactivate, http.MethodPost, res+"/{id}/deactivate", s.target, s.deactivate),
		"users-reactivate":     mk(tree.OpUsersReactivate, http.MethodPost, res+"/{id}/reactivate", s.target, s.reactivate),
		"users-delete":         mk(tree.OpUsersDelete, http.MethodDelete, res+"/{id}", s.target, s.delete),
		"users-resend-invite":  limited(mk(tree.OpUsersResendInvite, http.MethodPost, res+"/{id}/resend-invite", s.target, s.resendInvite), s.invitations()),
		"end-users-invite":     s.endUserInviteOperation(),
		"me-update":            s.meUpdateOperation(),
		"auth-activate":        public(PathActivate, s.activate),
		"auth-forgot-password": public(PathForgotPassword, s.forgotPassword),
		"auth-reset-password":  public(PathResetPassword, s.resetPassword),
	}
}

// invitations is the allowance of invitation emails per node (throttle.Invitations),
// shared by the three routes that send one: an invitation, its resending, an end
// user's invitation.
func (s *Service) invitations() *api.NodeLimit {
	return throttle.PerNode(s.Store, throttle.Invitations, func(r *http.Request) string {
		n, _ := api.TargetNodeOf(r.Context())
		return invitationNode(api.TargetOf(r.Context()), n)
	})
}

// invitationNode is the node an invitation counts against, from what the guard
// loaded: the thing and its node. A resending's target is the user, whose guard node
// is the user as a thing below their node (targetNode), so it counts at the user's
// node; an invitation's and an end user's, the node invited to and the record.
func invitationNode(thing any, target tree.Node) string {
	if u, ok := thing.(identity.UserItem); ok {
		target = nodeOf(u)
	}
	return invitedAt(target)
}

// invitedAt is the node an invitation to an account at node n counts against: n
// itself (the node the invitation is made in, where its admins send it), except for
// an end user, whose account is its own record, a leaf of its company: there the
// company, so that a company's invitations of end users and of its own users share
// one allowance, and so that each new record does not bring a fresh one.
func invitedAt(n tree.Node) string {
	if n.Kind == tree.KindEndUser && len(n.Path) > 0 {
		return n.Path[len(n.Path)-1]
	}
	return n.ID
}

func limited(op api.Operation, l *api.NodeLimit) api.Operation {
	op.NodeLimit = l
	return op
}

// View is a console user as the API shows them.
type View struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	FirstName   string    `json:"firstName"`
	LastName    string    `json:"lastName"`
	Role        tree.Role `json:"role"`
	NodeID      string    `json:"nodeId"`
	NodeKind    tree.Kind `json:"nodeKind"`
	Status      string    `json:"status"`
	MFAEnrolled bool      `json:"mfaEnrolled"`
	Version     int       `json:"version"`
	CreatedAt   string    `json:"createdAt"`
	UpdatedAt   string    `json:"updatedAt"`
}

func viewOf(u identity.UserItem) View {
	return View{
		ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Role: u.Role,
		NodeID: u.NodeID, NodeKind: u.NodeKind, Status: u.Status, MFAEnrolled: u.MFAEnrolled,
		Version: u.Version, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// auditFields are the fields of a user the audit log compares.
func auditFields(u *identity.UserItem) map[string]any {
	if u == nil {
		return nil
	}
	return map[string]any{
		"email": u.Email, "firstName": u.FirstName, "lastName": u.LastName,
		"role": string(u.Role), "nodeId": u.NodeID, "status": u.Status,
	}
}

// nodeOf is the node a user belongs to.
func nodeOf(u identity.UserItem) tree.Node {
	return tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath}
}

// userKind names users in 404s; as a node kind it makes the policy see a user as a
// thing hanging below their node.
const userKind tree.Kind = "user"

// targetNode is the user as the policy sees them: below their node, so that a caller
// reaches them exactly when the caller's subtree holds the user's node.
func targetNode(u identity.UserItem) tree.Node {
	return tree.Node{ID: "user#" + u.ID, Kind: userKind, Path: nodeOf(u).Lineage()}
}

// target loads the user the path names. A user outside the caller's branch is then
// answered by the middleware exactly like a missing one: "user not found".
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	id := r.PathValue("id")
	if !tree.ValidUserID(id) {
		return tree.Node{}, nil, problem.NotFound(string(userKind))
	}
	var u identity.UserItem
	err := s.Store.Get(r.Context(), identity.UserKey(id), &u)
	if errors.Is(err, store.ErrNotFound) {
		return tree.Node{}, nil, problem.NotFound(string(userKind))
	}
	if err != nil {
		return tree.Node{}, nil, err
	}
	return targetNode(u), u, nil
}

func loaded(r *http.Request) identity.UserItem { return api.TargetOf(r.Context()).(identity.UserItem) }

// roleAllows refuses, before anything is read, a caller whose role may never do op.
func roleAllows(r *http.Request, op tree.Operation) error {
	if err := tree.Allow(op, api.CallerOf(r.Context()), nil); err != nil {
		return problem.Forbidden("your role may not " + string(op))
	}
	return nil
}

// kindOfID tells the kind of node an id names, or false for an id that names no node
// console users are invited at (an end user's record has none).
func kindOfID(id string) (tree.Kind, bool) {
	k, ok := nodes.KindOfID(id)
	if _, admins := tree.AdminRole(k); !ok || !admins {
		return "", false
	}
	return k, true
}

const nodeIDRule = "must be the id of the platform (platform), a distributor, a partner, an organization or a company"

// loadNode reads node id of kind; missing, it is a 404 named after its kind.
func (s *Service) loadNode(ctx context.Context, kind tree.Kind, id string) (nodes.Item, error) {
	it, err := nodes.Get(ctx, s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != kind) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	return it, err
}

// readRole validates a role's spelling.
func readRole(v string) (tree.Role, *problem.FieldError) {
	r := tree.Role(v)
	if !r.Valid() {
		names := make([]string, len(tree.Roles))
		for i, x := range tree.Roles {
			names[i] = string(x)
		}
		fe := problem.Field("role", "must be one of "+strings.Join(names, ", "))
		return "", &fe
	}
	return r, nil
}

// readName validates a first or last name.
func readName(field string, v *string, required bool) (string, []problem.FieldError) {
	if v == nil {
		if required {
			return "", []problem.FieldError{problem.Field(field, "is required")}
		}
		return "", nil
	}
	clean, err := nodes.CleanName(field, *v)
	var p *problem.Problem
	if errors.As(err, &p) {
		return "", p.Errors
	}
	return clean, nil
}

// updateUser is the transaction item that turns before into after in place, if before
// is still the current version (and cond, when given, holds): only the attributes that
// differ are written, so that what other operations keep on the item (MFA, sign-out)
// is never overwritten with what this one read.
func updateUser(before, after identity.UserItem, cond *expression.ConditionBuilder) (store.Write, error) {
	b, err := attributevalue.MarshalMap(before)
	if err != nil {
		return store.Write{}, err
	}
	a, err := attributevalue.MarshalMap(after)
	if err != nil {
		return store.Write{}, err
	}
	set := store.Item{}
	for k, v := range a {
		if k != "PK" && k != "SK" && !reflect.DeepEqual(v, b[k]) {
			set[k] = v
		}
	}
	var remove []string
	for k := range b {
		if _, ok := a[k]; !ok {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	c := expression.Name("version").Equal(expression.Value(before.Version))
	if cond != nil {
		c = c.And(*cond)
	}
	upd, err := store.Update(identity.UserKey(before.ID), set, remove, c)
	return upd.FailsWith(problem.Stale()), err
}

// record is the change record of a change to a user, made by the caller of r (or,
// on the public routes, by actor).
func record(r *http.Request, actor *audit.Actor, verb string, before, after *identity.UserItem) (store.Write, error) {
	target := after
	if target == nil {
		target = before
	}
	c := audit.Change{
		Action: "user." + verb,
		Target: audit.Target{Type: "user", ID: target.ID, Name: target.Email},
		Scope:  nodeOf(*target).Lineage(),
		Before: auditFields(before), After: auditFields(after),
		Version: target.Version,
	}
	if actor != nil {
		return audit.RecordBy(*actor, api.MetaOf(r), c)
	}
	return audit.Record(r, c)
}

// selfActor is the user as the actor of their own change (activation, reset).
func selfActor(u identity.UserItem) *audit.Actor {
	return &audit.Actor{UserID: u.ID, Email: u.Email, Role: string(u.Role)}
}

// logError records a failure that the answer does not report (the table has already
// decided; see the package comment).
func logError(ctx context.Context, r *http.Request, msg string, err error) {
	api.Log(ctx).ErrorContext(ctx, msg, "requestId", api.MetaOf(r).RequestID, "error", err.Error())
}
