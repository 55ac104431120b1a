// Package dashboard serves GET /v1/dashboard: the overview a reseller first sees of
// the node it looks at. Every figure is a total of the node's whole subtree, read
// from the totals the tree counter keeps from the table's stream (shared/counts), so
// the answer costs the same few reads for a branch of ten nodes as for one of a
// hundred thousand; each total comes with the list route that shows exactly those
// items, and quick actions name what the caller may create there.
//
// This file holds the pure part: from the totals read, the view. service.go reads.
package dashboard

import (
	"encoding/json"
	"net/url"
	"slices"

	"opsconsole/shared/counts"
	"opsconsole/shared/identity"
	"opsconsole/shared/levels"
	"opsconsole/shared/licenses"
	"opsconsole/shared/tree"
)

// Total is a count and the list that shows exactly what it counts, with its parts
// (by status, by type, virtual), each one in turn a Total, written beside count and
// href: {"count": 3, "href": "…", "active": {"count": 2, "href": "…"}, …}.
type Total struct {
	Count int
	Href  string
	Parts map[string]*Total
}

// MarshalJSON writes the total with its parts inline.
func (t Total) MarshalJSON() ([]byte, error) {
	m := map[string]any{"count": t.Count, "href": t.Href}
	for k, p := range t.Parts {
		m[k] = p
	}
	return json.Marshal(m)
}

// Node names the node the dashboard is of.
type Node struct {
	ID   string    `json:"id"`
	Kind tree.Kind `json:"kind"`
	Name string    `json:"name"`
}

// QuickAction is something the caller may create at the node: the request to send,
// with the body fields that place it there (the caller adds the rest).
type QuickAction struct {
	// ID names the action: create-license, invite-user, create-<kind>.
	ID string `json:"id"`
	// LicenseType is the license type a create-license action creates.
	LicenseType string         `json:"licenseType,omitempty"`
	Method      string         `json:"method"`
	Href        string         `json:"href"`
	Body        map[string]any `json:"body"`
}

// View is the dashboard as the API shows it. Totals holds only what the node's
// subtree can hold: distributors for the platform, partners down to a distributor,
// organizations down to a partner, companies down to an organization, end users down
// to a company, licenses on the platform and license holders; users always.
type View struct {
	Node Node `json:"node"`
	// AsOf is the stream time of the newest change counted in the totals (the node's
	// creation when nothing below it has been counted since): the totals are those of
	// the table at about that instant, trailing it by the stream's delay.
	AsOf string `json:"asOf"`
	// ReadAt is the instant the totals were read at, and the one "expired" is judged
	// at: a license past validUntil counts as expired from then, without any write.
	ReadAt       string            `json:"readAt"`
	Totals       map[string]*Total `json:"totals"`
	ActiveAdmins Total             `json:"activeAdmins"`
	QuickActions []QuickAction     `json:"quickActions"`
}

// href is a list route with its query.
func href(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// scope is the query that scopes a list of a level to node n: the level's id field
// for n's kind (partnerId=…), none for the platform (the lists' default scope for its
// admins).
func scope(n tree.Node) url.Values {
	q := url.Values{}
	if f := levels.IDField(n.Kind); f != "" {
		q.Set(f, n.ID)
	}
	return q
}

func with(q url.Values, k, v string) url.Values {
	out := url.Values{}
	for key, vs := range q {
		out[key] = slices.Clone(vs)
	}
	out.Set(k, v)
	return out
}

// below reports whether nodes of kind lie strictly below nodes of n's kind.
func below(n tree.Node, kind tree.Kind) bool {
	for k := tree.ChildKind(n.Kind); k != ""; k = tree.ChildKind(k) {
		if k == kind {
			return true
		}
	}
	return false
}

// levelTotal is the total of a level's nodes in n's subtree, by status.
func levelTotal(l levels.Level, n tree.Node, t counts.Totals) *Total {
	path := "/v1/" + l.Resource
	q := scope(n)
	out := &Total{Href: href(path, q), Parts: map[string]*Total{}}
	for _, st := range l.Statuses {
		c := t[counts.NodeFacet(string(l.Kind), st)]
		out.Count += c
		if l.Filter == "" {
			out.Parts[st] = &Total{Count: c, Href: href(path, with(q, "status", st))}
		}
	}
	return out
}

// Build makes the view of node n (named name) from its subtree totals t, the
// licenses expired by series at readAt, its active admins, for caller; asOf is the
// stream time of the newest change the totals count.
func Build(n tree.Node, name string, t counts.Totals, expired map[string]int, activeAdmins int, caller tree.Caller, asOf, readAt string) View {
	v := View{
		Node: Node{ID: n.ID, Kind: n.Kind, Name: name}, AsOf: asOf, ReadAt: readAt, Totals: map[string]*Total{},
		ActiveAdmins: Total{Count: activeAdmins, Href: href("/v1/users", url.Values{"nodeId": {n.ID}, "status": {identity.StatusActive}})},
	}
	named := map[tree.Kind]string{
		tree.KindDistributor: "distributors", tree.KindPartner: "partners", tree.KindOrganization: "organizations",
		tree.KindEndUser: "endUsers",
	}
	for kind, key := range named {
		if l, ok := levels.OfKind(kind); ok && below(n, kind) {
			v.Totals[key] = levelTotal(l, n, t)
		}
	}
	if below(n, tree.KindCompany) {
		c := levelTotal(levels.Companies, n, t)
		c.Parts["virtual"] = &Total{Count: t[counts.VirtualFacet], Href: href("/v1/"+levels.Companies.Resource, with(scope(n), "virtual", "true"))}
		v.Totals["companies"] = c
	}
	users := &Total{Href: href("/v1/users", url.Values{"nodeId": {n.ID}, "subtree": {"true"}}), Parts: map[string]*Total{}}
	for _, st := range []string{identity.StatusInvited, identity.StatusActive, identity.StatusDeactivated} {
		c := t[counts.UserFacet(st)]
		users.Count += c
		users.Parts[st] = &Total{Count: c, Href: href("/v1/users", url.Values{"nodeId": {n.ID}, "subtree": {"true"}, "status": {st}})}
	}
	v.Totals["users"] = users
	if n.Kind == tree.KindPlatform || tree.LicenseHolder(n.Kind) {
		v.Totals["licenses"] = licenseTotals(n, t, expired)
	}
	v.QuickActions = QuickActions(n, caller)
	return v
}

// licenseTotals are the licenses of n's subtree by type and by the status they read
// as: a license past validUntil reads expired whatever its stored status, so the
// active and inactive ones are those stored so less those of them expired.
func licenseTotals(n tree.Node, t counts.Totals, expired map[string]int) *Total {
	base := url.Values{"nodeId": {n.ID}}
	all := &Total{Href: href("/v1/licenses", base), Parts: map[string]*Total{}}
	for _, typ := range licenses.Types {
		q := with(base, "type", typ)
		byType := &Total{Href: href("/v1/licenses", q), Parts: map[string]*Total{}}
		expiredOfType := 0
		for _, stored := range []string{licenses.StatusActive, licenses.StatusInactive} {
			series, _ := counts.Series(typ, stored)
			c := t[counts.LicenseFacet(typ, stored)]
			// The totals and the trie are different items of one transaction, and a
			// BatchGetItem is not isolated from transactions as a whole: a read can meet
			// a license's change in the trie and not yet in its totals item. No more can
			// be expired than are stored so, and the read after is exact again.
			stale := min(expired[series], max(c, 0))
			byType.Count += c
			byType.Parts[stored] = &Total{Count: c - stale, Href: href("/v1/licenses", with(q, "status", stored))}
			expiredOfType += stale
		}
		byType.Parts[licenses.StatusExpired] = &Total{Count: expiredOfType, Href: href("/v1/licenses", with(q, "status", licenses.StatusExpired))}
		all.Count += byType.Count
		all.Parts[typ] = byType
	}
	return all
}

// QuickActions are what caller may create at n: each license type (a license holder,
// for partner admins and above), a console user (a node with admins), a child node.
func QuickActions(n tree.Node, caller tree.Caller) []QuickAction {
	out := []QuickAction{}
	if tree.LicenseHolder(n.Kind) && tree.Allow(tree.OpLicensesCreate, caller, &n) == nil {
		for _, typ := range licenses.Types {
			out = append(out, QuickAction{
				ID: "create-license", LicenseType: typ, Method: "POST", Href: "/v1/licenses",
				Body: map[string]any{"nodeId": n.ID, "type": typ},
			})
		}
	}
	if _, ok := tree.AdminRole(n.Kind); ok && tree.Allow(tree.OpUsersInvite, caller, &n) == nil {
		out = append(out, QuickAction{ID: "invite-user", Method: "POST", Href: "/v1/users", Body: map[string]any{"nodeId": n.ID}})
	}
	if l, ok := levels.OfKind(tree.ChildKind(n.Kind)); ok && tree.Allow(l.CreateOperation(), caller, &n) == nil {
		body := map[string]any{}
		if l.ParentField != "" {
			body[l.ParentField] = n.ID
		}
		out = append(out, QuickAction{ID: "create-" + string(l.Kind), Method: "POST", Href: "/v1/" + l.Resource, Body: body})
	}
	return out
}
