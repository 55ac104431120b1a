package impersonation

import (
	"slices"
	"time"

	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// The pure rules of login-as, without any AWS import: who may act as what, for how
// long, and when a session still stands. They read nothing and write nothing (the
// handlers and Callers read, call them, then write), so that rules_test.go tests
// them in tables, without the local system.

// Session lengths, in minutes.
const (
	DefaultMinutes = 30
	MaxMinutes     = 60
)

// Target kinds.
const (
	TargetNode = "node"
	TargetUser = "user"
)

// AdminRoleOf is the role an impersonator takes on when acting as a node of kind:
// that node's admin (tree.AdminRole). False for a kind that cannot be acted as: the
// platform (nobody is above it) and end users' records (no console users).
func AdminRoleOf(kind tree.Kind) (tree.Role, bool) {
	if kind == tree.KindPlatform {
		return "", false
	}
	return tree.AdminRole(kind)
}

// StrictlyBelow reports whether target lies in n's subtree and is not n itself: the
// only places an impersonation may reach (never sideways, up, or one's own node).
func StrictlyBelow(n, target tree.Node) bool {
	return n.ID != target.ID && slices.Contains(target.Path, n.ID)
}

// MayActAs reports whether caller may act as role at node: node strictly below the
// caller's, and role not above the caller's own. By the tree's shape the second
// follows from the first; it is kept as a guard against hand-made data.
func MayActAs(caller tree.Caller, role tree.Role, node tree.Node) bool {
	return StrictlyBelow(caller.Node, node) && caller.Role.AtLeast(role) && role != caller.Role
}

// Usable reports whether a session may still be used at now by the user userID:
// theirs, not ended, not expired. Expiry is checked here, never left to TTL.
func Usable(it Item, userID string, now time.Time) bool {
	return it.ImpersonatorID == userID && it.EndedAt == "" && now.Unix() < it.ValidUntil
}

// State is a session's state at now: active, ended (by DELETE) or expired.
func State(it Item, now time.Time) string {
	switch {
	case it.EndedAt != "":
		return "ended"
	case now.Unix() >= it.ValidUntil:
		return "expired"
	}
	return "active"
}

// target validates the body's choice of target before anything is read, and tells
// the kind of node it names ("" for a user): exactly one of nodeId and userId; a node
// id must name a node that can be acted as, or the platform (refused later, with the
// 403 of one's own node: nobody is above it); a malformed user id reads like a
// missing user.
func (b createBody) target() (tree.Kind, error) {
	const nodeRule = "must be the id of a distributor, a partner, an organization or a company"
	switch {
	case (b.NodeID == nil) == (b.UserID == nil):
		return "", problem.Invalid("name exactly one target",
			problem.Field("nodeId", "exactly one of nodeId and userId is required"))
	case b.NodeID != nil:
		kind, ok := nodes.KindOfID(*b.NodeID)
		if !ok {
			return "", problem.Invalid("the node id is malformed", problem.Field("nodeId", nodeRule))
		}
		if _, ok := AdminRoleOf(kind); !ok && kind != tree.KindPlatform {
			return "", problem.Invalid("an end user's record cannot be acted as", problem.Field("nodeId", nodeRule))
		}
		return kind, nil
	case !tree.ValidUserID(*b.UserID):
		return "", problem.NotFound("user")
	}
	return "", nil
}

// newItem is the session id that caller starts at now on the target t found, or the
// answer refusing it, in this order: a target not strictly below the caller (403,
// one's own node included), a user above the caller's role (403) or not active (400),
// then a length out of range (400). The session takes on the node's admin role, or
// the user's own role and email.
func newItem(id string, caller tree.Caller, t started, now time.Time) (Item, error) {
	it := Item{
		PK: "IMPERSONATION#" + id, SK: "IMPERSONATION", ID: id, Type: "impersonation",
		ImpersonatorID: caller.UserID, ImpersonatorEmail: caller.Email, ImpersonatorRole: caller.Role,
		ImpersonatorNodeID: caller.Node.ID,
		CreatedAt:          now.Format(time.RFC3339), Version: 1,
	}
	if n := t.node; n != nil {
		role, ok := AdminRoleOf(n.Kind)
		if !ok || !MayActAs(caller, role, n.Node()) {
			return Item{}, problem.Forbidden("you may only act as a node strictly below your own")
		}
		it.TargetKind, it.TargetID, it.TargetName = TargetNode, n.ID, n.Name
		it.Role, it.NodeID, it.NodeKind, it.NodePath = role, n.ID, n.Kind, n.Path
	} else {
		u := t.user
		node := tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath}
		if !MayActAs(caller, u.Role, node) {
			return Item{}, problem.Forbidden("you may only act as a console user of a node strictly below your own, with a role below yours")
		}
		if u.Status != identity.StatusActive {
			return Item{}, problem.Invalid("the user is not active", problem.Field("userId", "must be an active console user; this one is "+u.Status))
		}
		it.TargetKind, it.TargetID, it.TargetName, it.UserEmail = TargetUser, u.ID, u.Email, u.Email
		it.Role, it.NodeID, it.NodeKind, it.NodePath = u.Role, u.NodeID, u.NodeKind, u.NodePath
	}
	minutes, err := sessionMinutes(t.body.Minutes)
	if err != nil {
		return Item{}, err
	}
	it.ValidUntil = now.Add(time.Duration(minutes) * time.Minute).Unix()
	it.ExpiresAt = it.ValidUntil + int64(Cleanup/time.Second)
	return it, nil
}

// sessionMinutes is the length asked for (nil for DefaultMinutes), 1 to MaxMinutes.
func sessionMinutes(m *int) (int, error) {
	if m == nil {
		return DefaultMinutes, nil
	}
	if *m < 1 || *m > MaxMinutes {
		return 0, problem.Invalid("the session length is out of range", problem.Field("minutes", "must be 1 to 60"))
	}
	return *m, nil
}

// belowImpersonator lists the ids of the session's target's lineage strictly below
// the impersonator's node, root side first: the nodes whose state decides whether the
// session may still act. False when the impersonator's node is not in the lineage, or
// is the target itself (hand-made or moved data): such a session stands for nothing.
func belowImpersonator(sess Item) ([]string, bool) {
	lineage := sess.Node().Lineage()
	i := slices.Index(lineage, sess.ImpersonatorNodeID)
	if i < 0 || i == len(lineage)-1 {
		return nil, false
	}
	return lineage[i+1:], true
}

// Stands reports whether the session may still act for real, the signed-in user, at
// now: theirs and usable (Usable), its target still strictly below their node, their
// node the one it began from, and their role not below the one it acts with. Anything
// else reads as an ended session.
func Stands(sess Item, real tree.Caller, now time.Time) bool {
	return Usable(sess, real.UserID, now) && StrictlyBelow(real.Node, sess.Node()) &&
		real.Node.ID == sess.ImpersonatorNodeID && real.Role.AtLeast(sess.Role)
}

// StillStandsFor reports whether a user session still stands for u, its target as
// read now: deactivated, moved or given another role, the user is no longer who the
// session acts as.
func StillStandsFor(sess Item, u identity.UserItem) bool {
	return u.Status == identity.StatusActive && u.Role == sess.Role && u.NodeID == sess.NodeID
}

// ActingCaller is who a request through the session acts as: the session's role and
// node (and, for a user session, the user's id and email), with the real user as the
// Impersonator. MFA and sign-out stay the real user's, which the guard checks on them.
func ActingCaller(real tree.Caller, sess Item) tree.Caller {
	acting := tree.Caller{
		UserID: real.UserID, Email: real.Email, Role: sess.Role, Node: sess.Node(),
		MFARequired: real.MFARequired, MFAEnrolled: real.MFAEnrolled, SignedOutAt: real.SignedOutAt,
		Impersonator: &tree.Impersonator{UserID: real.UserID, Email: real.Email, Role: real.Role, SessionID: sess.ID},
	}
	if sess.TargetKind == TargetUser {
		acting.UserID, acting.Email = sess.TargetID, sess.UserEmail
	}
	return acting
}
