// Package identity holds console users: who a token's subject is in the tree, signing
// in through Cognito, and the seeded platform admin.
package identity

import (
	"context"
	"errors"
	"slices"
	"time"

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
	// MFAEnrolled tells whether the user has a verified TOTP device: the MFA
	// operations keep it, and the lists of console users show it.
	MFAEnrolled bool `dynamodbav:"mfaEnrolled"`
	// SignedOutAt is the user's last sign-out everywhere, Unix seconds: the API
	// refuses tokens issued before it, which API Gateway accepts until they expire.
	SignedOutAt int64 `dynamodbav:"signedOutAt,omitempty"`
	// ActivationHash is the SHA-256 (hex) of an invited user's current activation
	// token; a token whose hash is not this one no longer works (shared/users).
	ActivationHash string `dynamodbav:"activationHash,omitempty"`
	// The user's places in the lists of their node's console users (shared/users):
	// GSI1 by email, GSI2 by status and email. See SetIndexKeys.
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`
	// Their places in the lists of a whole subtree's console users: GSI3, and GSI4 by
	// status, sorted by their node's lineage, then email (nodes.SubtreeKey).
	GSI3PK string `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK string `dynamodbav:"GSI3SK,omitempty"`
	GSI4PK string `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK string `dynamodbav:"GSI4SK,omitempty"`
}

// SubtreeKind names console users in the subtree indexes.
const SubtreeKind tree.Kind = "user"

// UsersKey is the GSI1 partition of the console users of node nodeID, sorted by email.
func UsersKey(nodeID string) string { return "USERS#" + nodeID }

// UsersByStatusKey is the GSI2 partition of the console users of node nodeID in status.
func UsersByStatusKey(nodeID, status string) string { return UsersKey(nodeID) + "#" + status }

// SetIndexKeys derives the user's index keys from their node, status and email; call
// it whenever one of them changes.
func (u *UserItem) SetIndexKeys() {
	u.GSI1PK, u.GSI1SK = UsersKey(u.NodeID), u.Email
	u.GSI2PK, u.GSI2SK = UsersByStatusKey(u.NodeID, u.Status), u.Email
	sk := nodes.SubtreeSK(append(slices.Clone(u.NodePath), u.NodeID), u.Email)
	u.GSI3PK, u.GSI3SK = nodes.SubtreeKeyOf(SubtreeKind, "", u.ID), sk
	u.GSI4PK, u.GSI4SK = nodes.SubtreeKeyOf(SubtreeKind, u.Status, u.ID), sk
}

// UserKey is the key of the user with Cognito subject sub.
func UserKey(sub string) store.Item { return store.Key("USER#"+sub, "USER") }

// EmailPK is the partition key of the unique-key item that holds an email address.
func EmailPK(email string) string { return "UNIQUE#email#" + email }

// EmailKey is the key of the unique-key item that holds an email address.
func EmailKey(email string) store.Item { return store.Key(EmailPK(email), nodes.UniqueSK) }

// Callers loads signed-in users from the table, strongly consistent, so that a
// deactivated user or a suspended branch is refused on the very next call: one GetItem
// for the user and, below the platform, one BatchGetItem for the nodes of their
// lineage (a distributor through one of its status replicas: nodes.ReadLineage).
// API clients' tokens are checked alike (ClientCaller).
type Callers struct {
	Store *store.Store
	// ClientAppID is the Cognito app client that issues API clients' tokens
	// (API_CLIENTS_APP_CLIENT_ID); empty accepts none.
	ClientAppID string
	// Now is the clock of API clients' expiry; nil means time.Now.
	Now func() time.Time
}

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
	mfaRequired, err := c.CheckLineage(ctx, u.NodeID, u.NodePath)
	if err != nil {
		return tree.Caller{}, err
	}
	return tree.Caller{
		UserID: u.ID, Email: u.Email, Role: u.Role,
		Node:        tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath},
		MFARequired: mfaRequired, MFAEnrolled: u.MFAEnrolled, SignedOutAt: u.SignedOutAt,
	}, nil
}

// CheckLineage refuses a user (or an API client) whose node, or any node above it, is blocked (a
// suspended distributor or partner; an organization deactivated, awaiting approval or
// refused it, even if someone was invited there by mistake: see tree.Blocks), being
// deleted, or gone, and tells whether an organization of the lineage requires MFA
// (its attrs.mfaRequired), from the same read.
// The platform is never blocked, so platform admins skip the read. A distributor is
// read through the status replica the caller's node picks (nodes.ReadLineage): its
// node item, read by every request of its branch, would be the table's hottest key
// (docs/scale.md, fix 2). Replicas hold no attrs; only organizations' are read here.
func (c Callers) CheckLineage(ctx context.Context, nodeID string, path []string) (mfaRequired bool, err error) {
	var ids []string
	for _, id := range append(slices.Clone(path), nodeID) {
		if id != tree.PlatformID {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return false, nil
	}
	items, err := nodes.ReadLineage(ctx, c.Store, nodeID, ids)
	if err != nil {
		return false, err
	}
	for _, it := range items {
		if it == nil {
			return false, api.ErrNoCaller // a node of the lineage was deleted
		}
	}
	for _, it := range items {
		// A node being deleted (a cascade has begun on it; see shared/cascade) blocks
		// its subtree from that moment, like a suspension.
		n, blocked, err := nodes.Blocking(it)
		if err != nil {
			return false, err
		}
		if blocked {
			return false, api.ErrBranchSuspended
		}
		if n.Kind == tree.KindOrganization && n.Attrs[MFARequiredAttr] == true {
			mfaRequired = true
		}
	}
	return mfaRequired, nil
}

// MFARequiredAttr is the organization attribute (in the node's attrs) that makes every
// user of the organization and of its companies enrol TOTP before anything else.
const MFARequiredAttr = "mfaRequired"

func now() string { return nodes.Stamp(time.Now()) }

// PlatformNode is the root of the tree.
func PlatformNode() nodes.Item {
	return nodes.Item{
		PK: nodes.PK(tree.PlatformID), SK: nodes.SK, Type: "node", ID: tree.PlatformID,
		Kind: tree.KindPlatform, Path: []string{}, Name: "Platform", NameKey: "platform",
		Status: "active", Version: 1, CreatedAt: now(), UpdatedAt: now(),
	}
}
