// Package admins keeps, for each node, the set of its active admins: one item per
// node (NODE#<id> / ADMINS) holding their user ids in a String Set. Every write that
// makes a user an active admin of the node adds them, in the same transaction; every
// write that ends it (deactivation, deletion, a role that is no admin role) takes
// them out under a condition that refuses to take out the last one. The condition is
// evaluated by DynamoDB on the item itself, so the guard is exact under concurrency:
// of two deactivations of a node's two admins, one transaction commits and the other
// fails its condition. Set operations are idempotent (adding a member twice, or
// removing an absent one, changes nothing), so a repeated write never miscounts.
package admins

import (
	"context"
	"errors"

	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// SK is the sort key of a node's admins item.
const SK = "ADMINS"

// attr holds the set of user ids.
const attr = "ids"

// Key is the key of node nodeID's admins item.
func Key(nodeID string) store.Item { return store.Key(nodes.PK(nodeID), SK) }

// Counts reports whether a user of role counts as an admin of their node: every
// console role but end_user.
func Counts(role tree.Role) bool { return role.Valid() && role != tree.RoleEndUser }

// Add is the write that makes userID an active admin of nodeID (creating the item
// when it is the node's first).
func Add(nodeID, userID string) store.Write {
	return store.Edit(Key(nodeID), store.Expr{
		Update: "ADD #ids :id SET #t = :t",
		Names:  map[string]string{"#ids": attr, "#t": "type"},
		Values: map[string]any{":id": store.Set(userID), ":t": "admins"},
	})
}

// Remove is the write that ends userID's place among nodeID's active admins; its
// condition fails (give it FailsWith a last-admin problem) when userID is the only
// one left. A user who is not in the set is no admin to lose: the condition holds and
// nothing changes.
func Remove(nodeID, userID string) store.Write {
	return store.Edit(Key(nodeID), store.Expr{
		Update:    "DELETE #ids :id",
		Condition: "attribute_not_exists(#ids) OR NOT contains(#ids, :uid) OR size(#ids) > :one",
		Names:     map[string]string{"#ids": attr},
		Values:    map[string]any{":id": store.Set(userID), ":uid": userID, ":one": 1},
	})
}

// item is the admins item as stored.
type item struct {
	IDs []string `dynamodbav:"ids,stringset,omitempty"`
}

// Count reads how many active admins nodeID has (strongly consistent; one GetItem).
func Count(ctx context.Context, st *store.Store, nodeID string) (int, error) {
	var it item
	err := st.Get(ctx, Key(nodeID), &it)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return len(it.IDs), nil
}

// List reads the user ids of nodeID's active admins (strongly consistent; one
// GetItem).
func List(ctx context.Context, st *store.Store, nodeID string) ([]string, error) {
	var it item
	err := st.Get(ctx, Key(nodeID), &it)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return it.IDs, err
}

// MinRecommended is the number of active admins below which a node is flagged.
const MinRecommended = 2
