package e2e

import (
	"fmt"
	"testing"
	"time"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

type partnerPage struct {
	Items      []partner `json:"items"`
	NextCursor *string   `json:"nextCursor"`
}

func nodeOf(t testing.TB, id string) nodes.Item {
	t.Helper()
	it, err := nodes.Get(t0(), st, id)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// TestPartnersAcrossTheTree sets up two distributors, each with partners, and users at
// several positions, and checks what each may do: a distributor admin manages the
// partners below it; anything in another branch answers exactly like a missing thing.
func TestPartnersAcrossTheTree(t *testing.T) {
	root := admin(t)
	start := time.Now().Add(-time.Second)
	d1 := createDistributor(t, root, unique("Tree D1"))
	d2 := createDistributor(t, root, unique("Tree D2"))
	d1Admin, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d1.ID))
	d2Admin, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d2.ID))

	p1 := createPartner(t, d1Admin, d1.ID, unique("Tree P1"))
	p1b := createPartner(t, root, d1.ID, unique("Tree P1b"))
	p2 := createPartner(t, d2Admin, d2.ID, unique("Tree P2"))
	p1Admin, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p1.ID))

	t.Run("a created partner names its distributor", func(t *testing.T) {
		if p1.DistributorID != d1.ID || p1.Status != "active" || p1.Version != 1 || !nodes.ValidID(tree.KindPartner, p1.ID) {
			t.Fatalf("partner %+v", p1)
		}
	})
	t.Run("a distributor admin cannot create under another distributor, and the 404 reads like a missing one", func(t *testing.T) {
		foreign := do(t, req{method: "POST", path: "/v1/partners", token: d1Admin, body: map[string]string{"distributorId": d2.ID, "name": unique("x")}})
		missing := do(t, req{method: "POST", path: "/v1/partners", token: d1Admin, body: map[string]string{"distributorId": nodes.NewID(tree.KindDistributor), "name": unique("x")}})
		foreign.problem(t, 404, "not-found")
		missing.problem(t, 404, "not-found")
		if string(foreign.Body) != string(missing.Body) {
			t.Fatalf("the answers differ:\n%s\n%s", foreign.Body, missing.Body)
		}
	})
	t.Run("the parent is required and must be a distributor's id", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/partners", token: root, body: map[string]string{"name": unique("x")}}).problem(t, 400, "validation").field(t, "distributorId")
		do(t, req{method: "POST", path: "/v1/partners", token: root, body: map[string]string{"name": unique("x"), "distributorId": p1.ID}}).problem(t, 400, "validation").field(t, "distributorId")
	})
	t.Run("names are unique within a distributor, not across distributors", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/partners", token: root, body: map[string]string{"distributorId": d1.ID, "name": p1.Name}}).problem(t, 409, "name-taken")
		same := createPartner(t, root, d2.ID, p1.Name)
		do(t, req{method: "DELETE", path: "/v1/partners/" + same.ID, token: root})
	})
	t.Run("a distributor admin lists its own partners by default; another distributor's list is 404", func(t *testing.T) {
		var page partnerPage
		do(t, req{method: "GET", path: "/v1/partners", token: d1Admin}).json(t, &page)
		if len(page.Items) != 2 || page.Items[0].DistributorID != d1.ID {
			t.Fatalf("listed %+v", page.Items)
		}
		do(t, req{method: "GET", path: "/v1/partners?distributorId=" + d2.ID, token: d1Admin}).problem(t, 404, "not-found")
	})
	t.Run("a platform admin names the distributor to list, or lists the whole platform's", func(t *testing.T) {
		eventuallyListed(t, root, "/v1/partners?limit=100&status=active", p2.ID, true)
		do(t, req{method: "GET", path: "/v1/partners?q=x", token: root}).problem(t, 400, "validation").field(t, "q")
		var page partnerPage
		do(t, req{method: "GET", path: "/v1/partners?distributorId=" + d2.ID, token: root}).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != p2.ID {
			t.Fatalf("listed %+v", page.Items)
		}
	})

	positions := []struct {
		name, token, id string
		status          int
	}{
		{"platform admin on a partner two levels down", root, p1.ID, 200},
		{"distributor admin on its partner", d1Admin, p1.ID, 200},
		{"distributor admin on another branch's partner", d2Admin, p1.ID, 404},
		{"partner admin on its own partner", p1Admin, p1.ID, 403},
		{"partner admin on a sibling partner", p1Admin, p1b.ID, 404},
		{"partner admin on another branch's partner", p1Admin, p2.ID, 404},
		{"anyone on an id of the wrong kind", root, d1.ID, 404},
	}
	for _, pos := range positions {
		t.Run("get: "+pos.name, func(t *testing.T) {
			res := do(t, req{method: "GET", path: "/v1/partners/" + pos.id, token: pos.token})
			if res.Status != pos.status {
				t.Fatalf("status %d, want %d: %s", res.Status, pos.status, res.Body)
			}
		})
		if pos.status != 200 {
			t.Run("update: "+pos.name, func(t *testing.T) {
				res := do(t, req{method: "PATCH", path: "/v1/partners/" + pos.id, token: pos.token, body: map[string]string{"name": "Hijacked"}})
				if res.Status != pos.status {
					t.Fatalf("status %d, want %d: %s", res.Status, pos.status, res.Body)
				}
			})
		}
	}
	t.Run("a partner admin may not create or list partners", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/partners", token: p1Admin, body: map[string]string{"distributorId": d1.ID, "name": unique("x")}}).problem(t, 403, "forbidden")
		do(t, req{method: "GET", path: "/v1/partners", token: p1Admin}).problem(t, 403, "forbidden")
	})
	t.Run("a distributor with partners is not deleted", func(t *testing.T) {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + d1.ID, token: root}).problem(t, 409, "has-children")
	})
	t.Run("suspending the partner, or the distributor above it, blocks the partner admin at once", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/partners/" + p1.ID + "/suspend", token: d1Admin}).json(t, &partner{})
		do(t, req{method: "GET", path: "/v1/me", token: p1Admin}).problem(t, 403, "branch-suspended")
		do(t, req{method: "POST", path: "/v1/partners/" + p1.ID + "/enable", token: d1Admin}).json(t, &partner{})
		do(t, req{method: "GET", path: "/v1/me", token: p1Admin}).json(t, &map[string]any{})
		do(t, req{method: "POST", path: "/v1/distributors/" + d1.ID + "/suspend", token: root}).json(t, &distributor{})
		do(t, req{method: "GET", path: "/v1/me", token: p1Admin}).problem(t, 403, "branch-suspended")
		do(t, req{method: "POST", path: "/v1/distributors/" + d1.ID + "/enable", token: root}).json(t, &distributor{})
	})
	t.Run("partner changes reach the distributor's audit log and not another's", func(t *testing.T) {
		eventually(t, 10*time.Second, func() error {
			if got := actions(auditOf(t, d1Admin, p1.ID, start)); got != "partner.enabled,partner.suspended,partner.created" {
				return fmt.Errorf("d1 sees %q", got)
			}
			return nil
		})
		if n := len(auditOf(t, d2Admin, p1.ID, start)); n != 0 {
			t.Fatalf("another distributor's admin sees %d entries", n)
		}
	})
	t.Run("partners deleted, the distributor can be", func(t *testing.T) {
		for _, p := range []partner{p1, p1b} {
			if res := do(t, req{method: "DELETE", path: "/v1/partners/" + p.ID, token: d1Admin}); res.Status != 204 {
				t.Fatalf("delete partner: %d %s", res.Status, res.Body)
			}
		}
		if res := do(t, req{method: "DELETE", path: "/v1/distributors/" + d1.ID, token: root}); res.Status != 204 {
			t.Fatalf("delete distributor: %d %s", res.Status, res.Body)
		}
	})
}
