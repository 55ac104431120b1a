package identity

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// errUserChanged is a concurrent change to the user item (an admin changing their
// role at that moment): RecordMFA reads it again and retries.
var errUserChanged = errors.New("the user item changed")

// RecordMFA writes user userID's mfaEnrolled with its change record (user.mfa_enrolled
// or user.mfa_removed, by actor), in one transaction conditional on the version read,
// retried on a concurrent change. The MFA routes record what they did in Cognito; the
// pre-authentication trigger records a TOTP removed in Cognito directly.
func RecordMFA(ctx context.Context, st *store.Store, userID string, enrolled bool, actor audit.Actor, meta api.Meta) error {
	for range 3 {
		if err := recordMFAOnce(ctx, st, userID, enrolled, actor, meta); !errors.Is(err, errUserChanged) {
			return err
		}
	}
	return errUserChanged
}

func recordMFAOnce(ctx context.Context, st *store.Store, userID string, enrolled bool, actor audit.Actor, meta api.Meta) error {
	var u UserItem
	if err := st.Get(ctx, UserKey(userID), &u); err != nil {
		return err
	}
	upd, err := store.Update(UserKey(u.ID), store.Item{
		"mfaEnrolled": &types.AttributeValueMemberBOOL{Value: enrolled},
		"version":     &types.AttributeValueMemberN{Value: strconv.Itoa(u.Version + 1)},
		"updatedAt":   &types.AttributeValueMemberS{Value: nodes.Stamp(time.Now())},
	}, nil, expression.Name("version").Equal(expression.Value(u.Version)))
	if err != nil {
		return err
	}
	action := "user.mfa_removed"
	if enrolled {
		action = "user.mfa_enrolled"
	}
	rec, err := audit.RecordBy(actor, meta, audit.Change{
		Action:  action,
		Target:  audit.Target{Type: "user", ID: u.ID, Name: u.Email},
		Scope:   tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath}.Lineage(),
		Before:  map[string]any{"mfaEnrolled": u.MFAEnrolled},
		After:   map[string]any{"mfaEnrolled": enrolled},
		Version: u.Version + 1,
	})
	if err != nil {
		return err
	}
	return st.Transact(ctx, upd.FailsWith(errUserChanged), rec)
}
