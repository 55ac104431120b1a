package dashboard

import (
	"encoding/json"
	"strings"
	"testing"

	"opsconsole/shared/counts"
	"opsconsole/shared/tree"
)

func TestBuild(t *testing.T) {
	partner := tree.Node{ID: "prt_p", Kind: tree.KindPartner, Path: []string{tree.PlatformID, "dst_d"}}
	totals := counts.Totals{
		counts.NodeFacet("organization", "approved"): 3, counts.NodeFacet("organization", "pending"): 1,
		counts.NodeFacet("company", "active"): 4, counts.VirtualFacet: 1,
		counts.NodeFacet("end_user", "active"): 5, counts.NodeFacet("end_user", "deactivated"): 2,
		counts.UserFacet("active"): 2, counts.UserFacet("invited"): 1,
		counts.LicenseFacet("agent", "active"): 4, counts.LicenseFacet("agent", "inactive"): 2,
	}
	aa, _ := counts.Series("agent", "active")
	ai, _ := counts.Series("agent", "inactive")
	caller := tree.Caller{Role: tree.RoleDistributorAdmin, Node: tree.Node{ID: "dst_d", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}}}
	v := Build(partner, "P", totals, map[string]int{aa: 1, ai: 2}, 2, caller, "2026-12-02T03:59:58Z", "2026-12-02T04:00:00Z")
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	at := func(path string) map[string]any {
		m := got
		for _, k := range strings.Split(path, ".") {
			next, ok := m[k].(map[string]any)
			if !ok {
				t.Fatalf("no %s in %s", path, raw)
			}
			m = next
		}
		return m
	}
	for path, want := range map[string]struct {
		count int
		href  string
	}{
		"totals.organizations":         {4, "/v1/organizations?partnerId=prt_p"},
		"totals.organizations.pending": {1, "/v1/organizations?partnerId=prt_p&status=pending"},
		"totals.companies":             {4, "/v1/companies?partnerId=prt_p"},
		"totals.companies.virtual":     {1, "/v1/companies?partnerId=prt_p&virtual=true"},
		"totals.endUsers.deactivated":  {2, "/v1/end-users?partnerId=prt_p&status=deactivated"},
		"totals.users":                 {3, "/v1/users?nodeId=prt_p&subtree=true"},
		"totals.users.invited":         {1, "/v1/users?nodeId=prt_p&status=invited&subtree=true"},
		"totals.licenses":              {6, "/v1/licenses?nodeId=prt_p"},
		// Stored active 4, of them 1 expired; stored inactive 2, both expired.
		"totals.licenses.agent.active":               {3, "/v1/licenses?nodeId=prt_p&status=active&type=agent"},
		"totals.licenses.agent.inactive":             {0, "/v1/licenses?nodeId=prt_p&status=inactive&type=agent"},
		"totals.licenses.agent.expired":              {3, "/v1/licenses?nodeId=prt_p&status=expired&type=agent"},
		"totals.licenses.partner_development.active": {0, "/v1/licenses?nodeId=prt_p&status=active&type=partner_development"},
		"activeAdmins":                               {2, "/v1/users?nodeId=prt_p&status=active"},
	} {
		m := at(path)
		if int(m["count"].(float64)) != want.count || m["href"] != want.href {
			t.Errorf("%s = %v %v, want %d %s", path, m["count"], m["href"], want.count, want.href)
		}
	}
	for _, absent := range []string{"distributors", "partners"} {
		if _, ok := got["totals"].(map[string]any)[absent]; ok {
			t.Errorf("a partner's dashboard has %s", absent)
		}
	}
	var ids []string
	for _, a := range v.QuickActions {
		ids = append(ids, a.ID+"/"+a.LicenseType)
	}
	if strings.Join(ids, " ") != "create-license/partner_development create-license/partner_profile create-license/agent invite-user/ create-organization/" {
		t.Errorf("quick actions %v", ids)
	}
}

func TestQuickActionsFollowThePolicy(t *testing.T) {
	org := tree.Node{ID: "org_o", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_d", "prt_p"}}
	company := tree.Node{ID: "cmp_c", Kind: tree.KindCompany, Path: org.Lineage()}
	platform := tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}
	root := tree.Caller{Role: tree.RolePlatformAdmin, Node: platform}
	orgAdmin := tree.Caller{Role: tree.RoleOrganizationAdmin, Node: org}
	tests := []struct {
		name   string
		node   tree.Node
		caller tree.Caller
		want   string
	}{
		{"the platform: no licenses of its own, users and distributors", platform, root, "invite-user create-distributor"},
		{"a company: no licenses", company, root, "invite-user create-end_user"},
		{"an organization admin creates no license", org, orgAdmin, "invite-user create-company"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			for _, a := range QuickActions(tc.node, tc.caller) {
				ids = append(ids, a.ID)
			}
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("actions %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadQuery(t *testing.T) {
	for raw, wantErr := range map[string]bool{
		"": false, "nodeId=platform": false, "nodeId=prt_01jh4m5q7n3d9z8s6u4v2x1y0w": false,
		"nodeId=eu_01jh4m5q7n3d9z8s6u4v2x1y0w": true, "nodeId=x": true, "limit=1": true,
		"nodeId=platform&nodeId=platform": true, "%zz": true,
	} {
		if _, err := readQuery(raw, "platform"); (err != nil) != wantErr {
			t.Errorf("readQuery(%q) = %v", raw, err)
		}
	}
}

// TestBuildWhileAChangeIsHalfRead gives Build what a BatchGetItem can read in the middle
// of the tree counter's transaction: a license's expiry counted in the trie, its
// totals not yet. No count goes below zero, and the parts still add up to the total.
func TestBuildWhileAChangeIsHalfRead(t *testing.T) {
	org := tree.Node{ID: "org_o", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_d", "prt_p"}}
	aa, _ := counts.Series("agent", "active")
	for _, tc := range []struct {
		name                  string
		stored, expired       int
		active, expiredWanted int
	}{
		{"the trie ahead of an empty totals item", 0, 1, 0, 0},
		{"the trie one ahead", 2, 3, 0, 2},
		{"both read after the change", 3, 1, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Build(org, "O", counts.Totals{counts.LicenseFacet("agent", "active"): tc.stored}, map[string]int{aa: tc.expired},
				0, tree.Caller{Role: tree.RolePlatformAdmin, Node: tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}}, "", "")
			agent := v.Totals["licenses"].Parts["agent"]
			active, expired := agent.Parts["active"].Count, agent.Parts["expired"].Count
			if active != tc.active || expired != tc.expiredWanted {
				t.Errorf("active %d, expired %d; want %d, %d", active, expired, tc.active, tc.expiredWanted)
			}
			if sum := active + expired + agent.Parts["inactive"].Count; sum != agent.Count {
				t.Errorf("the parts add up to %d, the total is %d", sum, agent.Count)
			}
		})
	}
}
