package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The matrix's cells of the licenses' routes, written from PRODUCT.md and issue #15:
// partner admins and above manage the licenses held in their branch; an organization
// admin reads its organization's; company staff and end users have none. One license
// is held at every distributor, partner and organization of the fixture; allowed cells
// on an id carry a stale If-Match (412), creates an empty name (400), so no cell
// changes anything.

// licenseKinds are the kinds of node that hold licenses.
var licenseKinds = []tree.Kind{tree.KindDistributor, tree.KindPartner, tree.KindOrganization}

var (
	matrixLicensesMu sync.Mutex
	// matrixLicenses maps a fixture node's label to the id of the license it holds.
	matrixLicenses map[string]string
)

// licensesAt creates one license at every holder of the fixture (once per run) and
// returns their ids by node label. A failure panics (cellsFor has no *testing.T).
func (w *matrixWorld) licensesAt() map[string]string {
	matrixLicensesMu.Lock()
	defer matrixLicensesMu.Unlock()
	if matrixLicenses != nil {
		return matrixLicenses
	}
	out := map[string]string{}
	for _, n := range w.all {
		if !tree.LicenseHolder(n.kind) {
			continue
		}
		res, err := send(req{method: "POST", path: "/v1/licenses", token: w.token[tree.RolePlatformAdmin],
			body: map[string]any{"nodeId": n.id, "type": "agent", "name": "Matrix " + n.label}})
		if err != nil || res.Status != 201 {
			panic(fmt.Sprintf("license at %s: %v %d %s", n.label, err, res.Status, res.Body))
		}
		var l struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(res.Body, &l); err != nil {
			panic(err)
		}
		out[n.label] = l.ID
	}
	matrixLicenses = out
	return out
}

// licenseCells adds, through cell, the cells of one license route.
func (w *matrixWorld) licenseCells(rt lambdas.Route, cell cellFunc) {
	seg := strings.Split(strings.TrimPrefix(rt.Path, "/v1/"), "/")
	// Creates and lists refuse a role that may never do them before anything is read;
	// on an id, outside the branch reads like a missing license first.
	expect := func(role tree.Role, verb string, p placed, ok int, roleFirst bool) (int, bool) {
		may := roleMay(role, "licenses", verb)
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
			for _, kind := range licenseKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, "create", p, 400, true)
					cell("licenses.create", role, p, req{method: "POST", path: "/v1/licenses",
						body: map[string]any{"nodeId": p.node.id, "type": "agent", "name": ""}}, want, ok)
				}
			}
		}
	case len(seg) == 1 && rt.Method == "GET":
		for _, role := range tree.Roles {
			for _, kind := range append([]tree.Kind{tree.KindPlatform}, licenseKinds...) {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, "list", p, 200, true)
					cell("licenses.list", role, p, req{method: "GET", path: "/v1/licenses?limit=1&nodeId=" + p.node.id}, want, ok)
				}
			}
			p := placed{posOwn, w.at[role]}
			want, ok := expect(role, "list", p, 200, true)
			cell("licenses.list", role, p, req{method: "GET", path: "/v1/licenses?limit=1"}, want, ok)
		}
	case len(seg) >= 2 && seg[1] == "{id}":
		verb, ok, build := byIDCell("/v1/licenses", seg, rt.Method, map[string]any{"name": "Never Written"}, nil)
		if verb == "" {
			return
		}
		held := w.licensesAt()
		for _, role := range tree.Roles {
			for _, kind := range licenseKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, allowed := expect(role, verb, p, ok, false)
					cell("licenses."+verb, role, p, build(held[p.node.label]), want, allowed)
				}
			}
		}
	}
}
