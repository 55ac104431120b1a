package e2e

import (
	"strings"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The matrix's cells of the mail settings' routes (GET, PUT, DELETE …/smtp and POST
// …/smtp/test on client services, partners and organizations), written from
// PRODUCT.md ("SMTP: organization admin (issuer) or above"; partners and
// organizations set their own): the admins of the owner and every admin above; the
// owner outside the caller's branch is 404. Allowed cells stay harmless: PUT and
// DELETE carry a stale If-Match (412), the test an empty body (400), so nothing is
// written and nothing is sent.

// smtpMay tells whether role manages the mail settings of a thing of its branch.
func smtpMay(role tree.Role) bool {
	switch role {
	case tree.RolePlatformAdmin, tree.RoleDistributorAdmin, tree.RolePartnerAdmin, tree.RoleOrganizationAdmin:
		return true
	}
	return false
}

// smtpCells adds, through cell, the cells of one mail-settings route, and tells
// whether the route was one.
func (w *matrixWorld) smtpCells(rt lambdas.Route, cell cellFunc) bool {
	if !strings.HasSuffix(rt.Path, "/{id}/smtp") && !strings.HasSuffix(rt.Path, "/{id}/smtp/test") {
		return false
	}
	resource := strings.Split(strings.TrimPrefix(rt.Path, "/v1/"), "/")[0]
	stale := map[string]string{"If-Match": `"999"`}
	body := map[string]any{"host": "127.0.0.1", "port": 2525, "tlsMode": "none", "fromAddress": "matrix@example.com"}
	var verb string
	var ok int
	var build func(path string) req
	switch {
	case rt.Method == "GET":
		verb, ok = "smtp-get", 200
		build = func(p string) req { return req{method: "GET", path: p} }
	case rt.Method == "PUT":
		verb, ok = "smtp-put", 412
		build = func(p string) req { return req{method: "PUT", path: p, body: body, header: stale} }
	case rt.Method == "DELETE":
		verb, ok = "smtp-delete", 412
		build = func(p string) req { return req{method: "DELETE", path: p, header: stale} }
	default:
		verb, ok = "smtp-test", 400
		build = func(p string) req { return req{method: "POST", path: p + "/test", body: map[string]any{}} }
	}
	kind := map[string]tree.Kind{"client-services": tree.KindOrganization, "partners": tree.KindPartner, "organizations": tree.KindOrganization}[resource]
	var held map[string]string
	if resource == "client-services" {
		held = w.clientServicesAt()
	}
	for _, role := range tree.Roles {
		for _, p := range w.positions(w.at[role], kind) {
			id := p.node.id
			if held != nil {
				id = held[p.node.label] // the client service of that organization
			}
			want, allowed := ok, true
			switch {
			case !inside(p.position):
				want, allowed = 404, false
			case !smtpMay(role):
				want, allowed = 403, false
			}
			cell(resource+"."+verb, role, p, build("/v1/"+resource+"/"+id+"/smtp"), want, allowed)
		}
	}
	return true
}
