package e2e

import (
	"testing"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// gatewayNotFound is what the local API Gateway answers, like API Gateway's HTTP APIs,
// for a path or method no route declares: before any token check or function.
const gatewayNotFound = `{"message":"Not Found"}`

// TestIsolationAtTheEdges covers what the matrix's cells do not: methods swapped on
// real paths, routes that do not exist, ids of the wrong type in paths, ids from
// another branch in bodies and queries (each answered byte for byte like a missing id
// of the same kind, so that nothing reveals that the foreign one exists), and parent
// ids of the wrong kind. Every request is harmless: creates carry an empty name.
func TestIsolationAtTheEdges(t *testing.T) {
	w := matrixFixture(t)
	id := func(label string) string { return w.node[label].id }
	root := w.token[tree.RolePlatformAdmin]

	t.Run("methods swapped on real paths and unknown routes are the gateway's 404", func(t *testing.T) {
		for _, r := range []req{
			// Method swaps.
			{method: "PUT", path: "/v1/organizations/" + id("O1")},
			{method: "DELETE", path: "/v1/organizations"},
			{method: "PATCH", path: "/v1/organizations"},
			{method: "POST", path: "/v1/companies/" + id("C1")},
			{method: "PUT", path: "/v1/companies/" + id("C1")},
			{method: "DELETE", path: "/v1/end-users"},
			{method: "GET", path: "/v1/end-users/" + id("E1") + "/deactivate"},
			{method: "DELETE", path: "/v1/organizations/" + id("O1") + "/deactivate"},
			{method: "PATCH", path: "/v1/partners"},
			{method: "POST", path: "/v1/distributors/" + id("D1")},
			{method: "POST", path: "/v1/me"},
			{method: "DELETE", path: "/v1/audit-logs"},
			// Unknown routes, and actions a level does not have.
			{method: "GET", path: "/v1/nope"},
			{method: "POST", path: "/v1/nope"},
			{method: "POST", path: "/v1/organizations/" + id("O1") + "/enable"},
			{method: "POST", path: "/v1/organizations/" + id("O1") + "/suspend"},
			{method: "POST", path: "/v1/companies/" + id("C1") + "/deactivate"},
			{method: "POST", path: "/v1/distributors/" + id("D1") + "/deactivate"},
			{method: "POST", path: "/v1/end-users/" + id("E1") + "/suspend"},
			{method: "GET", path: "/v1/organizations/" + id("O1") + "/companies"},
			{method: "GET", path: "/v1/Organizations"},
			{method: "GET", path: "/v1/organizations/"},
			{method: "GET", path: "/v2/organizations"},
		} {
			for _, role := range []tree.Role{tree.RolePlatformAdmin, tree.RoleEndUser} {
				t.Run(r.method+" "+r.path+" as "+string(role), func(t *testing.T) {
					r.token, r.undocumented = w.token[role], true
					if r.method == "POST" || r.method == "PUT" || r.method == "PATCH" {
						r.body = map[string]string{"name": ""}
					}
					res := do(t, r)
					if res.Status != 404 || string(res.Body) != gatewayNotFound {
						t.Fatalf("status %d %s, want 404 %s", res.Status, res.Body, gatewayNotFound)
					}
				})
			}
		}
	})

	t.Run("an id of the wrong type in a path is answered like a missing id", func(t *testing.T) {
		for _, c := range []struct {
			resource string
			kind     tree.Kind
			wrong    string // an existing node of another kind, or no id at all
		}{
			{"distributors", tree.KindDistributor, id("P1")},
			{"partners", tree.KindPartner, id("D1")},
			{"organizations", tree.KindOrganization, id("C1")},
			{"organizations", tree.KindOrganization, id("P1")},
			{"companies", tree.KindCompany, id("O1")},
			{"companies", tree.KindCompany, id("E1")},
			{"end-users", tree.KindEndUser, id("C1")},
			{"end-users", tree.KindEndUser, "not-an-id"},
		} {
			t.Run("GET /v1/"+c.resource+"/"+c.wrong, func(t *testing.T) {
				missing := do(t, req{method: "GET", path: "/v1/" + c.resource + "/" + nodes.NewID(c.kind), token: root})
				got := do(t, req{method: "GET", path: "/v1/" + c.resource + "/" + c.wrong, token: root})
				sameAnswer(t, got, missing, 404, "not-found")
			})
		}
		t.Run("DELETE /v1/organizations/<company id>", func(t *testing.T) {
			stale := map[string]string{"If-Match": `"999"`}
			missing := do(t, req{method: "DELETE", path: "/v1/organizations/" + nodes.NewID(tree.KindOrganization), token: root, header: stale})
			got := do(t, req{method: "DELETE", path: "/v1/organizations/" + id("C1"), token: root, header: stale})
			sameAnswer(t, got, missing, 404, "not-found")
		})
	})

	t.Run("an id from another branch in a body or a query is answered like a missing id", func(t *testing.T) {
		for _, c := range []struct {
			name    string
			role    tree.Role
			foreign func(id string) req
			target  string
			kind    tree.Kind
		}{
			{"creating a company under O2 as O1's admin", tree.RoleOrganizationAdmin, func(p string) req {
				return req{method: "POST", path: "/v1/companies", body: map[string]any{"organizationId": p, "name": ""}}
			}, id("O2"), tree.KindOrganization},
			{"creating a company under a sibling organization as O1's admin", tree.RoleOrganizationAdmin, func(p string) req {
				return req{method: "POST", path: "/v1/companies", body: map[string]any{"organizationId": p, "name": ""}}
			}, id("O1b"), tree.KindOrganization},
			{"creating an end user under C2 as C1's admin", tree.RoleCompanyAdmin, func(p string) req {
				return req{method: "POST", path: "/v1/end-users", body: map[string]any{"companyId": p, "email": "", "firstName": "Never", "lastName": "Written"}}
			}, id("C2"), tree.KindCompany},
			{"creating an end user under a sibling company as C1's admin", tree.RoleCompanyAdmin, func(p string) req {
				return req{method: "POST", path: "/v1/end-users", body: map[string]any{"companyId": p, "email": "", "firstName": "Never", "lastName": "Written"}}
			}, id("C1b"), tree.KindCompany},
			{"creating an organization under a sibling partner as P1's admin", tree.RolePartnerAdmin, func(p string) req {
				return req{method: "POST", path: "/v1/organizations", body: map[string]any{"partnerId": p, "name": ""}}
			}, id("P1b"), tree.KindPartner},
			{"creating a partner under D2 as D1's admin", tree.RoleDistributorAdmin, func(p string) req {
				return req{method: "POST", path: "/v1/partners", body: map[string]any{"distributorId": p, "name": ""}}
			}, id("D2"), tree.KindDistributor},
			{"listing O2's companies as O1's admin", tree.RoleOrganizationAdmin, func(p string) req {
				return req{method: "GET", path: "/v1/companies?organizationId=" + p}
			}, id("O2"), tree.KindOrganization},
			{"listing C1b's end users as C1's admin", tree.RoleCompanyAdmin, func(p string) req {
				return req{method: "GET", path: "/v1/end-users?companyId=" + p}
			}, id("C1b"), tree.KindCompany},
			{"listing P2's organizations as D1's admin", tree.RoleDistributorAdmin, func(p string) req {
				return req{method: "GET", path: "/v1/organizations?partnerId=" + p}
			}, id("P2"), tree.KindPartner},
			{"listing D2's organizations as D1's admin", tree.RoleDistributorAdmin, func(p string) req {
				return req{method: "GET", path: "/v1/organizations?distributorId=" + p}
			}, id("D2"), tree.KindDistributor},
			{"listing its own distributor's organizations as P1's admin", tree.RolePartnerAdmin, func(p string) req {
				return req{method: "GET", path: "/v1/organizations?distributorId=" + p}
			}, id("D1"), tree.KindDistributor},
			{"listing D2's partners as D1's admin", tree.RoleDistributorAdmin, func(p string) req {
				return req{method: "GET", path: "/v1/partners?distributorId=" + p}
			}, id("D2"), tree.KindDistributor},
		} {
			t.Run(c.name, func(t *testing.T) {
				foreign, missing := c.foreign(c.target), c.foreign(nodes.NewID(c.kind))
				foreign.token, missing.token = w.token[c.role], w.token[c.role]
				sameAnswer(t, do(t, foreign), do(t, missing), 404, "not-found")
			})
		}
	})

	t.Run("a parent id of the wrong kind is a validation error naming the field", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			role  tree.Role
			r     req
			field string
		}{
			{"a company under a partner", tree.RolePlatformAdmin,
				req{method: "POST", path: "/v1/companies", body: map[string]any{"organizationId": id("P1"), "name": ""}}, "organizationId"},
			{"a company under a partner, as O1's admin", tree.RoleOrganizationAdmin,
				req{method: "POST", path: "/v1/companies", body: map[string]any{"organizationId": id("P1"), "name": ""}}, "organizationId"},
			{"an end user under an organization", tree.RoleCompanyAdmin,
				req{method: "POST", path: "/v1/end-users", body: map[string]any{"companyId": id("O1"), "email": "", "firstName": "Never", "lastName": "Written"}}, "companyId"},
			{"an organization under a distributor", tree.RolePartnerAdmin,
				req{method: "POST", path: "/v1/organizations", body: map[string]any{"partnerId": id("D1"), "name": ""}}, "partnerId"},
			{"a partner under a partner", tree.RoleDistributorAdmin,
				req{method: "POST", path: "/v1/partners", body: map[string]any{"distributorId": id("P1"), "name": ""}}, "distributorId"},
			{"companies listed under a partner", tree.RolePlatformAdmin,
				req{method: "GET", path: "/v1/companies?organizationId=" + id("P1")}, "organizationId"},
			{"end users listed under an organization", tree.RoleOrganizationAdmin,
				req{method: "GET", path: "/v1/end-users?companyId=" + id("O1")}, "companyId"},
			{"organizations listed under a company", tree.RolePlatformAdmin,
				req{method: "GET", path: "/v1/organizations?partnerId=" + id("C1")}, "partnerId"},
		} {
			t.Run(c.name, func(t *testing.T) {
				c.r.token = w.token[c.role]
				do(t, c.r).problem(t, 400, "validation").field(t, c.field)
			})
		}
	})
}

// sameAnswer asserts that got is the refusal status/slug and reads byte for byte like
// missing, the answer about a thing that does not exist.
func sameAnswer(t *testing.T, got, missing response, status int, slug string) {
	t.Helper()
	got.problem(t, status, slug)
	if got.Status != missing.Status || string(got.Body) != string(missing.Body) ||
		got.Header.Get("Content-Type") != missing.Header.Get("Content-Type") {
		t.Fatalf("the answers differ, so existence leaks:\nforeign %d %s\nmissing %d %s", got.Status, got.Body, missing.Status, missing.Body)
	}
}
