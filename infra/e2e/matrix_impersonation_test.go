package e2e

import (
	"encoding/json"
	"fmt"
	"sync"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The matrix's cells of the login-as routes. Written from PRODUCT.md and issue 4: an
// admin acts as a node strictly below their own (never their own node, never above or
// sideways); the lowest admins with a console node below them are organization admins
// (their companies), so company admins and end users are refused before anything is
// read. Only the impersonator reads or ends a session: anyone else's reads like a
// missing one. Allowed starts carry minutes 0 (400), allowed ends a stale If-Match
// (412), so no cell starts or ends a session.

// impersonationMay tells whether role may use login-as at all.
func impersonationMay(role tree.Role) bool {
	return role.AtLeast(tree.RoleOrganizationAdmin)
}

// impersonationKinds are the kinds of node a session may act as.
var impersonationKinds = []tree.Kind{tree.KindDistributor, tree.KindPartner, tree.KindOrganization, tree.KindCompany}

var (
	matrixSessionsMu sync.Mutex
	// matrixSessions maps each role that may impersonate to a session it owns, acting
	// as the node just below its own in the fixture's chain.
	matrixSessions map[tree.Role]string
)

// sessionsOf starts one session per impersonating role (once per run). It runs from
// cellsFor, which has no *testing.T: a failure panics.
func (w *matrixWorld) sessionsOf() map[tree.Role]string {
	matrixSessionsMu.Lock()
	defer matrixSessionsMu.Unlock()
	if matrixSessions != nil {
		return matrixSessions
	}
	below := map[tree.Role]string{
		tree.RolePlatformAdmin: "D1", tree.RoleDistributorAdmin: "P1",
		tree.RolePartnerAdmin: "O1", tree.RoleOrganizationAdmin: "C1",
	}
	out := map[tree.Role]string{}
	for role, label := range below {
		res, err := send(req{method: "POST", path: "/v1/impersonations", token: w.token[role],
			body: map[string]any{"nodeId": w.node[label].id, "minutes": 60}})
		if err != nil || res.Status != 201 {
			panic(fmt.Sprintf("start a session as %s on %s: %v %d %s", role, label, err, res.Status, res.Body))
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(res.Body, &v); err != nil {
			panic(err)
		}
		out[role] = v.ID
	}
	matrixSessions = out
	return out
}

// impersonationCells adds, through cell, the cells of one login-as route.
func (w *matrixWorld) impersonationCells(rt lambdas.Route, cell cellFunc) {
	switch {
	case rt.Method == "POST" && rt.Path == "/v1/impersonations":
		for _, role := range tree.Roles {
			for _, kind := range impersonationKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := 400, true
					switch {
					case !impersonationMay(role):
						want, ok = 403, false // refused before anything is read
					case !inside(p.position):
						want, ok = 404, false
					case p.position == posOwn:
						want, ok = 403, false // never one's own node
					}
					cell("impersonations.create", role, p, req{method: "POST", path: "/v1/impersonations",
						body: map[string]any{"nodeId": p.node.id, "minutes": 0}}, want, ok)
				}
			}
		}
	case rt.Path == "/v1/impersonations/{id}" && (rt.Method == "GET" || rt.Method == "DELETE"):
		verb, ok := "get", 200
		build := func(id string) req { return req{method: "GET", path: "/v1/impersonations/" + id} }
		if rt.Method == "DELETE" {
			verb, ok = "delete", 412
			build = func(id string) req {
				return req{method: "DELETE", path: "/v1/impersonations/" + id, header: map[string]string{"If-Match": `"999"`}}
			}
		}
		sessions := w.sessionsOf()
		for _, role := range tree.Roles {
			at := w.at[role]
			for owner, id := range sessions {
				ownerAt := w.at[owner]
				pos := posOther
				switch {
				case owner == role:
					pos = posOwn
				case at.contains(ownerAt):
					pos = posDescendant
				case ownerAt.contains(at):
					pos = posAncestor
				}
				want, allowed := 404, false // someone else's session reads like a missing one
				switch {
				case !impersonationMay(role):
					want = 403
				case owner == role:
					want, allowed = ok, true
				}
				cell("impersonations."+verb, role, placed{pos, ownerAt}, build(id), want, allowed)
			}
		}
	}
}
