package levels

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

func TestReadEdit(t *testing.T) {
	raw := func(s string) body {
		var b body
		if err := json.Unmarshal([]byte(s), &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name      string
		level     Level
		body      string
		creating  bool
		wantErrs  []string
		wantSet   map[string]any
		wantName  string
		wantRemov []string
	}{
		{"a create gets the defaults", Organizations, `{"name":" Acme "}`, true, nil,
			map[string]any{"tier": "free", "mfaRequired": false, "overridePsps": true}, "Acme", nil},
		{"given values win over defaults", Organizations, `{"name":"Acme","tier":"paid","overridePsps":false}`, true, nil,
			map[string]any{"tier": "paid", "mfaRequired": false, "overridePsps": false}, "Acme", nil},
		{"every bad field is named", Organizations, `{"tier":"gold","mfaRequired":"yes","contactEmail":"x"}`, true,
			[]string{"name", "tier", "mfaRequired", "contactEmail"}, nil, "", nil},
		{"a patch sets only what it names", Organizations, `{"tier":"poc"}`, false, nil, map[string]any{"tier": "poc"}, "", nil},
		{"null removes the contact email", Organizations, `{"contactEmail":null}`, false, nil, map[string]any{}, "", []string{"contactEmail"}},
		{"null may not remove a flag", Organizations, `{"mfaRequired":null}`, false, []string{"mfaRequired"}, nil, "", nil},
		{"null may not remove the name", Companies, `{"name":null}`, false, []string{"name"}, nil, "", nil},
		{"a partner's branding is checked", Partners, `{"logoUrl":"http://x.example/l.png","brandColour":"red"}`, false,
			[]string{"logoUrl", "brandColour"}, nil, "", nil},
		{"a partner's branding is normalised", Partners, `{"logoUrl":"https://x.example/l.png","brandColour":"#A0B1C2","brandName":" Acme "}`, false, nil,
			map[string]any{"logoUrl": "https://x.example/l.png", "brandColour": "#a0b1c2", "brandName": "Acme"}, "", nil},
		{"an empty branding field is removed", Partners, `{"brandName":"","logoUrl":null}`, false, nil, map[string]any{}, "", []string{"brandName", "logoUrl"}},
		{"an end user is named by a valid email", EndUsers, `{"email":"a@b.example","firstName":"A","lastName":"B"}`, true, nil,
			map[string]any{"firstName": "A", "lastName": "B"}, "a@b.example", nil},
		{"an end user needs both names", EndUsers, `{"email":"nope"}`, true, []string{"email", "firstName", "lastName"}, nil, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, errs := c.level.readEdit(raw(c.body), c.creating)
			var fields []string
			for _, fe := range errs {
				fields = append(fields, fe.Field)
			}
			slices.Sort(fields)
			want := slices.Clone(c.wantErrs)
			slices.Sort(want)
			if !slices.Equal(fields, want) {
				t.Fatalf("errors name %v, want %v (%+v)", fields, want, errs)
			}
			if len(want) > 0 {
				return
			}
			if c.wantName != "" && (e.name == nil || *e.name != c.wantName) {
				t.Fatalf("name %v, want %q", e.name, c.wantName)
			}
			if len(e.set) != len(c.wantSet) {
				t.Fatalf("set %v, want %v", e.set, c.wantSet)
			}
			for k, v := range c.wantSet {
				if e.set[k] != v {
					t.Fatalf("set %v, want %v", e.set, c.wantSet)
				}
			}
			if !slices.Equal(e.remove, c.wantRemov) {
				t.Fatalf("remove %v, want %v", e.remove, c.wantRemov)
			}
		})
	}
}

func TestUnknownFields(t *testing.T) {
	b := body{"name": nil, "colour": nil, "partnerId": nil}
	got := unknown(b, append(Organizations.fieldNames(), "partnerId")...)
	if len(got) != 1 || got[0].Field != "colour" {
		t.Fatalf("unknown = %+v", got)
	}
}

func TestListIndex(t *testing.T) {
	platform := tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}
	dist := tree.Node{ID: "dst_d", Kind: tree.KindDistributor}
	part := tree.Node{ID: "prt_p", Kind: tree.KindPartner}
	org := tree.Node{ID: "org_o", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_d", "prt_p"}}
	part.Path = []string{tree.PlatformID, "dst_d"}
	cases := []struct {
		name      string
		level     Level
		scope     tree.Node
		filter    string
		byFilter  bool
		wantIndex string
		want      []string
		prefix    string
	}{
		{"distributors under the platform", Distributors, platform, "", false, "GSI1", []string{"CHILDREN#platform#distributor"}, ""},
		{"organizations of a partner", Organizations, part, "", false, "GSI1", []string{"CHILDREN#prt_p#organization"}, ""},
		{"organizations of a partner by status", Organizations, part, "approved", true, "GSI2", []string{"CHILDREN#prt_p#organization#approved"}, ""},
		{"organizations across a distributor", Organizations, dist, "", false, "GSI3", []string{"BRANCH#dst_d#organization"}, ""},
		{"organizations across a distributor by status", Organizations, dist, "pending", true, "GSI4", []string{"BRANCH#dst_d#organization#pending"}, ""},
		{"organizations across the platform", Organizations, platform, "", false, "GSI5", []string{"BRANCH#platform#organization#s0", "BRANCH#platform#organization#s1", "BRANCH#platform#organization#s2", "BRANCH#platform#organization#s3"}, ""},
		{"organizations across the platform by status", Organizations, platform, "rejected", true, "GSI6", []string{"BRANCH#platform#organization#rejected#s0", "BRANCH#platform#organization#rejected#s1", "BRANCH#platform#organization#rejected#s2", "BRANCH#platform#organization#rejected#s3"}, ""},
		{"virtual companies of an organization", Companies, org, "true", true, "GSI2", []string{"CHILDREN#org_o#company#true"}, ""},
		{"companies across a partner's subtree", Companies, part, "", false, "GSI3", []string{"SUBTREE#company#s0", "SUBTREE#company#s1", "SUBTREE#company#s2", "SUBTREE#company#s3"}, "dst_d/prt_p/"},
		{"virtual companies across the platform", Companies, platform, "true", true, "GSI4", []string{"SUBTREE#company#true#s0", "SUBTREE#company#true#s1", "SUBTREE#company#true#s2", "SUBTREE#company#true#s3"}, ""},
		{"partners across the platform", Partners, platform, "", false, "GSI3", []string{"SUBTREE#partner#s0", "SUBTREE#partner#s1", "SUBTREE#partner#s2", "SUBTREE#partner#s3"}, ""},
		{"deactivated end users across an organization", EndUsers, org, "deactivated", true, "GSI4", []string{"SUBTREE#end_user#deactivated#s0", "SUBTREE#end_user#deactivated#s1", "SUBTREE#end_user#deactivated#s2", "SUBTREE#end_user#deactivated#s3"}, "dst_d/prt_p/org_o/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			index, pk, sk, values, prefix := c.level.index(c.scope, c.filter, c.byFilter)
			if index != c.wantIndex || pk != index+"PK" || sk != index+"SK" || !slices.Equal(values, c.want) || prefix != c.prefix {
				t.Fatalf("index %s %s %s %q %q, want %s %q %q", index, pk, sk, values, prefix, c.wantIndex, c.want, c.prefix)
			}
		})
	}
}

func TestScopeKinds(t *testing.T) {
	if got := Organizations.scopeKinds(); !slices.Equal(got, []tree.Kind{tree.KindPartner, tree.KindDistributor, tree.KindPlatform}) {
		t.Fatalf("organizations are listed under %v", got)
	}
	if got := Companies.scopeKinds(); !slices.Equal(got, []tree.Kind{tree.KindOrganization, tree.KindPartner, tree.KindDistributor, tree.KindPlatform}) {
		t.Fatalf("companies are listed under %v", got)
	}
	if got := Organizations.scopeParams(); len(got) != 2 || got["partnerId"] != tree.KindPartner || got["distributorId"] != tree.KindDistributor {
		t.Fatalf("organization scope parameters %v", got)
	}
}

func TestViewNamesTheAncestors(t *testing.T) {
	company := tree.Node{ID: "cmp_c", Kind: tree.KindCompany, Path: []string{tree.PlatformID, "dst_d", "prt_p", "org_o"}}
	it := nodes.NewChild(company, tree.KindEndUser, "a@b.example", StatusActive, time.Now())
	it.Attrs = map[string]any{"firstName": "A", "lastName": "B"}
	v := EndUsers.view(it)
	want := map[string]any{"distributorId": "dst_d", "partnerId": "prt_p", "organizationId": "org_o", "companyId": "cmp_c", "email": "a@b.example", "firstName": "A"}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
	if _, ok := v["name"]; ok {
		t.Error("an end user's view has a name")
	}
}

func TestChargedForCascade(t *testing.T) {
	org := nodes.Item{ID: "org_1", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_1", "ptn_1"}, Children: 3}
	dist := nodes.Item{ID: "dst_1", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}, Children: 1}
	childless := org
	childless.Children = 0
	cases := []struct {
		name  string
		asked bool
		it    nodes.Item
		want  string
	}{
		{"a cascade of an organization counts against its partner", true, org, "ptn_1"},
		{"a cascade of a distributor counts against the platform", true, dist, tree.PlatformID},
		{"a delete without cascade=true is not counted", false, org, ""},
		{"cascade=true on a childless node is a single delete, not counted", true, childless, ""},
		{"a node without a path (never stored so) is not counted", true, nodes.Item{ID: "x", Children: 1}, ""},
	}
	for _, c := range cases {
		if got := chargedForCascade(c.asked, c.it); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestOnlyCascadingDeletesAreLimited(t *testing.T) {
	for _, l := range []Level{Distributors, Partners, Organizations, Companies, EndUsers} {
		ops := (&Service{Level: l}).Operations()
		for verb, op := range ops {
			limited := op.NodeLimit != nil
			want := verb == "delete" && l.Kind != tree.KindEndUser
			if limited != want {
				t.Errorf("%s %s: limited %v, want %v", l.Resource, verb, limited, want)
			}
			if limited && op.NodeLimit.Name != "cascades" {
				t.Errorf("%s delete counts %s", l.Resource, op.NodeLimit.Name)
			}
		}
	}
}
