// Package tree holds the pure rules of the hierarchy Platform → Distributor → Partner →
// Organization → Company → End user: node kinds, roles, and who may do what where. It
// imports nothing from AWS so its rules are tested fast and read in one place.
package tree

import "slices"

// Kind is the level of a node in the tree.
type Kind string

// The levels, from the root down.
const (
	KindPlatform     Kind = "platform"
	KindDistributor  Kind = "distributor"
	KindPartner      Kind = "partner"
	KindOrganization Kind = "organization"
	KindCompany      Kind = "company"
	// KindEndUser is the record of a company's end user: a leaf, never a parent.
	KindEndUser Kind = "end_user"
)

// PlatformID is the id of the single root node.
const PlatformID = "platform"

// Role is a console user's role; each role belongs at one level.
type Role string

// The roles, from the most to the least powerful.
const (
	RolePlatformAdmin     Role = "platform_admin"
	RoleDistributorAdmin  Role = "distributor_admin"
	RolePartnerAdmin      Role = "partner_admin"
	RoleOrganizationAdmin Role = "organization_admin"
	RoleCompanyAdmin      Role = "company_admin"
	RoleEndUser           Role = "end_user"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RolePlatformAdmin, RoleDistributorAdmin, RolePartnerAdmin, RoleOrganizationAdmin, RoleCompanyAdmin, RoleEndUser}

// rank is higher for more powerful roles; unknown roles rank zero.
func (r Role) rank() int {
	i := slices.Index(Roles, r)
	if i < 0 {
		return 0
	}
	return len(Roles) - i
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r is min or a more powerful role.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// Level is the node kind a role is held at.
func (r Role) Level() Kind {
	switch r {
	case RolePlatformAdmin:
		return KindPlatform
	case RoleDistributorAdmin:
		return KindDistributor
	case RolePartnerAdmin:
		return KindPartner
	case RoleOrganizationAdmin:
		return KindOrganization
	default:
		return KindCompany
	}
}

// Node is what the rules need to know of a node: its id and its ancestors' ids, root
// first (the platform's Path is empty).
type Node struct {
	ID   string
	Kind Kind
	Path []string
}

// Contains reports whether n is target or one of target's ancestors, i.e. whether
// target lies in n's subtree.
func (n Node) Contains(target Node) bool {
	return n.ID == target.ID || slices.Contains(target.Path, n.ID)
}

// Lineage is the node's ancestors followed by the node itself, root first: every node
// whose subtree holds it.
func (n Node) Lineage() []string {
	return append(slices.Clone(n.Path), n.ID)
}

// Caller is the signed-in console user as the rules see them.
type Caller struct {
	UserID string
	Email  string
	Role   Role
	Node   Node
	// MFARequired is set when an organization of the user's lineage requires MFA;
	// MFAEnrolled when the user has enrolled TOTP. Required but not enrolled, the user
	// may only enrol (api.Operation.BeforeMFAEnrolment).
	MFARequired, MFAEnrolled bool
	// SignedOutAt is when the user last signed out everywhere (Unix seconds, 0 for
	// never): tokens issued before it are refused.
	SignedOutAt int64
	// Impersonator is set when the request acts through a login-as session
	// (shared/impersonation): the Caller is then the session's target (its role and
	// node), and Impersonator the real, signed-in user behind it.
	Impersonator *Impersonator
	// Client is set when the caller is an API client (machine credentials,
	// shared/apiclients) rather than a person: UserID is then the client's id, Role and
	// Node the client's. MFA never applies to it.
	Client *Client
}

// Client is what the rules and the audit log know of an API client caller.
type Client struct {
	ID, Name string
	// ReadOnly clients may only read (GET).
	ReadOnly bool
	// CreatedBy is the user who created the client.
	CreatedByUserID, CreatedByEmail string
}

// At reports whether role r is held at a node of kind: a company holds
// company_admin and end_user roles, every other level its own admin role.
func (r Role) At(kind Kind) bool { return r.Valid() && r.Level() == kind }

// Impersonator is the real user behind a login-as session.
type Impersonator struct {
	UserID, Email string
	Role          Role
	// SessionID is the login-as session the request acts through.
	SessionID string
}

// ChildKind is the kind of the nodes directly below a node of kind ("" for end users,
// which have none).
func ChildKind(kind Kind) Kind {
	switch kind {
	case KindPlatform:
		return KindDistributor
	case KindDistributor:
		return KindPartner
	case KindPartner:
		return KindOrganization
	case KindOrganization:
		return KindCompany
	case KindCompany:
		return KindEndUser
	}
	return ""
}
