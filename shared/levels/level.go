// Package levels serves the operations on the levels of the tree below the platform:
// distributors, partners, organizations, companies and end users. One Level describes
// each (its parent, statuses, status actions and own fields); the code is the same for
// all, so every level gets the same validation, authorization, uniqueness, versioning,
// children counting and audit.
package levels

import (
	"slices"
	"time"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// Statuses of the levels.
const (
	StatusActive      = "active"
	StatusSuspended   = "suspended"
	StatusApproved    = "approved"
	StatusPending     = "pending"
	StatusRejected    = "rejected"
	StatusDeactivated = "deactivated"
)

// Action is a status change served as POST /v1/<resource>/{id}/<verb>.
type Action struct {
	// Verb names the route and the operation; Past is the audit action's verb.
	Verb, Past string
	From, To   string
}

// Level describes one level of the tree as the API serves it.
type Level struct {
	Kind tree.Kind
	// Parent is the level above; ParentField names the parent's id in bodies, queries
	// and answers ("" when the parent is always the platform).
	Parent      tree.Kind
	ParentField string
	// Resource is the plural in paths and function names (distributors, end-users).
	Resource string
	// NameField is the field that names a node: what is searched, sorted by and unique
	// among siblings. "name" unless set (end users are known by their email).
	NameField string
	// Statuses are the statuses a node may have; the first is the one it is created in.
	Statuses []string
	// Actions are the level's status changes.
	Actions []Action
	// Fields are the level's own fields besides the name and the status.
	Fields []Field
	// Filter is the query parameter GSI2 lists by: "status" unless set.
	Filter string
	// AcrossBranch lists the level across its grandparent's and great-grandparent's
	// branches as well as under its parent (organizations, for distributor and platform
	// admins), at the price of four more index entries per node.
	AcrossBranch bool
	// Subtree lists the level across the branch of any ancestor (not only its
	// parent): GSI3, and GSI4 by the filter, hold every node of the level in one
	// partition sorted by lineage, and a branch is the key condition begins_with(SK,
	// the ancestor's lineage prefix). Across a branch a page is sorted by parent, then
	// name, and takes no q (a name prefix is a key condition only under one parent).
	Subtree bool
}

var contactEmail = Field{Name: "contactEmail", Type: Email}

// The levels served.
var (
	Distributors = Level{
		Kind: tree.KindDistributor, Parent: tree.KindPlatform, Resource: "distributors",
		Statuses: []string{StatusActive, StatusSuspended},
		Actions: []Action{
			{Verb: "suspend", Past: "suspended", From: StatusActive, To: StatusSuspended},
			{Verb: "enable", Past: "enabled", From: StatusSuspended, To: StatusActive},
		},
		Fields: []Field{contactEmail},
	}
	// A partner is a white-label reseller: its branding (package mail reads these
	// fields) is on every message sent in its branch.
	Partners = Level{
		Kind: tree.KindPartner, Parent: tree.KindDistributor, ParentField: "distributorId", Resource: "partners",
		Statuses: Distributors.Statuses, Actions: Distributors.Actions,
		Subtree: true,
		Fields: []Field{
			contactEmail,
			{Name: "brandName", Type: Text},
			{Name: "logoUrl", Type: URL},
			{Name: "brandColour", Type: Colour},
			{Name: "supportEmail", Type: Email},
		},
	}
	Organizations = Level{
		Kind: tree.KindOrganization, Parent: tree.KindPartner, ParentField: "partnerId", Resource: "organizations",
		// Created approved through the API; pending and rejected come with self-signup.
		Statuses: []string{StatusApproved, StatusPending, StatusRejected, StatusDeactivated},
		Actions: []Action{
			{Verb: "deactivate", Past: "deactivated", From: StatusApproved, To: StatusDeactivated},
			{Verb: "reactivate", Past: "reactivated", From: StatusDeactivated, To: StatusApproved},
		},
		Fields: []Field{
			contactEmail,
			{Name: "tier", Type: Enum, Enum: []string{"free", "poc", "paid"}, Default: "free"},
			{Name: "mfaRequired", Type: Bool, Default: false},
			{Name: "overridePsps", Type: Bool, Default: true},
		},
		AcrossBranch: true,
	}
	Companies = Level{
		Kind: tree.KindCompany, Parent: tree.KindOrganization, ParentField: "organizationId", Resource: "companies",
		Statuses: []string{StatusActive},
		Fields:   []Field{contactEmail, {Name: "virtual", Type: Bool, Default: false}},
		Filter:   "virtual",
		Subtree:  true,
	}
	EndUsers = Level{
		Kind: tree.KindEndUser, Parent: tree.KindCompany, ParentField: "companyId", Resource: "end-users",
		NameField: "email",
		Statuses:  []string{StatusActive, StatusDeactivated},
		Actions: []Action{
			{Verb: "deactivate", Past: "deactivated", From: StatusActive, To: StatusDeactivated},
			{Verb: "reactivate", Past: "reactivated", From: StatusDeactivated, To: StatusActive},
		},
		Fields: []Field{
			{Name: "firstName", Type: Text, Required: true},
			{Name: "lastName", Type: Text, Required: true},
		},
		Subtree: true,
	}
)

// All lists every level, from the top.
var All = []Level{Distributors, Partners, Organizations, Companies, EndUsers}

func (l Level) nameField() string {
	if l.NameField == "" {
		return "name"
	}
	return l.NameField
}

func (l Level) filter() string {
	if l.Filter == "" {
		return "status"
	}
	return l.Filter
}

// idField is the field that holds the id of a node of kind in views and queries.
func idField(kind tree.Kind) string {
	switch kind {
	case tree.KindDistributor:
		return "distributorId"
	case tree.KindPartner:
		return "partnerId"
	case tree.KindOrganization:
		return "organizationId"
	case tree.KindCompany:
		return "companyId"
	}
	return ""
}

// lineageKinds are the kinds of a lineage's nodes, root first: a node's kind is the
// one at its index in its lineage.
var lineageKinds = []tree.Kind{tree.KindPlatform, tree.KindDistributor, tree.KindPartner, tree.KindOrganization, tree.KindCompany}

// scopeKinds are the kinds whose nodes a list may be scoped to: the parent, and for
// levels listed across branches the two levels above it, or every level above it for
// those listed across any subtree.
func (l Level) scopeKinds() []tree.Kind {
	if l.Subtree {
		i := slices.Index(lineageKinds, l.Parent)
		out := slices.Clone(lineageKinds[:i+1])
		slices.Reverse(out)
		return out
	}
	if !l.AcrossBranch {
		return []tree.Kind{l.Parent}
	}
	for i, k := range lineageKinds {
		if k == l.Parent && i >= 2 {
			return []tree.Kind{l.Parent, lineageKinds[i-1], lineageKinds[i-2]}
		}
	}
	return []tree.Kind{l.Parent}
}

// NewItem makes the item of a new node of this level under parent, named name, in its
// first status, with its fields' defaults and its index keys: what a create stores,
// for code that seeds the table directly (benchmarks, the local seed).
func (l Level) NewItem(parent tree.Node, name string, now time.Time) nodes.Item {
	it := nodes.NewChild(parent, l.Kind, name, l.Statuses[0], now)
	for _, f := range l.Fields {
		if f.Default != nil {
			if it.Attrs == nil {
				it.Attrs = map[string]any{}
			}
			it.Attrs[f.Name] = f.Default
		}
	}
	l.setIndexKeys(&it)
	return it
}
