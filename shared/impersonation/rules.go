package impersonation

import (
	"slices"
	"time"

	"opsconsole/shared/tree"
)

// The pure rules of login-as, without any AWS import.

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
