// Package identity holds console users: who a token's subject is in the tree, signing
// in through Cognito, and the seeded platform admin.
package identity

import (
	"context"
	"errors"
	"time"

	"opsconsole/shared/api"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// User statuses.
const (
	StatusInvited     = "invited"
	StatusActive      = "active"
	StatusDeactivated = "deactivated"
)

// UserItem is a console user as stored, keyed by their Cognito subject.
type UserItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	Type      string    `dynamodbav:"type"`
	ID        string    `dynamodbav:"id"`
	Email     string    `dynamodbav:"email"`
	FirstName string    `dynamodbav:"firstName"`
	LastName  string    `dynamodbav:"lastName"`
	Role      tree.Role `dynamodbav:"role"`
	NodeID    string    `dynamodbav:"nodeId"`
	NodeKind  tree.Kind `dynamodbav:"nodeKind"`
	// NodePath is the user's node's ancestors, root first.
	NodePath  []string `dynamodbav:"nodePath"`
	Status    string   `dynamodbav:"status"`
	Version   int      `dynamodbav:"version"`
	CreatedAt string   `dynamodbav:"createdAt"`
	UpdatedAt string   `dynamodbav:"updatedAt"`
}

// UserKey is the key of the user with Cognito subject sub.
func UserKey(sub string) store.Item { return store.Key("USER#"+sub, "USER") }

// EmailPK is the partition key of the unique-key item that holds an email address.
func EmailPK(email string) string { return "UNIQUE#email#" + email }

// Callers loads signed-in users from the table: one strongly consistent GetItem per
// request, so a deactivation takes effect on the very next call.
type Callers struct{ Store *store.Store }

// Caller implements api.Callers.
func (c Callers) Caller(ctx context.Context, sub string) (tree.Caller, error) {
	var u UserItem
	err := c.Store.Get(ctx, UserKey(sub), &u)
	if errors.Is(err, store.ErrNotFound) {
		return tree.Caller{}, api.ErrNoCaller
	}
	if err != nil {
		return tree.Caller{}, err
	}
	if u.Status != StatusActive || !u.Role.Valid() {
		return tree.Caller{}, api.ErrNoCaller
	}
	return tree.Caller{
		UserID: u.ID, Email: u.Email, Role: u.Role,
		Node: tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath},
	}, nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }
