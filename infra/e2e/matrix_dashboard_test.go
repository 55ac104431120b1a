package e2e

import "opsconsole/shared/tree"

// dashboardKinds are the kinds of node that have a dashboard.
var dashboardKinds = []tree.Kind{tree.KindPlatform, tree.KindDistributor, tree.KindPartner, tree.KindOrganization, tree.KindCompany}

// dashboardCells adds the cells of GET /v1/dashboard, written from PRODUCT.md ("a
// partner (or higher) sees totals for the node it looks at") and issue #15: partner
// admins and above read the dashboard of every node of their branch; a lower role is
// refused before anything is read (403), a node outside the branch is 404.
func (w *matrixWorld) dashboardCells(cell cellFunc) {
	for _, role := range tree.Roles {
		may := roleMay(role, "dashboard", "get")
		expect := func(p placed) (int, bool) {
			switch {
			case !may:
				return 403, false
			case !inside(p.position):
				return 404, false
			}
			return 200, true
		}
		for _, kind := range dashboardKinds {
			for _, p := range w.positions(w.at[role], kind) {
				want, ok := expect(p)
				cell("dashboard.get", role, p, req{method: "GET", path: "/v1/dashboard?nodeId=" + p.node.id}, want, ok)
			}
		}
		p := placed{posOwn, w.at[role]}
		want, ok := expect(p)
		cell("dashboard.get", role, p, req{method: "GET", path: "/v1/dashboard"}, want, ok)
	}
}
