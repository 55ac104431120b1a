package identity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"opsconsole/shared/api"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// An API client (shared/apiclients) is a machine credential at a node: a client id and
// a secret a partner's system trades for a 15-minute access token at POST
// /v1/auth/token. Behind each client stands a Cognito user of the pool, signed in only
// by the token endpoint through the API clients' own app client (Cognito then issues
// the token, from the same issuer the JWT authorizer already trusts; see the README's
// "API clients"). Its item is kept here, beside the console users', because the caller
// check reads both.

// API client statuses.
const (
	ClientActive  = "active"
	ClientRevoked = "revoked"
)

// ClientTokenTTL is how long an API client's access token is accepted: Cognito's app
// client issues it for this long, and the API refuses an older one itself (the local
// emulator's tokens last an hour).
const ClientTokenTTL = 15 * time.Minute

// ClientIDPrefix starts every API client id.
const ClientIDPrefix = "cli_"

// ClientItem is an API client as stored, keyed by its id. Its id is the Cognito
// subject of its user without dashes, so that the caller check finds the item from the
// token's sub with one GetItem, like a console user's.
type ClientItem struct {
	PK       string    `dynamodbav:"PK"`
	SK       string    `dynamodbav:"SK"`
	Type     string    `dynamodbav:"type"`
	ID       string    `dynamodbav:"id"`
	Name     string    `dynamodbav:"name"`
	NodeID   string    `dynamodbav:"nodeId"`
	NodeKind tree.Kind `dynamodbav:"nodeKind"`
	// NodePath is the client's node's ancestors, root first.
	NodePath []string  `dynamodbav:"nodePath"`
	Role     tree.Role `dynamodbav:"role"`
	// Attrs are the fields the lists show besides the projected ones (GSI1 projects
	// attrs, never the secrets' hashes).
	Attrs  ClientAttrs `dynamodbav:"attrs"`
	Status string      `dynamodbav:"status"`
	// CognitoUser is the username of the client's Cognito user (a placeholder address
	// under .invalid: the pool's usernames are email addresses).
	CognitoUser string `dynamodbav:"cognitoUser"`
	// SecretHash is the SHA-256 (hex) of the current secret: secrets are 256 random
	// bits, so a fast hash suffices (no dictionary to guess from). PreviousSecretHash
	// still works until PreviousSecretUntil (RFC 3339) after a rotation.
	SecretHash         string `dynamodbav:"secretHash"`
	PreviousSecretHash string `dynamodbav:"previousSecretHash,omitempty"`
	Version            int    `dynamodbav:"version"`
	CreatedAt          string `dynamodbav:"createdAt"`
	UpdatedAt          string `dynamodbav:"updatedAt"`
	RevokedAt          string `dynamodbav:"revokedAt,omitempty"`
	// The client's place in its node's list, by creation (GSI1).
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
}

// ClientAttrs are an API client's own fields (in the item's attrs, which GSI1 projects).
type ClientAttrs struct {
	ReadOnly bool `dynamodbav:"readOnly"`
	// ExpiresAt (RFC 3339) ends the client; empty never. (Not the table's TTL
	// attribute expiresAt, which is top-level and a number.)
	ExpiresAt string `dynamodbav:"expiresAt,omitempty"`
	// AllowedIPs are CIDRs the client may call from; empty allows every address.
	AllowedIPs      []string `dynamodbav:"allowedIps,omitempty"`
	CreatedByUserID string   `dynamodbav:"createdByUserId"`
	CreatedByEmail  string   `dynamodbav:"createdByEmail,omitempty"`
	// LastUsedAt is when the client last got a token.
	LastUsedAt string `dynamodbav:"lastUsedAt,omitempty"`
	// PreviousSecretUntil (RFC 3339) is when the previous secret stops working after a
	// rotation (its hash is PreviousSecretHash).
	PreviousSecretUntil string `dynamodbav:"previousSecretUntil,omitempty"`
}

// ClientItemType is the type attribute of API client items.
const ClientItemType = "api_client"

// ClientKey is the key of API client id.
func ClientKey(id string) store.Item { return store.Key("APICLIENT#"+id, "APICLIENT") }

// ClientsKey is the GSI1 partition of node nodeID's API clients.
func ClientsKey(nodeID string) string { return "APICLIENTS#" + nodeID }

// ClientIDOfSub is the id of the API client whose Cognito user has subject sub; ""
// when sub is not a UUID.
func ClientIDOfSub(sub string) string {
	hexs := strings.ReplaceAll(sub, "-", "")
	if len(sub) != 36 || len(hexs) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(hexs); err != nil {
		return ""
	}
	return ClientIDPrefix + strings.ToLower(hexs)
}

// ValidClientID tells whether id has the form ClientIDOfSub gives.
func ValidClientID(id string) bool {
	h, ok := strings.CutPrefix(id, ClientIDPrefix)
	if !ok || len(h) != 32 || strings.ToLower(h) != h {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// HashSecret is the stored form of a client secret.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches tells whether secret is the client's current secret, or its previous
// one while the rotation's overlap lasts.
func (c ClientItem) SecretMatches(secret string, now time.Time) bool {
	h := HashSecret(secret)
	if subtle.ConstantTimeCompare([]byte(h), []byte(c.SecretHash)) == 1 {
		return true
	}
	if c.PreviousSecretHash == "" || !before(now, c.Attrs.PreviousSecretUntil) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h), []byte(c.PreviousSecretHash)) == 1
}

// before tells whether now is before the RFC 3339 time t (false for a bad t).
func before(now time.Time, t string) bool {
	at, err := time.Parse(time.RFC3339, t)
	return err == nil && now.Before(at)
}

// Expired tells whether the client's expiresAt has passed.
func (c ClientItem) Expired(now time.Time) bool {
	return c.Attrs.ExpiresAt != "" && !before(now, c.Attrs.ExpiresAt)
}

// AddressAllowed tells whether the client may call from ip: any address when it has
// no allowedIps, otherwise one inside them. An unreadable ip is refused.
func (c ClientItem) AddressAllowed(ip string) bool {
	if len(c.Attrs.AllowedIPs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, s := range c.Attrs.AllowedIPs {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// Refusal is why the client may not act now, as the API answers it (nil when it may):
// revoked or expired (client-refused), or calling from outside its allowedIps
// (address-not-allowed). Its branch is checked apart (Callers.ClientCaller).
func (c ClientItem) Refusal(now time.Time, ip string) error {
	if c.Status != ClientActive || c.Expired(now) || !c.Role.At(c.NodeKind) {
		return problem.ClientRefused()
	}
	if !c.AddressAllowed(ip) {
		return problem.AddressNotAllowed()
	}
	return nil
}

// Caller is the client as the rules see it.
func (c ClientItem) Caller() tree.Caller {
	return tree.Caller{
		UserID: c.ID, Role: c.Role,
		Node: tree.Node{ID: c.NodeID, Kind: c.NodeKind, Path: c.NodePath},
		Client: &tree.Client{ID: c.ID, Name: c.Name, ReadOnly: c.Attrs.ReadOnly,
			CreatedByUserID: c.Attrs.CreatedByUserID, CreatedByEmail: c.Attrs.CreatedByEmail},
	}
}

// ClientToken implements api.ClientCallers: a token is an API client's when Cognito
// issued it to the API clients' app client.
func (c Callers) ClientToken(claims map[string]string) bool {
	return c.ClientAppID != "" && claims["client_id"] == c.ClientAppID
}

// ClientCaller implements api.ClientCallers: the API client whose Cognito user is sub,
// read strongly consistent with its lineage (one GetItem and, below the platform, one
// BatchGetItem: a user's cost), so that a revoked, expired or deleted client, a blocked
// branch or an address outside allowedIps is refused on the very next call. A token
// older than ClientTokenTTL is refused too (issuedAt, Unix seconds).
func (c Callers) ClientCaller(ctx context.Context, sub, sourceIP string, issuedAt int64) (tree.Caller, error) {
	now := c.clock()
	if issuedAt == 0 || now.Sub(time.Unix(issuedAt, 0)) > ClientTokenTTL {
		return tree.Caller{}, problem.Unauthenticated("the API client's token has expired (" + strconv.Itoa(int(ClientTokenTTL.Minutes())) + " minutes); get a new one at POST /v1/auth/token")
	}
	id := ClientIDOfSub(sub)
	if id == "" {
		return tree.Caller{}, problem.ClientRefused()
	}
	var it ClientItem
	err := c.Store.Get(ctx, ClientKey(id), &it)
	if errors.Is(err, store.ErrNotFound) {
		return tree.Caller{}, problem.ClientRefused()
	}
	if err != nil {
		return tree.Caller{}, err
	}
	if err := it.Refusal(now, sourceIP); err != nil {
		return tree.Caller{}, err
	}
	if _, err := c.CheckLineage(ctx, it.NodeID, it.NodePath); err != nil {
		switch {
		case errors.Is(err, api.ErrNoCaller):
			return tree.Caller{}, problem.ClientRefused() // a node of the lineage is gone
		case errors.Is(err, api.ErrBranchSuspended):
			return tree.Caller{}, problem.BranchSuspended()
		}
		return tree.Caller{}, err
	}
	return it.Caller(), nil
}

func (c Callers) clock() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
