package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

func ids(ns []node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestOrganizations covers an organization's fields, lifecycle and the lists a
// partner, distributor and platform admin see.
func TestOrganizations(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Org D"))
	other := createDistributor(t, root, unique("Org D other"))
	p1 := createPartner(t, root, d.ID, unique("Org P1"))
	p2 := createPartner(t, root, d.ID, unique("Org P2"))
	px := createPartner(t, root, other.ID, unique("Org PX"))
	dAdmin, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d.ID))
	p1Admin, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p1.ID))
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)

	a := createOrganization(t, p1Admin, p1.ID, "Alpha "+tag)
	b := create(t, p1Admin, "organizations", map[string]any{
		"partnerId": p1.ID, "name": "Beta " + tag, "tier": "paid", "mfaRequired": true, "overridePsps": false, "contactEmail": "ops@beta.example",
	})
	c := createOrganization(t, dAdmin, p2.ID, "Alpine "+tag)
	x := createOrganization(t, root, px.ID, "Alpha "+tag)

	t.Run("a new organization is approved, with the defaults and its ancestors' ids", func(t *testing.T) {
		if a.Status != "approved" || a.Tier != "free" || a.MFARequired == nil || *a.MFARequired || a.OverridePsps == nil || !*a.OverridePsps ||
			a.PartnerID != p1.ID || a.DistributorID != d.ID || a.Version != 1 || !nodes.ValidID(tree.KindOrganization, a.ID) {
			t.Fatalf("organization %+v", a)
		}
		if b.Tier != "paid" || !*b.MFARequired || *b.OverridePsps || b.ContactEmail != "ops@beta.example" {
			t.Fatalf("organization %+v", b)
		}
	})
	t.Run("bad fields are named, all at once", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/organizations", token: root, body: map[string]any{
			"partnerId": p1.ID, "name": unique("Bad"), "tier": "gold", "mfaRequired": "yes", "colour": "red",
		}})
		p := res.problem(t, 400, "validation")
		p.field(t, "tier")
		p.field(t, "mfaRequired")
		p.field(t, "colour")
	})
	t.Run("a partner admin lists its own organizations without naming the partner", func(t *testing.T) {
		got := listNodes(t, p1Admin, "/v1/organizations?q="+urlq("al")+"&limit=1")
		if want := []string{a.ID}; !slices.Equal(ids(got), want) {
			// q is a prefix of the name: "Alpha …" only, not "Beta".
			t.Fatalf("got %v, want %v", ids(got), want)
		}
	})
	t.Run("a distributor admin lists across its partners, sorted by name", func(t *testing.T) {
		got := listNodes(t, dAdmin, "/v1/organizations?q="+urlq("al")+"&limit=1")
		if names := []string{got[0].Name, got[1].Name}; len(got) != 2 || names[0] != "Alpha "+tag || names[1] != "Alpine "+tag {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("a platform admin lists every branch, or one distributor's, or one partner's", func(t *testing.T) {
		if got := ids(listNodes(t, root, "/v1/organizations?q="+urlq("alp")+"&limit=100")); !slices.Contains(got, x.ID) || !slices.Contains(got, a.ID) || !slices.Contains(got, c.ID) {
			t.Fatalf("platform list %v lacks %s, %s or %s", got, a.ID, c.ID, x.ID)
		}
		if got, want := ids(listNodes(t, root, "/v1/organizations?distributorId="+d.ID)), sorted(a.ID, b.ID, c.ID); !slices.Equal(got, want) {
			t.Fatalf("distributor list %v, want %v", got, want)
		}
		if got, want := ids(listNodes(t, root, "/v1/organizations?partnerId="+p2.ID)), []string{c.ID}; !slices.Equal(got, want) {
			t.Fatalf("partner list %v, want %v", got, want)
		}
	})
	t.Run("the platform's sharded list pages every organization once, in name order", func(t *testing.T) {
		// The platform-wide partitions are split into nodes.PlatformShards shards; a
		// page merges them. Names of one prefix land in every shard (ids hash apart).
		prefix := "Shard " + tag
		var want []string
		for i := range 9 {
			o := createOrganization(t, p1Admin, p1.ID, fmt.Sprintf("%s %02d", prefix, 8-i))
			want = append(want, o.Name)
		}
		slices.Reverse(want) // created from 08 down to 00
		names := func(ns []node) []string {
			out := make([]string, len(ns))
			for i, n := range ns {
				out[i] = n.Name
			}
			return out
		}
		for _, limit := range []int{1, 2, 4, 100} {
			if got := names(listNodes(t, root, fmt.Sprintf("/v1/organizations?q=%s&limit=%d", urlq(prefix), limit))); !slices.Equal(got, want) {
				t.Fatalf("limit %d: got %v, want %v", limit, got, want)
			}
		}
		if got := names(listNodes(t, root, "/v1/organizations?q="+urlq(prefix)+"&status=approved&limit=3")); !slices.Equal(got, want) {
			t.Fatalf("by status: got %v, want %v", got, want)
		}
	})
	t.Run("a partner filter outside the caller's branch is a 404, like a missing partner", func(t *testing.T) {
		foreign := do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + px.ID, token: dAdmin})
		missing := do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + nodes.NewID(tree.KindPartner), token: dAdmin})
		foreign.problem(t, 404, "not-found")
		if string(foreign.Body) != string(missing.Body) {
			t.Fatalf("answers differ:\n%s\n%s", foreign.Body, missing.Body)
		}
		do(t, req{method: "GET", path: "/v1/organizations?distributorId=" + d.ID, token: p1Admin}).problem(t, 404, "not-found")
	})
	t.Run("partner and distributor filters are not combined", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + p1.ID + "&distributorId=" + d.ID, token: root}).problem(t, 400, "validation")
		do(t, req{method: "GET", path: "/v1/organizations?status=active", token: root}).problem(t, 400, "validation").field(t, "status")
	})
	t.Run("deactivate only an approved organization, then reactivate it", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/organizations/" + b.ID + "/reactivate", token: p1Admin})
		res.problem(t, 409, "invalid-transition")
		var got node
		do(t, req{method: "POST", path: "/v1/organizations/" + b.ID + "/deactivate", token: p1Admin}).json(t, &got)
		if got.Status != "deactivated" || got.Version != b.Version+1 {
			t.Fatalf("after deactivate %+v", got)
		}
		do(t, req{method: "POST", path: "/v1/organizations/" + b.ID + "/deactivate", token: p1Admin}).problem(t, 409, "invalid-transition")
		for _, path := range []string{"/v1/organizations?status=deactivated", "/v1/organizations?partnerId=" + p1.ID + "&status=deactivated", "/v1/organizations?distributorId=" + d.ID + "&status=deactivated"} {
			eventuallyListed(t, root, path, b.ID, true)
		}
		eventuallyListed(t, dAdmin, "/v1/organizations?status=approved", b.ID, false)
		do(t, req{method: "POST", path: "/v1/organizations/" + b.ID + "/reactivate", token: p1Admin}).json(t, &got)
		if got.Status != "approved" {
			t.Fatalf("after reactivate %+v", got)
		}
	})
	t.Run("a deactivated organization blocks its users at once", func(t *testing.T) {
		orgAdmin, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, a.ID))
		do(t, req{method: "GET", path: "/v1/organizations/" + a.ID, token: orgAdmin}).json(t, &node{})
		var got node
		do(t, req{method: "POST", path: "/v1/organizations/" + a.ID + "/deactivate", token: root}).json(t, &got)
		do(t, req{method: "GET", path: "/v1/me", token: orgAdmin}).problem(t, 403, "branch-suspended")
		do(t, req{method: "POST", path: "/v1/organizations/" + a.ID + "/reactivate", token: root}).json(t, &got)
		do(t, req{method: "GET", path: "/v1/organizations/" + a.ID, token: orgAdmin}).json(t, &node{})
	})
	t.Run("an organization admin reads its organization but may not change it", func(t *testing.T) {
		orgAdmin, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, c.ID))
		do(t, req{method: "PATCH", path: "/v1/organizations/" + c.ID, token: orgAdmin, body: map[string]any{"tier": "poc"}}).problem(t, 403, "forbidden")
		do(t, req{method: "GET", path: "/v1/organizations/" + a.ID, token: orgAdmin}).problem(t, 404, "not-found")
	})
	t.Run("update changes the own fields, null removes the contact email", func(t *testing.T) {
		var got node
		res := do(t, req{method: "PATCH", path: "/v1/organizations/" + c.ID, token: dAdmin, header: map[string]string{"If-Match": `"1"`},
			body: map[string]any{"tier": "poc", "mfaRequired": true, "contactEmail": "it@c.example"}})
		res.json(t, &got)
		if got.Tier != "poc" || !*got.MFARequired || got.ContactEmail != "it@c.example" || got.Version != 2 || got.Name != c.Name {
			t.Fatalf("after update %+v", got)
		}
		do(t, req{method: "PATCH", path: "/v1/organizations/" + c.ID, token: dAdmin, header: map[string]string{"If-Match": `"1"`},
			body: map[string]any{"tier": "paid"}}).problem(t, 412, "stale")
		got = node{} // a field the answer leaves out must not survive from the last one
		do(t, req{method: "PATCH", path: "/v1/organizations/" + c.ID, token: dAdmin, body: map[string]any{"contactEmail": nil}}).json(t, &got)
		if got.ContactEmail != "" || got.Tier != "poc" {
			t.Fatalf("after removing the contact email %+v", got)
		}
		do(t, req{method: "PATCH", path: "/v1/organizations/" + c.ID, token: dAdmin, body: map[string]any{"tier": nil}}).problem(t, 400, "validation").field(t, "tier")
	})
}

// TestCompaniesAndEndUsers covers the two lowest levels: virtual companies, end users
// known by email, and who below the organization may do what.
func TestCompaniesAndEndUsers(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Cmp D"))
	p := createPartner(t, root, d.ID, unique("Cmp P"))
	org := createOrganization(t, root, p.ID, unique("Cmp O"))
	org2 := createOrganization(t, root, p.ID, unique("Cmp O2"))
	orgAdmin, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, org.ID))

	shop := createCompany(t, orgAdmin, org.ID, unique("Shop"))
	store := create(t, orgAdmin, "companies", map[string]any{"organizationId": org.ID, "name": unique("Storefront"), "virtual": true})
	cmpAdmin, _ := userAt(t, tree.RoleCompanyAdmin, nodeOf(t, shop.ID))

	t.Run("a company names its ancestors and is not virtual unless asked", func(t *testing.T) {
		if shop.OrganizationID != org.ID || shop.PartnerID != p.ID || shop.DistributorID != d.ID || shop.Status != "active" || shop.Virtual == nil || *shop.Virtual {
			t.Fatalf("company %+v", shop)
		}
		if !*store.Virtual {
			t.Fatalf("company %+v", store)
		}
	})
	t.Run("an organization admin lists its companies, filtered by the virtual flag", func(t *testing.T) {
		if got, want := ids(listNodes(t, orgAdmin, "/v1/companies?limit=1")), sorted(shop.ID, store.ID); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if got := ids(listNodes(t, orgAdmin, "/v1/companies?virtual=true")); !slices.Equal(got, []string{store.ID}) {
			t.Fatalf("virtual only: %v", got)
		}
		do(t, req{method: "GET", path: "/v1/companies?virtual=yes", token: orgAdmin}).problem(t, 400, "validation").field(t, "virtual")
		do(t, req{method: "GET", path: "/v1/companies?organizationId=" + org2.ID, token: orgAdmin}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/companies", token: root}).problem(t, 400, "validation").field(t, "organizationId")
	})
	t.Run("a company cannot be created under someone else's organization", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/companies", token: orgAdmin, body: map[string]any{"organizationId": org2.ID, "name": unique("x")}}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/companies", token: orgAdmin, body: map[string]any{"organizationId": p.ID, "name": unique("x")}}).problem(t, 400, "validation").field(t, "organizationId")
	})
	t.Run("company staff read their company, not its sibling, and may not create companies", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/companies/" + shop.ID, token: cmpAdmin}).json(t, &node{})
		do(t, req{method: "GET", path: "/v1/companies/" + store.ID, token: cmpAdmin}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/companies", token: cmpAdmin, body: map[string]any{"organizationId": org.ID, "name": unique("x")}}).problem(t, 403, "forbidden")
	})

	eu := createEndUser(t, cmpAdmin, shop.ID, "Erin."+strconv.FormatInt(time.Now().UnixNano(), 36)+"@Example.com")
	t.Run("an end user is known by email, unique in its company whatever the case", func(t *testing.T) {
		if eu.CompanyID != shop.ID || eu.OrganizationID != org.ID || eu.Status != "active" || eu.FirstName != "Erin" || !nodes.ValidID(tree.KindEndUser, eu.ID) {
			t.Fatalf("end user %+v", eu)
		}
		res := do(t, req{method: "POST", path: "/v1/end-users", token: cmpAdmin, body: map[string]any{"companyId": shop.ID, "email": eu.Email, "firstName": "A", "lastName": "B"}})
		res.problem(t, 409, "name-taken").field(t, "email")
		createEndUser(t, orgAdmin, store.ID, eu.Email) // another company may have it
		do(t, req{method: "POST", path: "/v1/end-users", token: cmpAdmin, body: map[string]any{"companyId": shop.ID, "email": "not-an-email", "firstName": ""}}).problem(t, 400, "validation").field(t, "email")
	})
	t.Run("end users are searched by email prefix and filtered by status", func(t *testing.T) {
		if got := ids(listNodes(t, cmpAdmin, "/v1/end-users?q="+urlq("erin.")+"&status=active")); !slices.Equal(got, []string{eu.ID}) {
			t.Fatalf("got %v", got)
		}
		var got node
		do(t, req{method: "POST", path: "/v1/end-users/" + eu.ID + "/deactivate", token: cmpAdmin}).json(t, &got)
		if got.Status != "deactivated" {
			t.Fatalf("after deactivate %+v", got)
		}
		eventuallyListed(t, cmpAdmin, "/v1/end-users?status=deactivated", eu.ID, true)
		do(t, req{method: "POST", path: "/v1/end-users/" + eu.ID + "/reactivate", token: cmpAdmin}).json(t, &got)
		do(t, req{method: "PATCH", path: "/v1/end-users/" + eu.ID, token: cmpAdmin, body: map[string]any{"lastName": "Renamed"}}).json(t, &got)
		if got.LastName != "Renamed" || got.Email != eu.Email {
			t.Fatalf("after update %+v", got)
		}
	})
	t.Run("a node with children is not deleted, and says what is below it", func(t *testing.T) {
		eventually(t, 10*time.Second, func() error {
			res := do(t, req{method: "DELETE", path: "/v1/companies/" + shop.ID, token: orgAdmin})
			res.problem(t, 409, "has-children")
			var body struct {
				Children map[string]map[string]int `json:"children"`
			}
			if err := json.Unmarshal(res.Body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Children["end_user"]["active"] != 1 {
				return fmt.Errorf("children %v", body.Children)
			}
			return nil
		})
		do(t, req{method: "DELETE", path: "/v1/end-users/" + eu.ID, token: cmpAdmin}).expect(t, 204)
		do(t, req{method: "DELETE", path: "/v1/companies/" + shop.ID, token: orgAdmin}).expect(t, 204)
	})
}

// TestTreeIntegrityUnderConcurrency races what must not both succeed.
func TestTreeIntegrityUnderConcurrency(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Race D"))
	p := createPartner(t, root, d.ID, unique("Race P"))
	org := createOrganization(t, root, p.ID, unique("Race O"))

	t.Run("of 20 parallel creates with one name under one parent exactly one wins", func(t *testing.T) {
		name := unique("Same")
		statuses := concurrently(t, 20, func(int) req {
			return req{method: "POST", path: "/v1/companies", token: root, body: map[string]any{"organizationId": org.ID, "name": name}}
		})
		if n := count(statuses, 201); n != 1 || count(statuses, 409) != 19 {
			t.Fatalf("statuses %v", statuses)
		}
		if got := nodeOf(t, org.ID).Children; got != 1 {
			t.Fatalf("the organization counts %d children, want 1", got)
		}
	})
	t.Run("every level's create honours Idempotency-Key", func(t *testing.T) {
		company := createCompany(t, root, org.ID, unique("Idem C"))
		for _, c := range []struct{ resource, parentField, parentID, nameField string }{
			{"partners", "distributorId", d.ID, "name"},
			{"organizations", "partnerId", p.ID, "name"},
			{"companies", "organizationId", org.ID, "name"},
			{"end-users", "companyId", company.ID, "email"},
		} {
			t.Run(c.resource, func(t *testing.T) {
				key := "idem-" + strconv.FormatInt(time.Now().UnixNano(), 36)
				body := func(name string) map[string]any {
					b := map[string]any{c.parentField: c.parentID, c.nameField: name}
					if c.resource == "end-users" {
						b["firstName"], b["lastName"] = "I", "D"
					}
					return b
				}
				name := key + "@example.com"
				send := func(name string) response {
					return do(t, req{method: "POST", path: "/v1/" + c.resource, token: root, body: body(name), header: map[string]string{"Idempotency-Key": key}})
				}
				first, again := send(name), send(name)
				first.expect(t, 201)
				again.expect(t, 201)
				if string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
					t.Fatalf("replay differs:\n%s\n%s", first.Body, again.Body)
				}
				send("other-"+name).problem(t, 422, "idempotency-key-reused")
			})
		}
	})
	t.Run("concurrent PATCHes of one version: one wins, the others are told", func(t *testing.T) {
		o := createOrganization(t, root, p.ID, unique("Patched"))
		statuses := concurrently(t, 10, func(i int) req {
			return req{method: "PATCH", path: "/v1/organizations/" + o.ID, token: root, header: map[string]string{"If-Match": `"1"`},
				body: map[string]any{"contactEmail": fmt.Sprintf("v%d@example.com", i)}}
		})
		if count(statuses, 200) != 1 || count(statuses, 412) != 9 {
			t.Fatalf("statuses %v", statuses)
		}
		if got := nodeOf(t, o.ID).Version; got != 2 {
			t.Fatalf("version %d after one successful PATCH", got)
		}
	})
	t.Run("a create racing its parent's delete never leaves an orphan", func(t *testing.T) {
		for round := range 5 {
			parent := createOrganization(t, root, p.ID, unique(fmt.Sprintf("Doomed %d", round)))
			statuses := concurrently(t, 2, func(i int) req {
				if i == 0 {
					return req{method: "DELETE", path: "/v1/organizations/" + parent.ID, token: root}
				}
				return req{method: "POST", path: "/v1/companies", token: root, body: map[string]any{"organizationId": parent.ID, "name": unique("Orphan?")}}
			})
			switch {
			case statuses[0] == 204 && statuses[1] == 404: // the delete came first
			case statuses[0] == 409 && statuses[1] == 201: // the create came first
			default:
				t.Fatalf("round %d: delete %d, create %d", round, statuses[0], statuses[1])
			}
		}
	})
}

func count(statuses []int, want int) int {
	n := 0
	for _, s := range statuses {
		if s == want {
			n++
		}
	}
	return n
}

// TestPartnerBranding checks the white-label fields a partner's emails are rendered with.
func TestPartnerBranding(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Brand D"))
	res := do(t, req{method: "POST", path: "/v1/partners", token: root, body: map[string]any{
		"distributorId": d.ID, "name": unique("Brand P"), "brandName": "Northwind Connect",
		"logoUrl": "https://cdn.northwind.example/logo.png", "brandColour": "#0A6CFF", "supportEmail": "help@northwind.example",
	}})
	var p map[string]any
	res.json(t, &p)
	if p["brandName"] != "Northwind Connect" || p["brandColour"] != "#0a6cff" || p["logoUrl"] != "https://cdn.northwind.example/logo.png" || p["supportEmail"] != "help@northwind.example" {
		t.Fatalf("partner %v", p)
	}
	id := p["id"].(string)
	t.Run("a logo must be https and a colour #rrggbb", func(t *testing.T) {
		res := do(t, req{method: "PATCH", path: "/v1/partners/" + id, token: root, body: map[string]any{"logoUrl": "http://x.example/l.png", "brandColour": "blue"}})
		pb := res.problem(t, 400, "validation")
		pb.field(t, "logoUrl")
		pb.field(t, "brandColour")
	})
	t.Run("an empty or null branding field is removed", func(t *testing.T) {
		var after map[string]any
		do(t, req{method: "PATCH", path: "/v1/partners/" + id, token: root, body: map[string]any{"brandName": "", "logoUrl": nil}}).json(t, &after)
		if _, ok := after["brandName"]; ok || after["logoUrl"] != nil || after["brandColour"] != "#0a6cff" {
			t.Fatalf("after removal %v", after)
		}
	})
}
