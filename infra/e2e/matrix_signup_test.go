package e2e

import (
	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The matrix's cells of self-service signup's protected routes. Written from
// PRODUCT.md: only a platform admin turns a partner's signup on or off; the admins of
// the partner and above read the switch, read a signup and approve or reject the
// pending organizations of their branch. Allowed cells stay harmless: the switch is
// sent an empty body (400), decisions a stale If-Match (412); the fixture's
// organizations were created through the API, so reading their signup is a 404 even
// when allowed.

// signupMay tells whether role may do verb (on a thing of its branch).
func signupMay(role tree.Role, verb string) bool {
	switch verb {
	case "signup-update":
		return role == tree.RolePlatformAdmin
	}
	return role == tree.RolePlatformAdmin || role == tree.RoleDistributorAdmin || role == tree.RolePartnerAdmin
}

// signupCells adds, through cell, the cells of one of signup's routes, and tells
// whether the route was one.
func (w *matrixWorld) signupCells(rt lambdas.Route, cell cellFunc) bool {
	stale := map[string]string{"If-Match": `"999"`}
	var kind tree.Kind
	var op, verb string
	var ok int
	var build func(id string) req
	switch rt.Method + " " + rt.Path {
	case "GET /v1/partners/{id}/signup":
		kind, op, verb, ok = tree.KindPartner, "partners.signup-get", "signup-get", 200
		build = func(id string) req { return req{method: "GET", path: "/v1/partners/" + id + "/signup"} }
	case "PUT /v1/partners/{id}/signup":
		kind, op, verb, ok = tree.KindPartner, "partners.signup-update", "signup-update", 400
		build = func(id string) req {
			return req{method: "PUT", path: "/v1/partners/" + id + "/signup", body: map[string]any{}}
		}
	case "GET /v1/organizations/{id}/signup":
		kind, op, verb, ok = tree.KindOrganization, "organizations.signup-get", "signup-get", 404
		build = func(id string) req { return req{method: "GET", path: "/v1/organizations/" + id + "/signup"} }
	case "POST /v1/organizations/{id}/approve":
		kind, op, verb, ok = tree.KindOrganization, "organizations.approve", "approve", 412
		build = func(id string) req {
			return req{method: "POST", path: "/v1/organizations/" + id + "/approve", header: stale}
		}
	case "POST /v1/organizations/{id}/reject":
		kind, op, verb, ok = tree.KindOrganization, "organizations.reject", "reject", 412
		build = func(id string) req {
			return req{method: "POST", path: "/v1/organizations/" + id + "/reject", header: stale,
				body: map[string]string{"reason": "never written"}}
		}
	default:
		return false
	}
	for _, role := range tree.Roles {
		for _, p := range w.positions(w.at[role], kind) {
			want, allowed := ok, true
			switch {
			case !inside(p.position):
				want, allowed = 404, false
			case !signupMay(role, verb):
				want, allowed = 403, false
			}
			cell(op, role, p, build(p.node.id), want, allowed)
		}
	}
	return true
}
