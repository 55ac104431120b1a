// Package identity holds console users: who a token's subject is in the tree, signing
// in through Cognito, and the seeded platform admin.
package identity

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"opsconsole/shared/api"
	"opsconsole/shared/nodes"
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

// Callers loads signed-in users from the table, strongly consistent, so that a
// deactivated user or a suspended branch is refused on the very next call: one GetItem
// for the user and, below the platform, one BatchGetItem for the nodes of their
// lineage.
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
	if err := c.checkLineage(ctx, u); err != nil {
		return tree.Caller{}, err
	}
	return tree.Caller{
		UserID: u.ID, Email: u.Email, Role: u.Role,
		Node: tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath},
	}, nil
}

// Blocked statuses: a suspended distributor or partner, a deactivated organization.
var blocked = map[string]bool{"suspended": true, "deactivated": true}

// deletingAttr is the attribute a cascading delete (shared/cascade.DeletingAttr) sets
// on the node whose subtree it removes. It is read raw here, without importing the
// cascade package.
const deletingAttr = "deleting"

// checkLineage refuses a user whose node, or any node above it, is blocked, being
// deleted, or gone.
// The platform is never blocked, so platform admins skip the read.
func (c Callers) checkLineage(ctx context.Context, u UserItem) error {
	var keys []store.Item
	for _, id := range append(slices.Clone(u.NodePath), u.NodeID) {
		if id != tree.PlatformID {
			keys = append(keys, nodes.Key(id))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	items, err := c.Store.BatchGet(ctx, keys)
	if err != nil {
		return err
	}
	if len(items) != len(keys) {
		return api.ErrNoCaller // a node of the lineage was deleted
	}
	for _, it := range items {
		// A node being deleted (a cascade has begun on it; see shared/cascade) blocks
		// its subtree from that moment, like a suspension.
		if _, deleting := it[deletingAttr]; deleting {
			return api.ErrBranchSuspended
		}
		var n nodes.Item
		if err := attributevalue.UnmarshalMap(it, &n); err != nil {
			return err
		}
		if blocked[n.Status] {
			return api.ErrBranchSuspended
		}
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }
