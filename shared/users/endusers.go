package users

import (
	"errors"
	"maps"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/idempotency"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// End users' sign-in accounts. An end user's account is a console user (the same
// invitation, activation, sign-in and TOTP) with role end_user whose node is their
// end-user record (kind end_user, below their company): the user item's nodeId is
// the record's id, which links the two without another item. Because identity.Callers
// reads every node of the user's lineage on each call, it reads the record too: a
// deactivated record refuses the account's very next call (403 branch-suspended) and a
// deleted one too (401), at no extra cost. The role end_user is given only here, never
// through POST /v1/users (whose nodes are never end-user records).

func (s *Service) endUserInviteOperation() api.Operation {
	return api.Operation{
		ID: tree.OpEndUsersInvite, Method: http.MethodPost, Path: "/v1/end-users/{id}/invite", Kind: string(tree.KindEndUser),
		Callers: s.Callers, Target: s.endUserRecord, Handle: idempotency.Wrap(s.Store, s.metered(s.inviteEndUser)),
		NodeLimit: s.invitations(),
	}
}

// endUserRecord loads the end-user record the path names; an id that cannot be one is
// answered like a missing one, without a read.
func (s *Service) endUserRecord(r *http.Request) (tree.Node, any, error) {
	id := r.PathValue("id")
	if !nodes.ValidID(tree.KindEndUser, id) {
		return tree.Node{}, nil, problem.NotFound(string(tree.KindEndUser))
	}
	it, err := s.loadNode(r.Context(), tree.KindEndUser, id)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return it.Node(), it, nil
}

// inviteEndUser serves POST /v1/end-users/{id}/invite: the record's sign-in account,
// invited exactly as POST /v1/users invites (Invite), with role end_user at the
// record. Only an active record without an account: a second invitation is 409
// account-exists (an invited account gets a new link with POST
// /v1/users/{userId}/resend-invite); an email held by another console account is 409
// email-taken.
func (s *Service) inviteEndUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rec := api.TargetOf(ctx).(nodes.Item)
	if err := api.CheckVersion(r, rec.Version); err != nil {
		return err
	}
	if err := endUserInvitable(rec); err != nil {
		return err
	}
	// A sign-in name is lower-case (the record keeps the case it was given), and a
	// record written before the email rule was Cognito's own may hold one Cognito refuses.
	email, err := identity.CleanEmail(rec.Name)
	if err != nil {
		return problem.Conflict("invalid-transition", "the end user's email cannot be a sign-in name; correct it with PATCH first",
			problem.Field("email", "must be a plain email address such as ops@example.com"))
	}
	var owner nodes.UniqueName
	err = s.Store.Get(ctx, identity.EmailKey(email), &owner)
	switch {
	case err == nil:
		var u identity.UserItem
		if gerr := s.Store.Get(ctx, identity.UserKey(owner.OwnerID), &u); gerr != nil {
			return endUserEmailTaken(rec.ID, nil)
		}
		return endUserEmailTaken(rec.ID, &u)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	first, _ := rec.Attrs["firstName"].(string)
	last, _ := rec.Attrs["lastName"].(string)
	u, err := s.Invite(r, rec, email, first, last, tree.RoleEndUser)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	w.Header().Set("ETag", api.ETag(u.Version))
	return api.WriteJSON(w, http.StatusCreated, viewOf(u))
}

func (s *Service) meUpdateOperation() api.Operation {
	return api.Operation{
		ID: tree.OpMeUpdate, Method: http.MethodPatch, Path: "/v1/me", Kind: "user",
		Callers: s.Callers, AsSignedInUser: true, Handle: s.metered(s.updateMe),
	}
}

type meBody struct {
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
}

// read validates PATCH /v1/me's body (nulls are the fields it set to null): the
// cleaned names (meaningful only for the fields given), or the 400 naming every
// invalid field, then a body that names none.
func (b meBody) read(nulls []string) (first, last string, err error) {
	var errs []problem.FieldError
	for _, f := range nulls {
		errs = append(errs, problem.Field(f, "must not be null"))
	}
	if b.FirstName != nil {
		var fe []problem.FieldError
		first, fe = readName("firstName", b.FirstName, true)
		errs = append(errs, fe...)
	}
	if b.LastName != nil {
		var fe []problem.FieldError
		last, fe = readName("lastName", b.LastName, true)
		errs = append(errs, fe...)
	}
	if len(errs) > 0 {
		return "", "", problem.Invalid("the body is invalid", errs...)
	}
	if b.FirstName == nil && b.LastName == nil {
		return "", "", problem.Invalid("the body changes nothing", problem.Field("body", "give at least one of firstName, lastName"))
	}
	return first, last, nil
}

// updateMe serves PATCH /v1/me {firstName, lastName}: the signed-in user's own name,
// on their user item and, for an end user, on their end-user record too, in one
// transaction with a change record for each (user.updated, end_user.updated). Answers
// the user as GET /v1/users/{id} shows them.
func (s *Service) updateMe(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b meBody
	nulls, err := api.DecodePatch(r, &b)
	if err != nil {
		return err
	}
	first, last, err := b.read(nulls)
	if err != nil {
		return err
	}
	var before identity.UserItem
	if err := s.Store.Get(ctx, identity.UserKey(api.CallerOf(ctx).UserID), &before); err != nil {
		return err
	}
	after := before
	if b.FirstName != nil {
		after.FirstName = first
	}
	if b.LastName != nil {
		after.LastName = last
	}
	if after.FirstName == before.FirstName && after.LastName == before.LastName {
		return api.WriteJSON(w, http.StatusOK, viewOf(before))
	}
	now := s.now()
	after.Version, after.UpdatedAt = before.Version+1, nodes.Stamp(now)
	upd, err := updateUser(before, after, nil)
	if err != nil {
		return err
	}
	writes := []store.Write{upd}
	if before.NodeKind == tree.KindEndUser {
		more, err := s.renameRecord(r, before.NodeID, after.FirstName, after.LastName, nodes.Stamp(now))
		if err != nil {
			return err
		}
		writes = append(writes, more...)
	}
	rec, err := record(r, nil, "updated", &before, &after)
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx, append(writes, rec)...); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, viewOf(after))
}

// renameRecord is the update of the end-user record id's names (conditional on the
// version read) and its change record.
func (s *Service) renameRecord(r *http.Request, id, first, last, now string) ([]store.Write, error) {
	before, err := s.loadNode(r.Context(), tree.KindEndUser, id)
	if err != nil {
		return nil, err
	}
	after := before
	after.Attrs = maps.Clone(before.Attrs)
	if after.Attrs == nil {
		after.Attrs = map[string]any{}
	}
	after.Attrs["firstName"], after.Attrs["lastName"] = first, last
	after.Version, after.UpdatedAt = before.Version+1, now
	av, err := attributevalue.MarshalMap(after)
	if err != nil {
		return nil, err
	}
	set := store.Item{"attrs": av["attrs"], "version": av["version"], "updatedAt": av["updatedAt"]}
	upd, err := store.Update(nodes.Key(id), set, nil, expression.Name("version").Equal(expression.Value(before.Version)))
	if err != nil {
		return nil, err
	}
	fields := func(it nodes.Item) map[string]any {
		m := map[string]any{"email": it.Name, "status": it.Status}
		maps.Copy(m, it.Attrs)
		return m
	}
	rec, err := audit.Record(r, audit.Change{
		Action: string(tree.KindEndUser) + ".updated",
		Target: audit.Target{Type: string(tree.KindEndUser), ID: id, Name: before.Name},
		Scope:  audit.NodeScope(before.Node()),
		Before: fields(before), After: fields(after),
		Version: after.Version,
	})
	if err != nil {
		return nil, err
	}
	return []store.Write{upd.FailsWith(problem.Stale()), rec}, nil
}
