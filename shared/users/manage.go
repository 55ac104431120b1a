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
	"opsconsole/shared/tree"
)

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	u := loaded(r)
	w.Header().Set("ETag", api.ETag(u.Version))
	return api.WriteJSON(w, http.StatusOK, viewOf(u))
}

// leaveAdmins is the write that takes u out of their node's active admins, refused
// with last-admin when they are the last one.
func leaveAdmins(u identity.UserItem) store.Write {
	return admins.Remove(u.NodeID, u.ID).FailsWith(problem.LastAdmin())
}

// adminWrites are the writes that keep the node's set of active admins right when
// before becomes after (nil for a deletion), as adminsChange decides.
func adminWrites(before, after *identity.UserItem) []store.Write {
	switch join, leave := adminsChange(before, after); {
	case join:
		return []store.Write{admins.Add(after.NodeID, after.ID)}
	case leave:
		return []store.Write{leaveAdmins(*before)}
	}
	return nil
}

type updateBody struct {
	Role      *string `json:"role"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
}

// apply is before with the changes of the body (nulls are the fields the body set to
// null), or the 400 that says what is wrong with it: every invalid field at once,
// then a body that names no field. Whether the caller may make the change is
// mayUpdate's to decide.
func (b updateBody) apply(before identity.UserItem, nulls []string) (identity.UserItem, error) {
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
		return before, problem.Invalid("the body is invalid", errs...)
	}
	if b.Role == nil && b.FirstName == nil && b.LastName == nil {
		return before, problem.Invalid("the body changes nothing", problem.Field("body", "give at least one of role, firstName, lastName"))
	}
	return after, nil
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
	after, err := b.apply(before, nulls)
	if err != nil {
		return err
	}
	// The body is judged before the version: a malformed request is a 400 whatever its If-Match.
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := mayUpdate(api.CallerOf(r.Context()), before, after); err != nil {
		return err
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
	writes := append([]store.Write{upd}, adminWrites(&before, &after)...)
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
	after := transitioned(before, to, s.now())
	cond := expression.Name("status").Equal(expression.Value(before.Status))
	upd, err := updateUser(before, after, &cond)
	if err != nil {
		return after, err
	}
	writes := append([]store.Write{upd}, adminWrites(&before, &after)...)
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
	if err := mayAct(tree.OpUsersDeactivate, api.CallerOf(ctx), before); err != nil {
		return err
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
	if err := mayAct(tree.OpUsersReactivate, api.CallerOf(ctx), before); err != nil {
		return err
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
	if err := mayAct(tree.OpUsersDelete, api.CallerOf(ctx), before); err != nil {
		return err
	}
	writes := []store.Write{
		store.Delete(identity.UserKey(before.ID), store.VersionIs(before.Version)).FailsWith(problem.Stale()),
		store.Delete(identity.EmailKey(before.Email), store.AttrIs("ownerId", before.ID)),
	}
	writes = append(writes, adminWrites(&before, nil)...)
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
