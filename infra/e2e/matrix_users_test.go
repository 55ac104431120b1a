package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The matrix's cells of the console users' routes. Written from PRODUCT.md: an admin
// of a node or above (down to company_admin) manages the console users of the node's
// subtree; an end user none. The targets are invited users, one at every node of the
// fixture (above the end users), so that no cell can reach a real account: allowed
// cells on an id carry a stale If-Match (412), invitations an empty email (400).

// usersMay tells whether role may manage console users (inside its branch).
func usersMay(role tree.Role) bool { return role != tree.RoleEndUser }

// userKinds are the kinds of node console users are invited at.
var userKinds = []tree.Kind{tree.KindPlatform, tree.KindDistributor, tree.KindPartner, tree.KindOrganization, tree.KindCompany}

var levelRole = map[tree.Kind]tree.Role{
	tree.KindPlatform: tree.RolePlatformAdmin, tree.KindDistributor: tree.RoleDistributorAdmin,
	tree.KindPartner: tree.RolePartnerAdmin, tree.KindOrganization: tree.RoleOrganizationAdmin,
	tree.KindCompany: tree.RoleCompanyAdmin,
}

var (
	matrixUsersMu sync.Mutex
	// matrixInvited maps a fixture node's label to the id of the user invited there.
	matrixInvited map[string]string
)

// invitedAt invites one user at every fixture node (once per run) and returns their
// ids by node label. It runs from cellsFor, which has no *testing.T: a failure panics.
func (w *matrixWorld) invitedAt() map[string]string {
	matrixUsersMu.Lock()
	defer matrixUsersMu.Unlock()
	if matrixInvited != nil {
		return matrixInvited
	}
	out := map[string]string{}
	tag := time.Now().UnixNano()
	for _, n := range w.all {
		role, ok := levelRole[n.kind]
		if !ok {
			continue
		}
		res, err := send(req{method: "POST", path: "/v1/users", token: w.token[tree.RolePlatformAdmin], body: map[string]string{
			"email": fmt.Sprintf("matrix-user-%s-%d@example.com", strings.ReplaceAll(strings.ToLower(n.label), " ", "-"), tag), "firstName": "Matrix",
			"lastName": n.label, "role": string(role), "nodeId": n.id,
		}})
		if err != nil || res.Status != 201 {
			panic(fmt.Sprintf("invite at %s: %v %d %s", n.label, err, res.Status, res.Body))
		}
		var u userView
		if err := json.Unmarshal(res.Body, &u); err != nil {
			panic(err)
		}
		out[n.label] = u.ID
	}
	matrixInvited = out
	return out
}

type cellFunc func(op string, role tree.Role, p placed, r req, want int, allowed bool)

// userCells adds, through cell, the cells of one console-user route.
func (w *matrixWorld) userCells(rt lambdas.Route, cell cellFunc) {
	seg := strings.Split(strings.TrimPrefix(rt.Path, "/v1/"), "/")
	expect := func(role tree.Role, p placed, ok int, roleFirst bool) (int, bool) {
		switch {
		case roleFirst && !usersMay(role):
			return 403, false // refused before anything is read
		case !inside(p.position):
			return 404, false
		case !usersMay(role):
			return 403, false
		}
		return ok, true
	}
	switch {
	case len(seg) == 1 && rt.Method == "POST":
		for _, role := range tree.Roles {
			for _, kind := range userKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, p, 400, true)
					cell("users.invite", role, p, req{method: "POST", path: "/v1/users",
						body: map[string]string{"nodeId": p.node.id, "email": ""}}, want, ok)
				}
			}
		}
	case len(seg) == 1 && rt.Method == "GET":
		for _, role := range tree.Roles {
			for _, kind := range userKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, p, 200, true)
					cell("users.list", role, p, req{method: "GET", path: "/v1/users?limit=1&nodeId=" + p.node.id}, want, ok)
				}
			}
			p := placed{posOwn, w.at[role]}
			want, ok := expect(role, p, 200, true)
			cell("users.list", role, p, req{method: "GET", path: "/v1/users?limit=1"}, want, ok)
		}
	case len(seg) >= 2 && seg[1] == "{id}":
		verb, ok, build := byIDCell("/v1/users", seg, rt.Method, map[string]string{"firstName": "Never"}, nil)
		if verb == "" {
			return
		}
		invited := w.invitedAt()
		for _, role := range tree.Roles {
			for _, kind := range userKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, allowed := expect(role, p, ok, false)
					cell("users."+verb, role, p, build(invited[p.node.label]), want, allowed)
				}
			}
		}
	}
}
