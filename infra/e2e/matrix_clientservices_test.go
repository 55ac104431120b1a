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

// The matrix's cells of the client services' routes, written from PRODUCT.md ("edit
// client-service details, status, SMTP: organization admin (issuer) or above") and
// issue #9: an organization's admins and every admin above manage its client
// services; company staff and end users have none. One service, with a certificate,
// belongs to every organization of the fixture; allowed cells on an id carry a stale
// If-Match (412), creates an empty alias (400), so no cell changes anything.

var (
	matrixServicesMu sync.Mutex
	// matrixServices maps a fixture organization's label to its client service's id.
	matrixServices map[string]string
)

// clientServicesAt creates one client service at every organization of the fixture
// (once per run) and returns their ids by label. A failure panics (cellsFor has no
// *testing.T).
func (w *matrixWorld) clientServicesAt() map[string]string {
	matrixServicesMu.Lock()
	defer matrixServicesMu.Unlock()
	if matrixServices != nil {
		return matrixServices
	}
	certPEM, _ := newCertificate("matrix.example.com", time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	out := map[string]string{}
	for _, n := range w.all {
		if n.kind != tree.KindOrganization {
			continue
		}
		res, err := send(req{method: "POST", path: "/v1/client-services", token: w.token[tree.RolePlatformAdmin],
			body: map[string]any{"organizationId": n.id, "alias": "Matrix " + n.label, "language": "en", "certificate": certPEM}})
		if err != nil || res.Status != 201 {
			panic(fmt.Sprintf("client service at %s: %v %d %s", n.label, err, res.Status, res.Body))
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(res.Body, &v); err != nil {
			panic(err)
		}
		out[n.label] = v.ID
	}
	matrixServices = out
	return out
}

// clientServiceCells adds, through cell, the cells of one client-service route.
func (w *matrixWorld) clientServiceCells(rt lambdas.Route, cell cellFunc) {
	const res = "/v1/client-services"
	stale := map[string]string{"If-Match": `"999"`}
	seg := strings.Split(strings.TrimPrefix(rt.Path, "/v1/"), "/")
	// Creates and lists refuse a role that may never do them before anything is read;
	// on an id, outside the branch reads like a missing service first.
	expect := func(role tree.Role, verb string, p placed, ok int, roleFirst bool) (int, bool) {
		may := roleMay(role, "client-services", verb)
		switch {
		case roleFirst && !may:
			return 403, false
		case !inside(p.position):
			return 404, false
		case !may:
			return 403, false
		}
		return ok, true
	}
	switch {
	case len(seg) == 1 && rt.Method == "POST":
		for _, role := range tree.Roles {
			for _, p := range w.positions(w.at[role], tree.KindOrganization) {
				want, ok := expect(role, "create", p, 400, true)
				cell("client-services.create", role, p, req{method: "POST", path: res,
					body: map[string]any{"organizationId": p.node.id, "alias": "", "language": "en"}}, want, ok)
			}
		}
	case len(seg) == 1 && rt.Method == "GET":
		for _, role := range tree.Roles {
			for _, kind := range []tree.Kind{tree.KindPartner, tree.KindOrganization} {
				param := map[tree.Kind]string{tree.KindPartner: "partnerId", tree.KindOrganization: "organizationId"}[kind]
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, "list", p, 200, true)
					cell("client-services.list", role, p, req{method: "GET", path: res + "?limit=1&" + param + "=" + p.node.id}, want, ok)
				}
			}
			p := placed{posOwn, w.at[role]}
			want, ok := expect(role, "list", p, 200, true)
			cell("client-services.list", role, p, req{method: "GET", path: res + "?limit=1"}, want, ok)
		}
	case len(seg) >= 2 && seg[1] == "{id}":
		verb, ok, build := byIDCell(res, seg, rt.Method, map[string]any{"alias": "Never Written"}, nil)
		switch {
		case len(seg) == 3 && rt.Method == "GET" && seg[2] == "certificate":
			verb, ok = "certificate-get", 200
			build = func(id string) req { return req{method: "GET", path: res + "/" + id + "/certificate"} }
		case len(seg) == 3 && rt.Method == "GET" && seg[2] == "configurations":
			verb, ok = "configurations-get", 200
			build = func(id string) req { return req{method: "GET", path: res + "/" + id + "/configurations"} }
		case len(seg) == 3 && rt.Method == "PATCH" && seg[2] == "configurations":
			// Only platform admins change them (PRODUCT.md), everyone else who sees
			// the service reads them.
			verb, ok = "configurations-update", 412
			build = func(id string) req {
				return req{method: "PATCH", path: res + "/" + id + "/configurations", body: map[string]any{"theme": "dark"}, header: stale}
			}
		case verb == "":
			return
		}
		held := w.clientServicesAt()
		for _, role := range tree.Roles {
			for _, p := range w.positions(w.at[role], tree.KindOrganization) {
				want, allowed := expect(role, verb, p, ok, false)
				cell("client-services."+verb, role, p, build(held[p.node.label]), want, allowed)
			}
		}
	}
}
