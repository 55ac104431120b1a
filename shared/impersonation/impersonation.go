// Package impersonation is login-as: an admin opens a time-limited session acting as a
// node (that node's admin role) or a console user strictly below their own node, and
// sends its id in the X-Impersonation-Id header beside their own access token (API Gateway's
// Cognito authorizer only accepts Cognito tokens, so the session is not a token). The
// guard (shared/api) then runs every request as the session's target: every policy
// check and every default scope uses the target's role and node, which lie at or
// below the impersonator's by construction, and every change record names both the
// acting identity and the impersonator (audit.Actor.Impersonator).
//
// Sessions are IMPERSONATION#<id> items; their expiry is checked in code on every use
// (expiresAt, the table's TTL attribute, only cleans them up a day later). A session
// is refused, as 403 impersonation-ended, once ended, expired, unknown, or used by
// anyone but its impersonator, and when its target no longer lies strictly below the
// impersonator's node; a blocked branch of the target is 403 branch-suspended.
package impersonation

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Item is a login-as session as stored.
type Item struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Type string `dynamodbav:"type"`
	ID   string `dynamodbav:"id"`
	// The real user, and their node when the session began.
	ImpersonatorID     string    `dynamodbav:"impersonatorId"`
	ImpersonatorEmail  string    `dynamodbav:"impersonatorEmail"`
	ImpersonatorRole   tree.Role `dynamodbav:"impersonatorRole"`
	ImpersonatorNodeID string    `dynamodbav:"impersonatorNodeId"`
	// The target: a node, or a console user.
	TargetKind string `dynamodbav:"targetKind"`
	TargetID   string `dynamodbav:"targetId"`
	TargetName string `dynamodbav:"targetName,omitempty"`
	// The effective identity: role, node and the node's ancestors (root first); for a
	// user, their email.
	Role      tree.Role `dynamodbav:"role"`
	NodeID    string    `dynamodbav:"nodeId"`
	NodeKind  tree.Kind `dynamodbav:"nodeKind"`
	NodePath  []string  `dynamodbav:"nodePath"`
	UserEmail string    `dynamodbav:"userEmail,omitempty"`
	// ValidUntil is the end of the session, Unix seconds, checked on every use.
	ValidUntil int64  `dynamodbav:"validUntil"`
	EndedAt    string `dynamodbav:"endedAt,omitempty"`
	CreatedAt  string `dynamodbav:"createdAt"`
	Version    int    `dynamodbav:"version"`
	// ExpiresAt is the TTL: clean-up only, a day after ValidUntil.
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// Key is the key of session id.
func Key(id string) store.Item { return store.Key("IMPERSONATION#"+id, "IMPERSONATION") }

// NewID makes a session id: "imp_" and a lower-case ULID (api.ValidSessionID).
func NewID() string { return "imp_" + strings.ToLower(ulid.Make().String()) }

// Node is the session's target node (for a user, the user's node).
func (it Item) Node() tree.Node {
	return tree.Node{ID: it.NodeID, Kind: it.NodeKind, Path: it.NodePath}
}

// Cleanup is how long after its end a session item stays for GET.
const Cleanup = 24 * time.Hour

// Service serves /v1/impersonations.
type Service struct {
	Store   *store.Store
	Callers api.Callers
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

const res = "/v1/impersonations"

// Operations lists the operations keyed by function name. They all act for the
// signed-in user (api.Operation.AsSignedInUser): X-Impersonation-Id never changes who starts,
// reads or ends a session, and starting one while acting as someone is refused.
func (s *Service) Operations() map[string]api.Operation {
	mk := func(op tree.Operation, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: op, Method: method, Path: path, Kind: "impersonation", Callers: s.Callers,
			Target: target, Handle: h, AsSignedInUser: true}
	}
	return map[string]api.Operation{
		"impersonations-create": mk(tree.OpImpersonationsCreate, http.MethodPost, res, s.targetFromBody, s.create),
		"impersonations-get":    mk(tree.OpImpersonationsGet, http.MethodGet, res+"/{id}", s.session(tree.OpImpersonationsGet), s.get),
		"impersonations-delete": mk(tree.OpImpersonationsDelete, http.MethodDelete, res+"/{id}", s.session(tree.OpImpersonationsDelete), s.end),
	}
}

// View is a session as the API shows it.
type View struct {
	ID             string    `json:"id"`
	ImpersonatorID string    `json:"impersonatorId"`
	Target         TargetRef `json:"target"`
	ActingAs       ActingAs  `json:"actingAs"`
	Status         string    `json:"status"`
	CreatedAt      string    `json:"createdAt"`
	ExpiresAt      string    `json:"expiresAt"`
	EndedAt        *string   `json:"endedAt"`
	Version        int       `json:"version"`
}

// TargetRef names what a session acts as.
type TargetRef struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// ActingAs is the effective identity of a session.
type ActingAs struct {
	Role   tree.Role `json:"role"`
	NodeID string    `json:"nodeId"`
}

func (s *Service) viewOf(it Item) View {
	v := View{
		ID: it.ID, ImpersonatorID: it.ImpersonatorID,
		Target:   TargetRef{Kind: it.TargetKind, ID: it.TargetID, Name: it.TargetName},
		ActingAs: ActingAs{Role: it.Role, NodeID: it.NodeID},
		Status:   State(it, s.now()), CreatedAt: it.CreatedAt,
		ExpiresAt: time.Unix(it.ValidUntil, 0).UTC().Format(time.RFC3339), Version: it.Version,
	}
	if it.EndedAt != "" {
		v.EndedAt = &it.EndedAt
	}
	return v
}

// roleAllows refuses, before anything is read, a caller whose role may never do op.
func roleAllows(r *http.Request, op tree.Operation) error {
	if err := tree.Allow(op, api.CallerOf(r.Context()), nil); err != nil {
		return problem.Forbidden("your role may not " + string(op))
	}
	return nil
}

type createBody struct {
	NodeID  *string `json:"nodeId"`
	UserID  *string `json:"userId"`
	Minutes *int    `json:"minutes"`
}

// started is what the create's target loader found.
type started struct {
	body createBody
	// node is set for a node target, user for a user target.
	node *nodes.Item
	user *identity.UserItem
}

// targetFromBody loads the node or user the body names. What lies outside the
// caller's subtree is then answered by the guard exactly like a missing one.
func (s *Service) targetFromBody(r *http.Request) (tree.Node, any, error) {
	if _, acting := r.Header[http.CanonicalHeaderKey(api.HeaderImpersonation)]; acting {
		return tree.Node{}, nil, problem.Forbidden("a login-as session cannot start another: send this request without " + api.HeaderImpersonation)
	}
	if err := roleAllows(r, tree.OpImpersonationsCreate); err != nil {
		return tree.Node{}, nil, err
	}
	var b createBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return tree.Node{}, nil, err
	}
	kind, err := b.target()
	if err != nil {
		return tree.Node{}, nil, err
	}
	if b.NodeID != nil {
		n, err := nodes.Get(r.Context(), s.Store, *b.NodeID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && n.Kind != kind) {
			return tree.Node{}, nil, problem.NotFound(string(kind))
		}
		if err != nil {
			return tree.Node{}, nil, err
		}
		return n.Node(), started{body: b, node: &n}, nil
	}
	var u identity.UserItem
	err = s.Store.Get(r.Context(), identity.UserKey(*b.UserID), &u)
	if errors.Is(err, store.ErrNotFound) {
		return tree.Node{}, nil, problem.NotFound("user")
	}
	if err != nil {
		return tree.Node{}, nil, err
	}
	// As the console users' routes do: the user hangs below their node.
	node := tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath}
	return tree.Node{ID: "user#" + u.ID, Kind: "user", Path: node.Lineage()}, started{body: b, user: &u}, nil
}

// create serves POST /v1/impersonations: one transaction writes the session and its
// change record (impersonation.started).
func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	caller := api.CallerOf(ctx)
	t := api.TargetOf(ctx).(started)
	it, err := newItem(NewID(), caller, t, s.now())
	if err != nil {
		return err
	}
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		return err
	}
	rec, err := audit.Record(r, audit.Change{
		Action:  "impersonation.started",
		Target:  audit.Target{Type: "impersonation", ID: it.ID, Name: it.TargetName},
		Scope:   it.Node().Lineage(),
		After:   auditFields(it, s.now()),
		Version: it.Version,
	})
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx, put, rec); err != nil {
		return err
	}
	w.Header().Set("Location", res+"/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, s.viewOf(it))
}

// auditFields are the fields of a session the audit log compares.
func auditFields(it Item, now time.Time) map[string]any {
	f := map[string]any{
		"targetKind": it.TargetKind, "targetId": it.TargetID, "role": string(it.Role), "nodeId": it.NodeID,
		"expiresAt": time.Unix(it.ValidUntil, 0).UTC().Format(time.RFC3339), "status": State(it, now),
	}
	return f
}

// session loads the session the path names, for the impersonator only: anyone else's
// session reads like a missing one.
func (s *Service) session(op tree.Operation) api.Target {
	return func(r *http.Request) (tree.Node, any, error) {
		if err := roleAllows(r, op); err != nil {
			return tree.Node{}, nil, err
		}
		id := r.PathValue("id")
		if !api.ValidSessionID(id) {
			return tree.Node{}, nil, problem.NotFound("impersonation")
		}
		var it Item
		err := s.Store.Get(r.Context(), Key(id), &it)
		if errors.Is(err, store.ErrNotFound) || (err == nil && it.ImpersonatorID != api.CallerOf(r.Context()).UserID) {
			return tree.Node{}, nil, problem.NotFound("impersonation")
		}
		if err != nil {
			return tree.Node{}, nil, err
		}
		return tree.Node{ID: "impersonation#" + it.ID, Kind: "impersonation", Path: it.Node().Lineage()}, it, nil
	}
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := api.TargetOf(r.Context()).(Item)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, s.viewOf(it))
}

// end serves DELETE /v1/impersonations/{id}: the session is marked ended (kept for
// GET until its clean-up), with its change record (impersonation.ended). Ending an
// ended session changes nothing and answers 204 too.
func (s *Service) end(w http.ResponseWriter, r *http.Request) error {
	before := api.TargetOf(r.Context()).(Item)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if before.EndedAt != "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	now := s.now()
	after := before
	after.EndedAt, after.Version = now.Format(time.RFC3339), before.Version+1
	upd, err := store.Update(Key(before.ID), store.Item{
		"endedAt": &types.AttributeValueMemberS{Value: after.EndedAt},
		"version": &types.AttributeValueMemberN{Value: strconv.Itoa(after.Version)},
	}, nil, expression.Name("version").Equal(expression.Value(before.Version)))
	if err != nil {
		return err
	}
	rec, err := audit.Record(r, audit.Change{
		Action: "impersonation.ended",
		Target: audit.Target{Type: "impersonation", ID: before.ID, Name: before.TargetName},
		Scope:  before.Node().Lineage(),
		Before: auditFields(before, now), After: auditFields(after, now),
		Version: after.Version,
	})
	if err != nil {
		return err
	}
	if err := s.Store.Transact(r.Context(), upd.FailsWith(problem.Stale()), rec); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
