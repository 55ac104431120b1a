package users

import (
	"errors"
	"strings"
	"testing"

	"opsconsole/infra/template"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// The policy checked before Cognito is the user pool's, as template.yaml declares it.
func TestPasswordPolicyIsThePools(t *testing.T) {
	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pp := tpl.Resources["UserPool"].Properties["Policies"].(map[string]any)["PasswordPolicy"].(map[string]any)
	num := func(v any) int {
		switch n := v.(type) {
		case int:
			return n
		case float64:
			return int(n)
		}
		t.Fatalf("not a number: %#v", v)
		return 0
	}
	got := PasswordPolicy
	if num(pp["MinimumLength"]) != got.MinimumLength || pp["RequireLowercase"] != got.RequireLowercase ||
		pp["RequireUppercase"] != got.RequireUppercase || pp["RequireNumbers"] != got.RequireNumbers ||
		pp["RequireSymbols"] != got.RequireSymbols {
		t.Fatalf("template.yaml's policy %v, the code's %+v", pp, got)
	}
}

func TestPasswordProblems(t *testing.T) {
	for _, c := range []struct {
		password string
		want     []string
	}{
		{"Good-Passw0rd", nil},
		{"short", []string{"at least 12", "upper-case", "digit"}},
		{"alllowercase1", []string{"upper-case"}},
		{"ALLUPPERCASE1", []string{"lower-case"}},
		{"NoDigitsAtAllHere", []string{"digit"}},
		{"Tab\tInside-Passw0rd", []string{"control"}},
		{"Ünïcödé-Passw0rd", nil},
	} {
		got := PasswordProblems("password", c.password)
		if len(got) != len(c.want) {
			t.Errorf("%q: %v, want %v", c.password, got, c.want)
			continue
		}
		for i, w := range c.want {
			if got[i].Field != "password" || !strings.Contains(got[i].Message, w) {
				t.Errorf("%q: %v, want %v", c.password, got, c.want)
			}
		}
	}
}

func TestKindOfID(t *testing.T) {
	for id, want := range map[string]tree.Kind{
		"platform":                        tree.KindPlatform,
		"dst_01jh4m3k9v2c8x7r6t5y4w3q2p":  tree.KindDistributor,
		"prt_01jh4m5q7n3d9z8s6u4v2x1y0w":  tree.KindPartner,
		"org_01jh4m7b2k5n8q1t4w7z0c3f6h":  tree.KindOrganization,
		"cmp_01jh4m8d5g7j9l1n3p5r7t9v1x":  tree.KindCompany,
		"eu_01jh4m9f8h0k2m4p6s8u0w2y4a":   "",
		"prt_01JH4M5Q7N3D9Z8S6U4V2X1Y0W":  "",
		"nope":                            "",
		"dst_01jh4m3k9v2c8x7r6t5y4w3q2pX": "",
	} {
		got, ok := kindOfID(id)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", id, got, ok, want)
		}
	}
}

func TestRoleRule(t *testing.T) {
	partnerAdmin := tree.Caller{Role: tree.RolePartnerAdmin}
	for _, c := range []struct {
		name   string
		caller tree.Caller
		role   tree.Role
		kind   tree.Kind
		status int
	}{
		{"the level's role below", partnerAdmin, tree.RoleOrganizationAdmin, tree.KindOrganization, 0},
		{"the caller's own role at its level", partnerAdmin, tree.RolePartnerAdmin, tree.KindPartner, 0},
		{"a role above the caller's", partnerAdmin, tree.RoleDistributorAdmin, tree.KindPartner, 403},
		{"a role above the caller's, even where it would fit", partnerAdmin, tree.RoleDistributorAdmin, tree.KindDistributor, 403},
		{"another level's role", partnerAdmin, tree.RoleCompanyAdmin, tree.KindOrganization, 400},
		{"end users are not console users here", tree.Caller{Role: tree.RoleCompanyAdmin}, tree.RoleEndUser, tree.KindCompany, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := roleRule(c.caller, c.role, c.kind)
			var p *problem.Problem
			switch {
			case c.status == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case c.status != 0 && (!errors.As(err, &p) || p.Status != c.status):
				t.Fatalf("got %v, want %d", err, c.status)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	a, ha := newToken()
	b, hb := newToken()
	if a == b || ha == hb || len(a) != 43 || HashToken(a) != ha || strings.Contains(ha, a) {
		t.Fatalf("tokens %q %q hashes %q %q", a, b, ha, hb)
	}
	for range 100 {
		if c := newCode(); !codePattern().MatchString(c) {
			t.Fatalf("code %q", c)
		}
	}
}
