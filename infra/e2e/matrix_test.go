package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The authorization matrix: every protected route × every role × every position of
// the target relative to the caller, against statuses written here from PRODUCT.md's
// permission levels (mayDo below), never computed from tree.Policy, so that a wrong
// rule in the policy table shows up here as a disagreement.
//
// Cells must not change anything, so a cell that should be allowed sends a request
// that passes authorization and then fails harmlessly: a stale If-Match ("999") on
// updates, status actions and deletes, which answers 412 stale, and an empty name on
// creates, which answers 400 validation; gets and lists answer 200. A refused cell
// answers 403 forbidden (the role may not, on a thing the caller may see) or 404
// not-found (outside the caller's branch, exactly like a missing thing). Even a wrong
// expectation cannot write: whatever the authorization says, no request is complete.

// matrixAll stands for every operation of a resource.
const matrixAll = "*"

// mayDo is what each role may do, per resource, on its own node's subtree; anything
// not listed is refused. Written from PRODUCT.md and the contract, not from the policy.
var mayDo = map[tree.Role]map[string][]string{
	tree.RolePlatformAdmin: {
		"distributors": {matrixAll}, "partners": {matrixAll}, "organizations": {matrixAll},
		"companies": {matrixAll}, "end-users": {matrixAll}, "me": {"get"}, "audit-logs": {"list", "export", "digests", "public-key"},
		"licenses": {matrixAll}, "client-services": {matrixAll}, "dashboard": {"get"},
		"webhook-endpoints": {matrixAll}, "webhook-deliveries": {matrixAll}, "webhook-event-types": {"list"},
		"api-clients": {matrixAll},
	},
	tree.RoleDistributorAdmin: {
		"partners": {matrixAll}, "organizations": {matrixAll}, "companies": {matrixAll},
		"end-users": {matrixAll}, "me": {"get"}, "audit-logs": {"list", "export", "digests", "public-key"}, "licenses": {matrixAll},
		"client-services": clientServiceVerbs, "dashboard": {"get"},
		"webhook-endpoints": {matrixAll}, "webhook-deliveries": {matrixAll}, "webhook-event-types": {"list"},
		"api-clients": {matrixAll},
	},
	// Resellers hold and sell licenses: a partner admin manages those of its branch,
	// and sees the dashboard of every node in it (PRODUCT.md: "a partner (or higher)").
	tree.RolePartnerAdmin: {
		"organizations": {matrixAll}, "companies": {matrixAll}, "end-users": {matrixAll},
		"me": {"get"}, "audit-logs": {"list", "export", "digests", "public-key"}, "licenses": {matrixAll}, "client-services": clientServiceVerbs,
		"dashboard":         {"get"},
		"webhook-endpoints": {matrixAll}, "webhook-deliveries": {matrixAll}, "webhook-event-types": {"list"},
		"api-clients": {matrixAll},
	},
	// An organization admin reads its organization and its licenses; changing them is
	// the partner's. Its client services are the organization's own business (the
	// issuer's).
	tree.RoleOrganizationAdmin: {
		"organizations": {"get"}, "companies": {matrixAll}, "end-users": {matrixAll},
		"me": {"get"}, "audit-logs": {"list", "export", "digests", "public-key"}, "licenses": {"get", "list"}, "client-services": clientServiceVerbs,
		// Its webhook endpoints too: the organization integrates its own systems.
		"webhook-endpoints": {matrixAll}, "webhook-deliveries": {matrixAll}, "webhook-event-types": {"list"},
		"api-clients": {matrixAll},
	},
	// Company staff read their company and manage its end users. Every admin manages
	// the API clients of its node and below.
	tree.RoleCompanyAdmin: {
		"companies": {"get"}, "end-users": {matrixAll}, "me": {"get"}, "audit-logs": {"list", "export", "digests", "public-key"},
		"api-clients": {matrixAll},
	},
	// An end user has a profile and nothing else of the console.
	tree.RoleEndUser: {"me": {"get"}},
}

// clientServiceVerbs is what the admins below the platform do with the client services
// of their branch: everything but changing the general configurations, which is the
// platform admins' alone (PRODUCT.md).
var clientServiceVerbs = []string{"create", "list", "get", "certificate-get", "update", "delete", "activate", "deactivate", "configurations-get"}

func roleMay(role tree.Role, resource, verb string) bool {
	ops := mayDo[role][resource]
	return slices.Contains(ops, matrixAll) || slices.Contains(ops, verb)
}

// matrixLevel is a level of the tree as the matrix knows it (from the contract).
type matrixLevel struct {
	kind, parent tree.Kind
	parentField  string // "" when the parent is the platform
	nameField    string
	actions      []string
	// scopes are the kinds of node a list may be scoped to, the parent first.
	scopes []tree.Kind
}

var matrixLevels = map[string]matrixLevel{
	"distributors": {kind: tree.KindDistributor, parent: tree.KindPlatform, nameField: "name",
		actions: []string{"suspend", "enable"}, scopes: []tree.Kind{tree.KindPlatform}},
	"partners": {kind: tree.KindPartner, parent: tree.KindDistributor, parentField: "distributorId", nameField: "name",
		actions: []string{"suspend", "enable"}, scopes: []tree.Kind{tree.KindDistributor, tree.KindPlatform}},
	"organizations": {kind: tree.KindOrganization, parent: tree.KindPartner, parentField: "partnerId", nameField: "name",
		actions: []string{"deactivate", "reactivate"}, scopes: []tree.Kind{tree.KindPartner, tree.KindDistributor, tree.KindPlatform}},
	"companies": {kind: tree.KindCompany, parent: tree.KindOrganization, parentField: "organizationId", nameField: "name",
		scopes: []tree.Kind{tree.KindOrganization, tree.KindPartner, tree.KindDistributor, tree.KindPlatform}},
	"end-users": {kind: tree.KindEndUser, parent: tree.KindCompany, parentField: "companyId", nameField: "email",
		actions: []string{"deactivate", "reactivate", "invite"},
		scopes:  []tree.Kind{tree.KindCompany, tree.KindOrganization, tree.KindPartner, tree.KindDistributor, tree.KindPlatform}},
}

// scopeParam is the query parameter that names a list's scope of each kind.
var scopeParam = map[tree.Kind]string{
	tree.KindDistributor: "distributorId", tree.KindPartner: "partnerId",
	tree.KindOrganization: "organizationId", tree.KindCompany: "companyId",
}

// The positions of a target relative to the caller's node.
const (
	posOwn        = "its own node"
	posDescendant = "a descendant"
	posAncestor   = "an ancestor"
	posSibling    = "a sibling"
	posOther      = "another branch"
)

var matrixPositions = []string{posOwn, posDescendant, posAncestor, posSibling, posOther}

func inside(position string) bool { return position == posOwn || position == posDescendant }

// fixtureNode is a node of the matrix's fixture tree.
type fixtureNode struct {
	label  string
	kind   tree.Kind
	id     string
	parent *fixtureNode
}

// contains reports whether m lies in n's subtree (n itself included).
func (n *fixtureNode) contains(m *fixtureNode) bool {
	for x := m; x != nil; x = x.parent {
		if x == n {
			return true
		}
	}
	return false
}

// branch is the label of the distributor above n ("" for the platform).
func (n *fixtureNode) branch() string {
	for x := n; x != nil; x = x.parent {
		if x.kind == tree.KindDistributor {
			return x.label
		}
	}
	return ""
}

// matrixWorld is the fixture: D1{P1{O1{C1{E1}, C1b{E1b}}, O1b}, P1b}, D2{P2{O2{C2{E2}}}},
// and one signed-in user per role.
type matrixWorld struct {
	root    *fixtureNode
	all     []*fixtureNode // root first, then in creation order
	node    map[string]*fixtureNode
	token   map[tree.Role]string
	at      map[tree.Role]*fixtureNode
	created time.Duration
	// exports holds an export of each node's log by node id (the targets of
	// GET /v1/audit-logs/exports/{id}), made by TestAuthorizationMatrix.
	exports map[string]string
	// clients is set in the copy whose callers are API clients (asAPIClients); person
	// is then the fixture of people it was made from.
	clients bool
	person  *matrixWorld
}

var (
	matrixMu    sync.Mutex
	matrixCache *matrixWorld
)

// matrixFixture builds the fixture once per run; the tests that use it only read it.
func matrixFixture(t *testing.T) *matrixWorld {
	t.Helper()
	matrixMu.Lock()
	defer matrixMu.Unlock()
	if matrixCache != nil {
		return matrixCache
	}
	start := time.Now()
	root := admin(t)
	w := &matrixWorld{
		root:  &fixtureNode{label: "the platform", kind: tree.KindPlatform, id: tree.PlatformID},
		node:  map[string]*fixtureNode{},
		token: map[tree.Role]string{tree.RolePlatformAdmin: root},
		at:    map[tree.Role]*fixtureNode{},
	}
	w.all = []*fixtureNode{w.root}
	w.node["platform"] = w.root
	tag := time.Now().UnixNano()
	add := func(label, parent string, kind tree.Kind, resource string) {
		p := w.root
		body := map[string]any{"name": unique("Matrix " + label)}
		if parent != "" {
			p = w.node[parent]
			body[matrixLevels[resource].parentField] = p.id
		}
		if kind == tree.KindEndUser {
			delete(body, "name")
			body["email"] = fmt.Sprintf("matrix-%s-%d@example.com", strings.ToLower(label), tag)
			body["firstName"], body["lastName"] = "Matrix", label
		}
		n := &fixtureNode{label: label, kind: kind, id: create(t, root, resource, body).ID, parent: p}
		w.node[label] = n
		w.all = append(w.all, n)
	}
	add("D1", "", tree.KindDistributor, "distributors")
	add("D2", "", tree.KindDistributor, "distributors")
	add("P1", "D1", tree.KindPartner, "partners")
	add("P1b", "D1", tree.KindPartner, "partners")
	add("P2", "D2", tree.KindPartner, "partners")
	add("O1", "P1", tree.KindOrganization, "organizations")
	add("O1b", "P1", tree.KindOrganization, "organizations")
	add("O2", "P2", tree.KindOrganization, "organizations")
	add("C1", "O1", tree.KindCompany, "companies")
	add("C1b", "O1", tree.KindCompany, "companies")
	add("C2", "O2", tree.KindCompany, "companies")
	add("E1", "C1", tree.KindEndUser, "end-users")
	add("E1b", "C1b", tree.KindEndUser, "end-users")
	add("E2", "C2", tree.KindEndUser, "end-users")
	w.at[tree.RolePlatformAdmin] = w.root
	for _, u := range []struct {
		role tree.Role
		at   string
	}{
		{tree.RoleDistributorAdmin, "D1"}, {tree.RolePartnerAdmin, "P1"}, {tree.RoleOrganizationAdmin, "O1"},
		{tree.RoleCompanyAdmin, "C1"}, {tree.RoleEndUser, "C1"},
	} {
		w.token[u.role], _ = userAt(t, u.role, nodeOf(t, w.node[u.at].id))
		w.at[u.role] = w.node[u.at]
	}
	w.created = time.Since(start)
	matrixCache = w
	return w
}

// placed is a node of the fixture at a position relative to a caller.
type placed struct {
	position string
	node     *fixtureNode
}

// positions lists, for a caller at node at, one node of kind per position that exists
// in the fixture: its own node, a descendant, an ancestor, a sibling, and in another
// branch the first of its own distributor's branch and the first of the other's.
func (w *matrixWorld) positions(at *fixtureNode, kind tree.Kind) []placed {
	var out []placed
	seen := map[string]bool{}
	otherBranch := map[string]bool{}
	for _, c := range w.all {
		if c.kind != kind {
			continue
		}
		var pos string
		switch {
		case c == at:
			pos = posOwn
		case at.contains(c):
			pos = posDescendant
		case c.contains(at):
			pos = posAncestor
		case c.parent == at.parent:
			pos = posSibling
		default:
			if otherBranch[c.branch()] {
				continue
			}
			otherBranch[c.branch()] = true
			out = append(out, placed{posOther, c})
			continue
		}
		if !seen[pos] {
			seen[pos] = true
			out = append(out, placed{pos, c})
		}
	}
	return out
}

// matrixCell is one request of the matrix with the status it must get.
type matrixCell struct {
	route    string // "PATCH /v1/organizations/{id}"
	op       string // "organizations.update"
	role     tree.Role
	position string
	target   string // the fixture label of the target (or parent, or scope)
	r        req
	want     int
	allowed  bool
	got      response
	err      error
}

func (c *matrixCell) name() string {
	return fmt.Sprintf("%s as %s on %s (%s)", c.op, c.role, c.position, c.target)
}

// cellsFor builds the cells of one route, none when the matrix does not know it.
func (w *matrixWorld) cellsFor(rt lambdas.Route) []*matrixCell {
	route := rt.Method + " " + rt.Path
	seg := strings.Split(strings.TrimPrefix(rt.Path, "/v1/"), "/")
	var out []*matrixCell
	cell := func(op string, role tree.Role, p placed, r req, want int, allowed bool) {
		r.token = w.token[role]
		out = append(out, &matrixCell{route: route, op: op, role: role, position: p.position, target: p.node.label, r: r, want: want, allowed: allowed})
	}
	// expect is the status of a cell: refused (403 or 404) or the harmless answer ok.
	byID := func(role tree.Role, resource, verb string, p placed, ok int) (int, bool) {
		switch {
		case !inside(p.position):
			return 404, false // outside the branch: like a missing thing, whatever the role
		case !roleMay(role, resource, verb):
			return 403, false
		}
		return ok, true
	}
	underParent := func(role tree.Role, resource, verb string, p placed, ok int) (int, bool) {
		switch {
		case !roleMay(role, resource, verb):
			return 403, false // refused before anything is read, wherever the parent
		case !inside(p.position):
			return 404, false
		}
		return ok, true
	}
	switch {
	case route == "GET /v1/me":
		for _, role := range tree.Roles {
			p := placed{posOwn, w.at[role]}
			want, ok := 403, roleMay(role, "me", "get")
			if ok {
				want = 200
			}
			cell("me.get", role, p, req{method: "GET", path: "/v1/me"}, want, ok)
		}
		return out
	case route == "GET /v1/audit-logs":
		for _, role := range tree.Roles {
			p := placed{posOwn, w.at[role]}
			want, ok := 403, roleMay(role, "audit-logs", "list")
			if ok {
				want = 200
			}
			cell("audit-logs.list", role, p, req{method: "GET", path: "/v1/audit-logs?limit=1"}, want, ok)
		}
		return out
	case route == "GET /v1/audit-logs/digests":
		// The digests of each node placed around the caller: the list's readers, 404
		// outside the branch (the role is checked first: no node is read for a role
		// that may not list).
		for _, role := range tree.Roles {
			for _, kind := range exportKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := underParent(role, "audit-logs", "digests", p, 200)
					cell("audit-logs.digests", role, p, req{method: "GET", path: "/v1/audit-logs/digests?limit=1&nodeId=" + p.node.id}, want, ok)
				}
			}
		}
		return out
	case route == "GET /v1/audit-logs/public-key":
		for _, role := range tree.Roles {
			p := placed{posOwn, w.at[role]}
			want, ok := 403, roleMay(role, "audit-logs", "public-key")
			if ok {
				want = 200
			}
			cell("audit-logs.public-key", role, p, req{method: "GET", path: "/v1/audit-logs/public-key"}, want, ok)
		}
		return out
	case route == "GET /v1/audit-logs/exports/{id}":
		// The export of each node placed around the caller: readable by whoever may
		// read that node's log, 404 outside the branch.
		for _, role := range tree.Roles {
			for _, kind := range exportKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := byID(role, "audit-logs", "export", p, 200)
					cell("audit-logs.export-get", role, p, req{method: "GET", path: "/v1/audit-logs/exports/" + w.exports[p.node.id]}, want, ok)
				}
			}
		}
		return out
	case route == "POST /v1/audit-logs/exports":
		// An export of each node placed around the caller, with an unknown format:
		// refused (403, 404 outside the branch) or 400, never started.
		for _, role := range tree.Roles {
			for _, kind := range exportKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := underParent(role, "audit-logs", "export", p, 400)
					cell("audit-logs.export", role, p, req{method: "POST", path: "/v1/audit-logs/exports",
						body: map[string]any{"nodeId": p.node.id, "format": "never"}}, want, ok)
				}
			}
		}
		return out
	}
	if c, ok := selfCells[route]; ok {
		// Routes on the caller's own account: every role, on itself (signin_test.go).
		for _, role := range tree.Roles {
			cell(c.op, role, placed{posOwn, w.at[role]}, c.r, c.want, true)
		}
		return out
	}
	if w.smtpCells(rt, cell) {
		// Mail settings of client services, partners and organizations (matrix_smtp_test.go).
		return out
	}
	if seg[0] == "impersonations" {
		// Login-as sessions (matrix_impersonation_test.go).
		w.impersonationCells(rt, cell)
		return out
	}
	if seg[0] == "licenses" {
		// Licenses (matrix_licenses_test.go): the targets are licenses held at the
		// fixture's distributors, partners and organizations.
		w.licenseCells(rt, cell)
		return out
	}
	if seg[0] == "webhook-endpoints" || seg[0] == "webhook-event-types" {
		// Webhooks (matrix_webhooks_test.go): the targets are endpoints of the
		// fixture's partners and organizations.
		w.webhookCells(rt, cell)
		return out
	}
	if seg[0] == "client-services" {
		// Client services (matrix_clientservices_test.go): the targets are services of
		// the fixture's organizations.
		w.clientServiceCells(rt, cell)
		return out
	}
	if seg[0] == "dashboard" {
		// The dashboard (matrix_dashboard_test.go): of every node of the fixture.
		w.dashboardCells(cell)
		return out
	}
	if seg[0] == "api-clients" {
		// API clients (matrix_apiclients_test.go): the targets are clients of the
		// fixture's distributors, partners, organizations and companies.
		w.apiClientCells(rt, cell)
		return out
	}
	if seg[0] == "users" {
		// Console users (matrix_users_test.go): the targets are invited users.
		w.userCells(rt, cell)
		return out
	}
	if w.signupCells(rt, cell) {
		// Self-service signup's routes (matrix_signup_test.go).
		return out
	}
	lv, known := matrixLevels[seg[0]]
	if !known {
		return nil
	}
	resource := seg[0]
	base := "/v1/" + resource
	harmlessPatch := map[string]string{lv.nameField: "Never Written"}
	if lv.nameField == "email" {
		harmlessPatch = map[string]string{"firstName": "Never"}
	}
	switch {
	case len(seg) == 1 && rt.Method == "POST":
		for _, role := range tree.Roles {
			for _, p := range w.positions(w.at[role], lv.parent) {
				body := map[string]any{lv.nameField: ""}
				if lv.parentField != "" {
					body[lv.parentField] = p.node.id
				}
				want, ok := underParent(role, resource, "create", p, 400)
				cell(resource+".create", role, p, req{method: "POST", path: base, body: body}, want, ok)
			}
		}
	case len(seg) == 1 && rt.Method == "GET":
		for _, role := range tree.Roles {
			at := w.at[role]
			for _, kind := range lv.scopes {
				for _, p := range w.positions(at, kind) {
					path := base + "?limit=1"
					if kind == tree.KindPlatform {
						// The platform cannot be named: it is the scope by default of a
						// platform admin, and the only scope of the distributors.
						if p.position != posOwn && len(lv.scopes) > 1 {
							continue
						}
					} else {
						path += "&" + scopeParam[kind] + "=" + p.node.id
					}
					want, ok := underParent(role, resource, "list", p, 200)
					cell(resource+".list", role, p, req{method: "GET", path: path}, want, ok)
				}
			}
			// Without a scope parameter the list is of the caller's own node, when it
			// is of a kind the level is listed under.
			if at.kind != tree.KindPlatform && slices.Contains(lv.scopes, at.kind) {
				p := placed{posOwn, at}
				want, ok := underParent(role, resource, "list", p, 200)
				cell(resource+".list", role, p, req{method: "GET", path: base + "?limit=1"}, want, ok)
				out[len(out)-1].target = at.label + " by default, no scope parameter"
			}
		}
	case len(seg) >= 2 && seg[1] == "{id}":
		actions := lv.actions
		if actions == nil {
			actions = []string{}
		}
		verb, ok, build := byIDCell(base, seg, rt.Method, harmlessPatch, actions)
		if verb == "" {
			return nil
		}
		for _, role := range tree.Roles {
			for _, p := range w.positions(w.at[role], lv.kind) {
				want, allowed := byID(role, resource, verb, p, ok)
				cell(resource+"."+verb, role, p, build(p.node.id), want, allowed)
			}
		}
	}
	return out
}

// exportKinds are the kinds of node the export cells are placed at.
var exportKinds = []tree.Kind{tree.KindDistributor, tree.KindOrganization, tree.KindCompany}

// makeExports starts, as the platform admin, an export of each fixture node's log
// (an empty range: nothing to read), for the GET cells.
func (w *matrixWorld) makeExports(t *testing.T) {
	if w.exports != nil {
		return
	}
	w.exports = map[string]string{}
	for _, n := range w.all {
		if !slices.Contains(exportKinds, n.kind) {
			continue
		}
		res := do(t, req{method: "POST", path: "/v1/audit-logs/exports", token: w.token[tree.RolePlatformAdmin],
			body: map[string]any{"nodeId": n.id, "format": "csv", "from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}})
		res.expect(t, 202)
		w.exports[n.id] = idOf(t, res)
	}
}

// slugOf is the problem type's last part of an answer ("" when it is not a problem).
func slugOf(res response) string {
	var p problemBody
	if json.Unmarshal(res.Body, &p) != nil {
		return ""
	}
	return strings.TrimPrefix(p.Type, "urn:opsconsole:problem:")
}

// wantSlug is the problem type each status of the matrix must carry.
var wantSlug = map[int]string{400: "validation", 403: "forbidden", 404: "not-found", 412: "stale"}

// TestAuthorizationMatrix runs every cell of the matrix against the local system. The
// routes come from lambdas.Routes(): a protected route the matrix has no cells for,
// or no cell for some role, fails the test until its expectations are written here.
func TestAuthorizationMatrix(t *testing.T) {
	w := matrixFixture(t)
	w.makeExports(t)
	var routes []lambdas.Route
	for _, rt := range lambdas.Routes() {
		if !rt.Public {
			routes = append(routes, rt)
		}
	}
	slices.SortFunc(routes, func(a, b lambdas.Route) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	var cells []*matrixCell
	combos := map[string]bool{}
	allowed := 0
	for _, rt := range routes {
		got := w.cellsFor(rt)
		if len(got) == 0 {
			t.Errorf("%s %s (function %s) is protected but has no cells: write its expectations in mayDo and cellsFor", rt.Method, rt.Path, rt.Function)
			continue
		}
		for _, role := range tree.Roles {
			if !slices.ContainsFunc(got, func(c *matrixCell) bool { return c.role == role }) {
				t.Errorf("%s %s has no cell for %s", rt.Method, rt.Path, role)
			}
		}
		for _, c := range got {
			combos[c.route+"|"+string(c.role)+"|"+c.position] = true
			if c.allowed {
				allowed++
			}
		}
		cells = append(cells, got...)
	}

	// Every cell is harmless and independent, so they are sent concurrently; the
	// subtests then only read the answers.
	start := time.Now()
	jobs := make(chan *matrixCell)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				c.got, c.err = send(c.r)
			}
		}()
	}
	for _, c := range cells {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	sent := time.Since(start)

	for _, c := range cells {
		t.Run(c.name(), func(t *testing.T) {
			if c.err != nil {
				t.Fatal(c.err)
			}
			if c.got.Status != c.want {
				t.Fatalf("%s %s: status %d, want %d: %s", c.r.method, c.r.path, c.got.Status, c.want, c.got.Body)
			}
			if slug := slugOf(c.got); wantSlug[c.want] != "" && slug != wantSlug[c.want] {
				t.Fatalf("%s %s: problem %q, want %q: %s", c.r.method, c.r.path, slug, wantSlug[c.want], c.got.Body)
			}
		})
	}
	t.Logf("authorization matrix: %d routes × %d roles × %d positions = %d combinations, %d of them exist in the fixture; %d cells, %d allow, %d refuse (fixture %s, cells sent in %s)",
		len(routes), len(tree.Roles), len(matrixPositions), len(routes)*len(tree.Roles)*len(matrixPositions), len(combos),
		len(cells), allowed, len(cells)-allowed, w.created.Round(time.Millisecond), sent.Round(time.Millisecond))
}

// byIDCell is the request a matrix cell sends to the route on one item of collection
// base by {id} that the path's segments seg and method name, and the status a caller
// allowed it gets: a get 200; a PATCH (with body patch), a DELETE and a POST action
// carry a stale If-Match, so they end at 412 and never change the item. actions, when
// not nil, are the only POST actions there are. verb is "" for a route of another shape.
func byIDCell(base string, seg []string, method string, patch any, actions []string) (verb string, ok int, build func(id string) req) {
	stale := map[string]string{"If-Match": `"999"`}
	switch {
	case len(seg) == 2 && method == "GET":
		return "get", 200, func(id string) req { return req{method: "GET", path: base + "/" + id} }
	case len(seg) == 2 && method == "PATCH":
		return "update", 412, func(id string) req {
			return req{method: "PATCH", path: base + "/" + id, body: patch, header: stale}
		}
	case len(seg) == 2 && method == "DELETE":
		return "delete", 412, func(id string) req { return req{method: "DELETE", path: base + "/" + id, header: stale} }
	case len(seg) == 3 && method == "POST" && (actions == nil || slices.Contains(actions, seg[2])):
		verb := seg[2]
		return verb, 412, func(id string) req {
			return req{method: "POST", path: base + "/" + id + "/" + verb, header: stale}
		}
	}
	return "", 0, nil
}
