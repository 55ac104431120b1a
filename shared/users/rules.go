package users

import (
	"crypto/subtle"
	"time"

	"opsconsole/shared/admins"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// The pure rules of console users: who may act on whom, from which status, with which
// role, and what each change does to a node's set of active admins. They read nothing
// and write nothing (the handlers read the user, call them, then write), so that
// rules_test.go tests every decision in a table, without the local system.

// actionRule is what an action on an existing console user requires of the caller
// and of the user.
type actionRule struct {
	// self names the action in the refusal when nobody may take it on themselves
	// ("" when they may).
	self string
	// notAbove refuses the action on a user whose role is above the caller's.
	notAbove bool
	// from is the only status the action starts from ("" for any); fromRule says so
	// in the 409.
	from, fromRule string
}

// actionRules are the rules of the actions on an existing user. Deactivating or
// deleting oneself is refused so that an admin cannot lock themselves (and maybe their
// node) out by mistake: another admin does it. Resending an invitation changes no
// role or access, so it only asks that the user still be invited.
var actionRules = map[tree.Operation]actionRule{
	tree.OpUsersUpdate:       {notAbove: true},
	tree.OpUsersDeactivate:   {self: "deactivate", notAbove: true, from: identity.StatusActive, fromRule: "only an active user can be deactivated"},
	tree.OpUsersReactivate:   {notAbove: true, from: identity.StatusDeactivated, fromRule: "only a deactivated user can be reactivated"},
	tree.OpUsersDelete:       {self: "delete", notAbove: true},
	tree.OpUsersResendInvite: {from: identity.StatusInvited, fromRule: "only an invited user's invitation can be sent again"},
}

// mayAct decides whether caller may take op on the user u, with the answers in the
// order the API gives them: 403 for an action on oneself, 403 for a user above the
// caller, 409 invalid-transition from the wrong status. An op without a rule is
// refused (a programming error, never allowed by default).
func mayAct(op tree.Operation, caller tree.Caller, u identity.UserItem) error {
	rule, ok := actionRules[op]
	if !ok {
		return tree.ErrUnknownOperation
	}
	if rule.self != "" {
		if err := notSelf(caller, u, rule.self); err != nil {
			return err
		}
	}
	if rule.notAbove {
		if err := notAboveCaller(caller, u); err != nil {
			return err
		}
	}
	if rule.from != "" && u.Status != rule.from {
		return invalidTransition(u, rule.fromRule)
	}
	return nil
}

// mayUpdate decides whether caller may turn before into after with PATCH
// /v1/users/{id}: never a user above the caller, and a new role only if the caller
// may give it at the user's node (roleRule).
func mayUpdate(caller tree.Caller, before, after identity.UserItem) error {
	if err := mayAct(tree.OpUsersUpdate, caller, before); err != nil {
		return err
	}
	if after.Role != before.Role {
		return roleRule(caller, after.Role, before.NodeKind)
	}
	return nil
}

// notAboveCaller refuses an action on a user whose role is above the caller's (which
// the tree's shape already prevents: a user in the caller's subtree never holds a
// higher role; kept as a guard against hand-made data).
func notAboveCaller(caller tree.Caller, u identity.UserItem) error {
	if !caller.Role.AtLeast(u.Role) {
		return problem.Forbidden("you may not manage a user whose role is above your own")
	}
	return nil
}

// notSelf refuses an action (named by what) that nobody may take on themselves.
func notSelf(caller tree.Caller, u identity.UserItem, what string) error {
	if caller.UserID == u.ID {
		return problem.Forbidden("you may not " + what + " yourself; ask another admin")
	}
	return nil
}

// invalidTransition refuses an action from the user's current status.
func invalidTransition(u identity.UserItem, what string) error {
	return problem.Conflict("invalid-transition", "the user is "+u.Status+"; "+what,
		problem.Field("status", "is "+u.Status))
}

// roleRule checks that role may be given at a node of kind by caller: never a role
// above the caller's own (403), and only the admin role of the node's level (400).
// Since no node kind POST /v1/users accepts has end_user as its admin role, that role
// is only ever given by the end users' own invitation (endusers.go).
func roleRule(caller tree.Caller, role tree.Role, kind tree.Kind) error {
	if !caller.Role.AtLeast(role) {
		return problem.Forbidden("you may not give a role above your own (" + string(caller.Role) + ")")
	}
	if want, _ := tree.AdminRole(kind); role != want {
		return problem.Invalid("the role does not belong to the node's level",
			problem.Field("role", "must be "+string(want)+" for a user of a "+string(kind)))
	}
	return nil
}

// transitioned is before moved to status to at now: a new version, and the index keys
// of the new status. A deactivation also ends the user's sessions: the API refuses
// every token issued before now, even after a reactivation (the user signs in again).
func transitioned(before identity.UserItem, to string, now time.Time) identity.UserItem {
	after := before
	after.Status, after.Version, after.UpdatedAt = to, before.Version+1, nodes.Stamp(now)
	if to == identity.StatusDeactivated {
		after.SignedOutAt = now.Unix()
	}
	after.SetIndexKeys()
	return after
}

// activeAdmin reports whether u is counted among their node's active admins: an
// active user of a console role (end users never are). A nil u (a deleted user) is
// not.
func activeAdmin(u *identity.UserItem) bool {
	return u != nil && u.Status == identity.StatusActive && admins.Counts(u.Role)
}

// adminsChange is what turning before into after (nil for a deletion) does to the
// node's set of active admins: after joins it when it is an active admin and before
// was not; before leaves it when it was and after is not. The node itself never
// changes, so joining and leaving are of the same node.
func adminsChange(before, after *identity.UserItem) (join, leave bool) {
	was, is := activeAdmin(before), activeAdmin(after)
	return is && !was, was && !is
}

// endUserInvitable refuses the invitation of an end-user record that is not active:
// a deactivated end user gets no account until they are reactivated.
func endUserInvitable(rec nodes.Item) error {
	if rec.Status != identity.StatusActive {
		return problem.Conflict("invalid-transition", "the end user is "+rec.Status+"; only an active one can be invited",
			problem.Field("status", "is "+rec.Status))
	}
	return nil
}

// endUserEmailTaken is the answer to inviting the end-user record recID when its email
// already belongs to a console account: 409 account-exists when that account is the
// record's own (owner, the user holding the email, is linked to the record by its
// nodeId), so that the client knows to resend its invitation instead; 409 email-taken
// otherwise, and also when the owner could not be read (owner nil).
func endUserEmailTaken(recID string, owner *identity.UserItem) error {
	if owner != nil && owner.NodeID == recID {
		return problem.Conflict("account-exists", "the end user already has an account ("+owner.Status+"): user "+owner.ID,
			problem.Field("id", "has an account"))
	}
	return problem.EmailTaken()
}

// awaitsActivation reports whether u may still be activated with the token whose hash
// is hash: still invited, and hash is their latest link's (resend-invite replaces it).
func awaitsActivation(u identity.UserItem, hash string) bool {
	return u.Status == identity.StatusInvited && u.ActivationHash == hash
}

// live reports whether the pending activation still works at now; expiry is checked
// here, never left to the table's TTL, which deletes late.
func (a activationItem) live(now time.Time) bool { return a.ExpiresAt > now.Unix() }

// usable reports whether the pending reset still takes a code at now: not expired,
// and fewer than ResetMaxAttempts wrong codes tried.
func (p resetItem) usable(now time.Time) bool {
	return p.ExpiresAt > now.Unix() && p.Attempts < ResetMaxAttempts
}

// matches reports whether code is the pending reset's, comparing the hashes in
// constant time so that the answer's timing says nothing of how close a guess was.
func (p resetItem) matches(code string) bool {
	return subtle.ConstantTimeCompare([]byte(hashCode(p.Salt, code)), []byte(p.CodeHash)) == 1
}
