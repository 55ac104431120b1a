package e2e

import (
	"fmt"
	"testing"

	"opsconsole/shared/tree"
)

// TestAuthorizationMatrix checks, for every protected route that acts on the tree,
// each role at each position of the target relative to the caller, against statuses
// written here from PRODUCT.md's permission levels, independently of the policy table.
//
// Cells must not change anything, so a cell that should be allowed sends a request
// that passes authorization and then fails harmlessly: a stale If-Match ("999") on
// writes, which answers 412, and an empty name on creates, which answers 400. A
// refused cell answers 403 (the role may not, on a thing the caller may see) or 404
// (outside the caller's branch, exactly like a missing thing).
//
// The organization, company and end-user levels do not exist yet, so their roles have
// no place to stand; the matrix grows with them.
func TestAuthorizationMatrix(t *testing.T) {
	root := admin(t)
	d1 := createDistributor(t, root, unique("Matrix D1"))
	d2 := createDistributor(t, root, unique("Matrix D2"))
	p1 := createPartner(t, root, d1.ID, unique("Matrix P1"))
	p1b := createPartner(t, root, d1.ID, unique("Matrix P1b"))
	p2 := createPartner(t, root, d2.ID, unique("Matrix P2"))
	distAdmin, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d1.ID))
	partnerAdmin, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p1.ID))
	callers := map[tree.Role]string{tree.RolePlatformAdmin: root, tree.RoleDistributorAdmin: distAdmin, tree.RolePartnerAdmin: partnerAdmin}

	stale := map[string]string{"If-Match": `"999"`}
	// byID lists the operations on one thing of a resource, each with the status an
	// allowed caller gets from its harmless request.
	type operation struct {
		op   string
		make func(id string) req
		ok   int
	}
	byID := func(resource string) []operation {
		return []operation{
			{"get", func(id string) req { return req{method: "GET", path: "/v1/" + resource + "/" + id} }, 200},
			{"update", func(id string) req {
				return req{method: "PATCH", path: "/v1/" + resource + "/" + id, body: map[string]string{"name": "Never"}, header: stale}
			}, 412},
			{"suspend", func(id string) req {
				return req{method: "POST", path: "/v1/" + resource + "/" + id + "/suspend", header: stale}
			}, 412},
			{"enable", func(id string) req {
				return req{method: "POST", path: "/v1/" + resource + "/" + id + "/enable", header: stale}
			}, 412},
			{"delete", func(id string) req { return req{method: "DELETE", path: "/v1/" + resource + "/" + id, header: stale} }, 412},
		}
	}
	type cell struct {
		role     tree.Role
		position string
		target   string
		allowed  bool
		refusal  int // 403 or 404 when not allowed
	}
	cells := 0
	allowed := 0
	check := func(t *testing.T, route string, c cell, r req, ok int) {
		cells++
		want := c.refusal
		if c.allowed {
			want = ok
			allowed++
		}
		t.Run(fmt.Sprintf("%s as %s on %s", route, c.role, c.position), func(t *testing.T) {
			r.token = callers[c.role]
			if res := do(t, r); res.Status != want {
				t.Fatalf("status %d, want %d: %s", res.Status, want, res.Body)
			}
		})
	}

	// Distributors: platform admins only.
	for _, op := range byID("distributors") {
		for _, c := range []cell{
			{tree.RolePlatformAdmin, "a descendant distributor", d1.ID, true, 0},
			{tree.RoleDistributorAdmin, "its own distributor", d1.ID, false, 403},
			{tree.RoleDistributorAdmin, "a sibling distributor", d2.ID, false, 404},
			{tree.RolePartnerAdmin, "its ancestor distributor", d1.ID, false, 404},
			{tree.RolePartnerAdmin, "a distributor of another branch", d2.ID, false, 404},
		} {
			check(t, "distributors."+op.op, c, op.make(c.target), op.ok)
		}
	}
	for _, c := range []cell{
		{tree.RolePlatformAdmin, "the platform", "", true, 0},
		{tree.RoleDistributorAdmin, "the platform (its ancestor)", "", false, 403},
		{tree.RolePartnerAdmin, "the platform (its ancestor)", "", false, 403},
	} {
		check(t, "distributors.create", c, req{method: "POST", path: "/v1/distributors", body: map[string]string{"name": ""}}, 400)
		check(t, "distributors.list", c, req{method: "GET", path: "/v1/distributors"}, 200)
	}

	// Partners: distributor admins and above, within their branch.
	for _, op := range byID("partners") {
		for _, c := range []cell{
			{tree.RolePlatformAdmin, "a partner two levels down", p1.ID, true, 0},
			{tree.RoleDistributorAdmin, "a descendant partner", p1.ID, true, 0},
			{tree.RoleDistributorAdmin, "a partner of another branch", p2.ID, false, 404},
			{tree.RolePartnerAdmin, "its own partner", p1.ID, false, 403},
			{tree.RolePartnerAdmin, "a sibling partner", p1b.ID, false, 404},
			{tree.RolePartnerAdmin, "a partner of another branch", p2.ID, false, 404},
		} {
			check(t, "partners."+op.op, c, op.make(c.target), op.ok)
		}
	}
	for _, c := range []cell{
		{tree.RolePlatformAdmin, "a descendant distributor", d1.ID, true, 0},
		{tree.RoleDistributorAdmin, "its own distributor", d1.ID, true, 0},
		{tree.RoleDistributorAdmin, "a sibling distributor", d2.ID, false, 404},
		{tree.RolePartnerAdmin, "its ancestor distributor", d1.ID, false, 403},
		{tree.RolePartnerAdmin, "a distributor of another branch", d2.ID, false, 403},
	} {
		check(t, "partners.create", c, req{method: "POST", path: "/v1/partners", body: map[string]string{"distributorId": c.target, "name": ""}}, 400)
		check(t, "partners.list", c, req{method: "GET", path: "/v1/partners?distributorId=" + c.target}, 200)
	}

	// Every user reads their own profile; every admin their own subtree's audit log.
	for role := range callers {
		check(t, "me.get", cell{role, "itself", "", true, 0}, req{method: "GET", path: "/v1/me"}, 200)
		check(t, "audit-logs.list", cell{role, "its own node", "", true, 0}, req{method: "GET", path: "/v1/audit-logs?limit=1"}, 200)
	}
	t.Logf("authorization matrix: %d cells (routes × roles × positions), %d allow", cells, allowed)
}
