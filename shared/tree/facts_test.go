package tree

import (
	"strings"
	"testing"
)

func TestBlocks(t *testing.T) {
	for status, want := range map[string]bool{
		"suspended": true, "deactivated": true, "pending": true, "rejected": true,
		"active": false, "approved": false, "deleting": false, "": false,
	} {
		t.Run(status, func(t *testing.T) {
			if got := Blocks(status); got != want {
				t.Errorf("Blocks(%q) = %v, want %v", status, got, want)
			}
		})
	}
}

func TestAdminRole(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		role Role
		ok   bool
	}{
		{KindPlatform, RolePlatformAdmin, true},
		{KindDistributor, RoleDistributorAdmin, true},
		{KindPartner, RolePartnerAdmin, true},
		{KindOrganization, RoleOrganizationAdmin, true},
		{KindCompany, RoleCompanyAdmin, true},
		{KindEndUser, "", false},
		{"user", "", false},
	} {
		t.Run(string(c.kind), func(t *testing.T) {
			role, ok := AdminRole(c.kind)
			if role != c.role || ok != c.ok {
				t.Errorf("AdminRole(%s) = %q, %v; want %q, %v", c.kind, role, ok, c.role, c.ok)
			}
			if ok && role.Level() != c.kind {
				t.Errorf("the admin role of %s is held at %s", c.kind, role.Level())
			}
		})
	}
}

func TestValidUserID(t *testing.T) {
	for _, c := range []struct {
		name string
		id   string
		want bool
	}{
		{"uuid", "0b6f3c1e-5a7d-4e2b-9c8f-1a2b3c4d5e6f", true},
		{"letters", "AbC", true},
		{"longest", strings.Repeat("a", MaxUserID), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxUserID+1), false},
		{"slash", "a/b", false},
		{"space", "a b", false},
		{"control", "a\x01", false},
		{"unicode", "é", false},
		{"underscore", "a_b", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ValidUserID(c.id); got != c.want {
				t.Errorf("ValidUserID(%q) = %v, want %v", c.id, got, c.want)
			}
		})
	}
}
