package users

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"opsconsole/shared/admins"
	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
)

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	u := loaded(r)
	w.Header().Set("ETag", api.ETag(u.Version))
	return api.WriteJSON(w, http.StatusOK, viewOf(u))
}

// notAboveCaller refuses an action on a user whose role is above the caller's (which
// the tree's shape already prevents: a user in the caller's subtree never holds a
// higher role; kept as a guard against hand-made data).
func notAboveCaller(r *http.Request, u identity.UserItem) error {
	if caller := api.CallerOf(r.Context()); !caller.Role.AtLeast(u.Role) {
		return problem.Forbidden("you may not manage a user whose role is above your own")
	}
	return nil
}

// notSelf refuses an action a user may not take on themselves.
func notSelf(r *http.Request, u identity.UserItem, what string) error {
	if api.CallerOf(r.Context()).UserID == u.ID {
		return problem.Forbidden("you may not " + what + " yourself; ask another admin")
	}
	return nil
}

// leaveAdmins is the write that takes u out of their node's active admins, refused
// with last-admin when they are the last one.
func leaveAdmins(u identity.UserItem) store.Write {
	return admins.Remove(u.NodeID, u.ID).FailsWith(problem.LastAdmin())
}

type updateBody struct {
	Role      *string `json:"role"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
}

// update serves PATCH /v1/users/{id}: role, first and last name. A role change that
// takes an active user out of the node's admins is refused for the last one
// (last-admin). Only the table changes.
func (s *Service) update(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	var b updateBody
	nulls, err := api.DecodePatch(r, &b)
	if err != nil {
		return err
	}
	var errs []problem.FieldError
	for _, f := range nulls {
		errs = append(errs, problem.Field(f, "must not be null"))
	}
	after := before
	if b.FirstName != nil {
		v, fe := readName("firstName", b.FirstName, true)
		errs, after.FirstName = append(errs, fe...), v
	}
	if b.LastName != nil {
		v, fe := readName("lastName", b.LastName, true)
		errs, after.LastName = append(errs, fe...), v
	}
	if b.Role != nil {
		rl, fe := readRole(*b.Role)
		if fe != nil {
			errs = append(errs, *fe)
		}
		after.Role = rl
	}
	if len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	if b.Role == nil && b.FirstName == nil && b.LastName == nil {
		return problem.Invalid("the body changes nothing", problem.Field("body", "give at least one of role, firstName, lastName"))
	}
	// The body is judged before the version: a malformed request is a 400 whatever its If-Match.
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := notAboveCaller(r, before); err != nil {
		return err
	}
	if after.Role != before.Role {
		if err := roleRule(api.CallerOf(r.Context()), after.Role, before.NodeKind); err != nil {
			return err
		}
	}
	if after.Role == before.Role && after.FirstName == before.FirstName && after.LastName == before.LastName {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, viewOf(before))
	}
	after.Version, after.UpdatedAt = before.Version+1, nodes.Stamp(s.now())
	upd, err := updateUser(before, after, nil)
	if err != nil {
		return err
	}
	writes := []store.Write{upd}
	if before.Status == identity.StatusActive {
		switch was, is := admins.Counts(before.Role), admins.Counts(after.Role); {
		case was && !is:
			writes = append(writes, leaveAdmins(before))
		case !was && is:
			writes = append(writes, admins.Add(after.NodeID, after.ID))
		}
	}
	rec, err := record(r, nil, "updated", &before, &after)
	if err != nil {
		return err
	}
	if err := s.Store.Transact(r.Context(), append(writes, rec)...); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, viewOf(after))
}

// transition moves u from status from to status to in the table, with the change of
// the node's admins it implies; verb names the audit action.
func (s *Service) transition(r *http.Request, before identity.UserItem, to, verb string) (identity.UserItem, error) {
	now := s.now()
	after := before
	after.Status, after.Version, after.UpdatedAt = to, before.Version+1, nodes.Stamp(now)
	if to == identity.StatusDeactivated {
		// Sessions end with the deactivation: the API refuses every token issued
		// before now, even after a reactivation (the user signs in again).
		after.SignedOutAt = now.Unix()
	}
	after.SetIndexKeys()
	cond := expression.Name("status").Equal(expression.Value(before.Status))
	upd, err := updateUser(before, after, &cond)
	if err != nil {
		return after, err
	}
	writes := []store.Write{upd}
	if admins.Counts(before.Role) {
		if to == identity.StatusActive {
			writes = append(writes, admins.Add(after.NodeID, after.ID))
		} else if before.Status == identity.StatusActive {
			writes = append(writes, leaveAdmins(before))
		}
	}
	rec, err := record(r, nil, verb, &before, &after)
	if err != nil {
		return after, err
	}
	return after, s.Store.Transact(r.Context(), append(writes, rec)...)
}

// deactivate serves POST /v1/users/{id}/deactivate. The table first: from the moment
// the transaction commits the user is refused on every call (identity.Callers reads
// the user item on each), whatever tokens they hold; the last active admin of a node
// is refused (last-admin) in the same transaction. Then Cognito disables the account
// and revokes its refresh tokens; if that fails it is logged and the answer is still
// 200: the API refuses the user anyway, and a reactivation enables the account again.
func (s *Service) deactivate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := notSelf(r, before, "deactivate"); err != nil {
		return err
	}
	if err := notAboveCaller(r, before); err != nil {
		return err
	}
	if before.Status != identity.StatusActive {
		return invalidTransition(before, "only an active user can be deactivated")
	}
	after, err := s.transition(r, before, identity.StatusDeactivated, "deactivated")
	if err != nil {
		return err
	}
	cog := s.cognito()
	if _, err := cog.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: &s.PoolID, Username: &before.Email}); err != nil {
		logError(ctx, r, "deactivate: the Cognito account was not disabled", err)
	} else if _, err := cog.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{UserPoolId: &s.PoolID, Username: &before.Email}); err != nil {
		logError(ctx, r, "deactivate: the Cognito sessions were not revoked", err)
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, viewOf(after))
}

// reactivate serves POST /v1/users/{id}/reactivate. Cognito first: the account is
// enabled (harmless if the transaction then fails: the table still says deactivated,
// and the API refuses the user), then the table makes the user active again and counts
// them among the node's admins.
func (s *Service) reactivate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := notAboveCaller(r, before); err != nil {
		return err
	}
	if before.Status != identity.StatusDeactivated {
		return invalidTransition(before, "only a deactivated user can be reactivated")
	}
	if _, err := s.cognito().AdminEnableUser(ctx, &cip.AdminEnableUserInput{UserPoolId: &s.PoolID, Username: &before.Email}); err != nil {
		return err
	}
	after, err := s.transition(r, before, identity.StatusActive, "reactivated")
	if err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, viewOf(after))
}

// delete serves DELETE /v1/users/{id}. The table first, in one transaction: the user
// item, their email (free for a new invitation), a pending activation, their place
// among the node's active admins (refused for the last one) and the change record.
// Then Cognito deletes the account; if that fails it is logged and the answer is still
// 204: the account can reach no API without its user item, and a new invitation of the
// email adopts it.
func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := notSelf(r, before, "delete"); err != nil {
		return err
	}
	if err := notAboveCaller(r, before); err != nil {
		return err
	}
	writes := []store.Write{
		store.Delete(identity.UserKey(before.ID), store.VersionIs(before.Version)).FailsWith(problem.Stale()),
		store.Delete(identity.EmailKey(before.Email), store.AttrIs("ownerId", before.ID)),
	}
	if before.Status == identity.StatusActive && admins.Counts(before.Role) {
		writes = append(writes, leaveAdmins(before))
	}
	if before.ActivationHash != "" {
		writes = append(writes, store.Delete(ActivationKey(before.ActivationHash), nil))
	}
	rec, err := record(r, nil, "deleted", &before, nil)
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx, append(writes, rec)...); err != nil {
		return err
	}
	if _, err := s.cognito().AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &s.PoolID, Username: &before.Email}); err != nil && !isUserNotFound(err) {
		logError(ctx, r, "delete: the Cognito account was not deleted", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
