package users

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
)

type activateBody struct {
	Token    *string `json:"token"`
	Password *string `json:"password"`
}

// check refuses, before anything is read, an activation request whose token cannot
// be one or whose password the pool's policy refuses: the 400 names every problem.
func (b activateBody) check() error {
	var errs []problem.FieldError
	if b.Token == nil || *b.Token == "" {
		errs = append(errs, problem.Field("token", "is required"))
	} else if len(*b.Token) > maxToken {
		errs = append(errs, problem.Field("token", "is too long"))
	}
	if b.Password == nil {
		errs = append(errs, problem.Field("password", "is required"))
	} else {
		errs = append(errs, PasswordProblems("password", *b.Password)...)
	}
	if len(errs) > 0 {
		return problem.Invalid("the activation request is invalid", errs...)
	}
	return nil
}

// maxToken bounds the token accepted (ours are 43 characters).
const maxToken = 256

// claim holds item key for claimFor: the update succeeds only if the item exists, has
// not expired, satisfies extra, and is not held by another request right now.
func (s *Service) claim(ctx context.Context, key store.Item, now time.Time, extra *expression.ConditionBuilder) error {
	cond := expression.AttributeExists(expression.Name("PK")).
		And(expression.Name("expiresAt").GreaterThan(expression.Value(now.Unix()))).
		And(expression.Or(expression.AttributeNotExists(expression.Name("claimedUntil")),
			expression.Name("claimedUntil").LessThan(expression.Value(now.Unix()))))
	if extra != nil {
		cond = cond.And(*extra)
	}
	_, err := s.Store.UpdateOne(ctx, store.Edit(key, store.Expr{
		Update: "SET #claimed = :claimUntil", If: &cond,
		Names:  map[string]string{"#claimed": "claimedUntil"},
		Values: map[string]any{":claimUntil": now.Add(claimFor).Unix()},
	}))
	return err
}

// release gives a claimed item back at once.
func (s *Service) release(ctx context.Context, r *http.Request, key store.Item) {
	_, err := s.Store.UpdateOne(ctx, store.Edit(key, store.Expr{
		Update: "REMOVE #claimed", Condition: "attribute_exists(PK)",
		Names: map[string]string{"#claimed": "claimedUntil"},
	}))
	if err != nil && !errors.Is(err, store.ErrConditionFailed) {
		logError(ctx, r, "a claimed token was not released; it works again in "+claimFor.String(), err)
	}
}

// activate serves POST /v1/auth/activate (public): the token of the activation email
// and the password the user chooses.
//
// Order, and what each failure leaves: the password is checked against the pool's
// policy first (nothing read). (1) The pending activation and the user are read; an
// unknown, expired or superseded token is the one invalid-token answer. (2) The
// activation is claimed for claimFor (a conditional update), so that a second use of
// the token at the same moment fails instead of setting another password. (3) Cognito
// sets the password (a refused password releases the claim: the token still works)
// and marks the email verified. (4) One transaction makes the user active, deletes the
// activation (single use), adds the user to the node's active admins and records the
// change; when it fails (the user was deleted or changed meanwhile) the claim is
// released and the user stays invited, so the API still refuses them, whatever
// password Cognito now holds.
func (s *Service) activate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b activateBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	now := s.now()
	hash := HashToken(*b.Token)
	key := ActivationKey(hash)

	// (1)
	var act activationItem
	err := s.Store.Get(ctx, key, &act)
	if errors.Is(err, store.ErrNotFound) {
		return problem.InvalidToken()
	}
	if err != nil {
		return err
	}
	if !act.live(now) {
		return problem.InvalidToken()
	}
	var u identity.UserItem
	err = s.Store.Get(ctx, identity.UserKey(act.UserID), &u)
	if errors.Is(err, store.ErrNotFound) {
		return problem.InvalidToken()
	}
	if err != nil {
		return err
	}
	if !awaitsActivation(u, hash) {
		return problem.InvalidToken()
	}

	// (2)
	if err := s.claim(ctx, key, now, nil); errors.Is(err, store.ErrConditionFailed) {
		return problem.InvalidToken()
	} else if err != nil {
		return err
	}

	// (3)
	if err := s.setPassword(ctx, u.Email, *b.Password); err != nil {
		s.release(ctx, r, key)
		if isUserNotFound(err) {
			return problem.InvalidToken()
		}
		return err
	}
	if _, err := s.cognito().AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
		UserPoolId: &s.PoolID, Username: &u.Email,
		UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email_verified"), Value: aws.String("true")}},
	}); err != nil {
		s.release(ctx, r, key)
		return err
	}

	// (4)
	after := u
	after.Status, after.ActivationHash = identity.StatusActive, ""
	after.Version, after.UpdatedAt = u.Version+1, nodes.Stamp(now)
	after.SetIndexKeys()
	cond := expression.Name("status").Equal(expression.Value(identity.StatusInvited)).
		And(expression.Name("activationHash").Equal(expression.Value(hash)))
	upd, err := updateUser(u, after, &cond)
	if err != nil {
		return err
	}
	writes := []store.Write{upd.FailsWith(problem.InvalidToken()), store.Delete(key, exists()).FailsWith(problem.InvalidToken())}
	writes = append(writes, adminWrites(&u, &after)...)
	rec, err := record(r, selfActor(u), "activated", &u, &after)
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx, append(writes, rec)...); err != nil {
		s.release(ctx, r, key)
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// exists holds when the item being written exists.
func exists() *store.Condition {
	return &store.Condition{Expr: "attribute_exists(#pk)", Names: map[string]string{"#pk": "PK"}}
}
