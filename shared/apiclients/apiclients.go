// Package apiclients serves API clients, the machine credentials of partners' systems
// (/v1/api-clients), and the token endpoint that trades a client's id and secret for
// an access token (POST /v1/auth/token, the OAuth 2.0 client credentials grant).
//
// The design (README, "API clients"): each client has a Cognito user of the pool,
// which only the token endpoint signs in, through an app client of its own
// (ApiClientsAppClient: 15-minute access tokens, ADMIN_USER_PASSWORD_AUTH only). Its
// tokens so come from the issuer the HTTP API's JWT authorizer already trusts (the
// authorizer lists the second app client as an audience): every protected route takes
// them with no authorizer invocation, and the middleware loads the client (its item
// and its lineage, like a user's) on every call, which refuses a revoked, expired or
// deleted client, a blocked branch, or an address outside allowedIps at once. The
// client's own secret is 256 random bits stored as a SHA-256; the Cognito user's
// password is derived from the client's username with the cursor secret (HMAC) and
// never stored, so no password of it lies anywhere.
package apiclients

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// Kind names API clients in 404 answers and audit targets.
const Kind = "api_client"

// RotationOverlap is how long the previous secret keeps working after a rotation,
// unless the rotation asks for it to end at once.
const RotationOverlap = 24 * time.Hour

// MaxAllowedIPs bounds a client's allowedIps.
const MaxAllowedIPs = 20

// SecretPrefix starts every client secret, so that one is recognisable in a leak scan.
const SecretPrefix = "cs_"

// NewSecret makes a client secret: 256 random bits.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// CognitoPassword is the password of the Cognito user named username, derived from
// key (the cursor secret): 43 characters of the HMAC, and one of each class a pool's
// password policy may require (a symbol too, though ours requires none).
func CognitoPassword(key []byte, username string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("api-client cognito password\x00" + username))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)) + "aA1-"
}

// CognitoUsername is the placeholder email address of a new client's Cognito user
// (the pool's usernames are email addresses; .invalid never delivers).
func CognitoUsername() string {
	return strings.TrimPrefix(nodes.NewPrefixedID("x"), "x") + "@api-clients.invalid"
}

// Edit is a validated create or update body; nil fields are absent.
type Edit struct {
	Name       *string
	Role       *tree.Role
	ReadOnly   *bool
	ExpiresAt  *string // "" clears it (null in an update)
	AllowedIPs *[]string
}

// The fields of the bodies.
var (
	createFields = []string{"nodeId", "name", "role", "readOnly", "expiresAt", "allowedIps"}
	updateFields = []string{"name", "readOnly", "expiresAt", "allowedIps"}
)

func isNull(v json.RawMessage) bool { return string(v) == "null" }

func jsonString(v json.RawMessage, s *string) error { return json.Unmarshal(v, s) }

func jsonBool(v json.RawMessage, b *bool) error { return json.Unmarshal(v, b) }

// ReadEdit validates a create's (create true: nodeId is read by the target loader,
// name and role are required) or an update's body at now, naming every field at fault.
func ReadEdit(b map[string]json.RawMessage, create bool, now time.Time) (Edit, []problem.FieldError) {
	var e Edit
	var errs []problem.FieldError
	allowed := updateFields
	if create {
		allowed = createFields
	}
	for k := range b {
		if !slices.Contains(allowed, k) {
			errs = append(errs, problem.Field(k, "is not a field of this body; allowed: "+strings.Join(allowed, ", ")))
		}
	}
	if v, ok := b["name"]; ok {
		var s string
		if isNull(v) || json.Unmarshal(v, &s) != nil {
			errs = append(errs, problem.Field("name", "must be a string"))
		} else if clean, err := nodes.CleanName("name", s); err != nil {
			errs = append(errs, err.(*problem.Problem).Errors...)
		} else {
			e.Name = &clean
		}
	} else if create {
		errs = append(errs, problem.Field("name", "is required"))
	}
	if v, ok := b["role"]; ok && create {
		var s string
		if isNull(v) || json.Unmarshal(v, &s) != nil || !tree.Role(s).Valid() {
			errs = append(errs, problem.Field("role", "must be one of "+rolesList()))
		} else {
			r := tree.Role(s)
			e.Role = &r
		}
	} else if create {
		errs = append(errs, problem.Field("role", "is required"))
	}
	if v, ok := b["readOnly"]; ok {
		var ro bool
		if isNull(v) || json.Unmarshal(v, &ro) != nil {
			errs = append(errs, problem.Field("readOnly", "must be a boolean"))
		} else {
			e.ReadOnly = &ro
		}
	}
	if v, ok := b["expiresAt"]; ok {
		var s string
		switch {
		case isNull(v) && !create:
			e.ExpiresAt = new(string)
		case isNull(v) || json.Unmarshal(v, &s) != nil:
			errs = append(errs, problem.Field("expiresAt", "must be an RFC 3339 date-time string"))
		default:
			t, err := time.Parse(time.RFC3339, s)
			switch {
			case err != nil:
				errs = append(errs, problem.Field("expiresAt", "must be an RFC 3339 date-time string"))
			case !t.After(now):
				errs = append(errs, problem.Field("expiresAt", "must be in the future"))
			default:
				st := nodes.Stamp(t)
				e.ExpiresAt = &st
			}
		}
	}
	if v, ok := b["allowedIps"]; ok {
		var list []string
		if isNull(v) || json.Unmarshal(v, &list) != nil {
			errs = append(errs, problem.Field("allowedIps", "must be an array of CIDR strings"))
		} else if cidrs, msg := CleanCIDRs(list); msg != "" {
			errs = append(errs, problem.Field("allowedIps", msg))
		} else {
			e.AllowedIPs = &cidrs
		}
	}
	return e, errs
}

// CleanCIDRs checks and normalises allowedIps: each a CIDR (IPv4 or IPv6) written
// with its network address masked, without repeats, at most MaxAllowedIPs. It
// returns what is wrong, or "".
func CleanCIDRs(list []string) ([]string, string) {
	if len(list) > MaxAllowedIPs {
		return nil, fmt.Sprintf("must hold at most %d CIDRs", MaxAllowedIPs)
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Sprintf("%q is not a CIDR (such as 203.0.113.0/24 or 2001:db8::/32)", s)
		}
		m := p.Masked().String()
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, ""
}

func rolesList() string {
	var s []string
	for _, r := range tree.Roles {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

// RoleFits tells whether a client at a node of kind, created by creator, may hold
// role: a role of that level, and never above the creator's own.
func RoleFits(role tree.Role, kind tree.Kind, creator tree.Role) bool {
	return role.At(kind) && creator.AtLeast(role)
}

// Apply gives it the edit's fields.
func Apply(it identity.ClientItem, e Edit) identity.ClientItem {
	if e.Name != nil {
		it.Name = *e.Name
	}
	if e.Role != nil {
		it.Role = *e.Role
	}
	if e.ReadOnly != nil {
		it.Attrs.ReadOnly = *e.ReadOnly
	}
	if e.ExpiresAt != nil {
		it.Attrs.ExpiresAt = *e.ExpiresAt
	}
	if e.AllowedIPs != nil {
		it.Attrs.AllowedIPs = slices.Clone(*e.AllowedIPs)
		if len(it.Attrs.AllowedIPs) == 0 {
			it.Attrs.AllowedIPs = nil
		}
	}
	return it
}

// Same tells whether a and b show the same fields (an update that changes nothing).
func Same(a, b identity.ClientItem) bool {
	return a.Name == b.Name && a.Attrs.ReadOnly == b.Attrs.ReadOnly && a.Attrs.ExpiresAt == b.Attrs.ExpiresAt && slices.Equal(a.Attrs.AllowedIPs, b.Attrs.AllowedIPs)
}

// Rotate gives it the secret hash newHash at now: the current secret keeps working
// for RotationOverlap, or ends at once when immediately.
func Rotate(it identity.ClientItem, newHash string, immediately bool, now time.Time) identity.ClientItem {
	it.PreviousSecretHash, it.Attrs.PreviousSecretUntil = "", ""
	if !immediately {
		it.PreviousSecretHash, it.Attrs.PreviousSecretUntil = it.SecretHash, nodes.Stamp(now.Add(RotationOverlap))
	}
	it.SecretHash = newHash
	return it
}

// Status is the client's status as shown: active, revoked, or expired (an active
// client past its expiresAt).
func Status(it identity.ClientItem, now time.Time) string {
	if it.Status == identity.ClientActive && it.Expired(now) {
		return "expired"
	}
	return it.Status
}

// Creator is the user who created a client.
type Creator struct {
	UserID string `json:"userId"`
	Email  string `json:"email,omitempty"`
}

// View is a client as the API shows it; ClientSecret only in the answers of create and
// rotate-secret.
type View struct {
	ID                      string    `json:"id"`
	ClientID                string    `json:"clientId"`
	Name                    string    `json:"name"`
	NodeID                  string    `json:"nodeId"`
	NodeKind                tree.Kind `json:"nodeKind"`
	Role                    tree.Role `json:"role"`
	ReadOnly                bool      `json:"readOnly"`
	ExpiresAt               *string   `json:"expiresAt"`
	AllowedIPs              []string  `json:"allowedIps"`
	Status                  string    `json:"status"`
	CreatedBy               Creator   `json:"createdBy"`
	CreatedAt               string    `json:"createdAt"`
	UpdatedAt               string    `json:"updatedAt"`
	LastUsedAt              *string   `json:"lastUsedAt"`
	PreviousSecretExpiresAt *string   `json:"previousSecretExpiresAt"`
	Version                 int       `json:"version"`
	ClientSecret            string    `json:"clientSecret,omitempty"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ViewOf is it as shown at now.
func ViewOf(it identity.ClientItem, now time.Time) View {
	v := View{
		ID: it.ID, ClientID: it.ID, Name: it.Name, NodeID: it.NodeID, NodeKind: it.NodeKind, Role: it.Role,
		ReadOnly: it.Attrs.ReadOnly, ExpiresAt: optional(it.Attrs.ExpiresAt), AllowedIPs: it.Attrs.AllowedIPs,
		Status: Status(it, now), CreatedBy: Creator{UserID: it.Attrs.CreatedByUserID, Email: it.Attrs.CreatedByEmail},
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, LastUsedAt: optional(it.Attrs.LastUsedAt), Version: it.Version,
	}
	if it.PreviousSecretHash != "" && before(now, it.Attrs.PreviousSecretUntil) {
		v.PreviousSecretExpiresAt = optional(it.Attrs.PreviousSecretUntil)
	}
	if v.AllowedIPs == nil {
		v.AllowedIPs = []string{}
	}
	return v
}

func before(now time.Time, t string) bool {
	at, err := time.Parse(time.RFC3339, t)
	return err == nil && now.Before(at)
}

// auditFields are the fields a change record compares; never a secret's hash, only
// when the secret changed.
func auditFields(it *identity.ClientItem) map[string]any {
	if it == nil {
		return nil
	}
	m := map[string]any{
		"nodeId": it.NodeID, "name": it.Name, "role": string(it.Role), "readOnly": it.Attrs.ReadOnly, "status": it.Status,
		"allowedIps": strings.Join(it.Attrs.AllowedIPs, ","), "secretVersion": secretVersion(it),
	}
	if it.Attrs.ExpiresAt != "" {
		m["expiresAt"] = it.Attrs.ExpiresAt
	}
	if it.Attrs.PreviousSecretUntil != "" {
		m["previousSecretExpiresAt"] = it.Attrs.PreviousSecretUntil
	}
	return m
}

// secretVersion is a short, non-secret tag of the current secret (the first 8 hex
// characters of its hash), so that the audit log shows a rotation.
func secretVersion(it *identity.ClientItem) string {
	if len(it.SecretHash) < 8 {
		return ""
	}
	return it.SecretHash[:8]
}
