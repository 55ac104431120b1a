package impersonation

import (
	"testing"
	"time"

	"opsconsole/shared/api"
	"opsconsole/shared/tree"
)

func TestMayActAs(t *testing.T) {
	platform := tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}
	distA := tree.Node{ID: "dst_a", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}}
	partnerA := tree.Node{ID: "prt_a", Kind: tree.KindPartner, Path: []string{tree.PlatformID, "dst_a"}}
	partnerB := tree.Node{ID: "prt_b", Kind: tree.KindPartner, Path: []string{tree.PlatformID, "dst_b"}}
	dAdmin := tree.Caller{Role: tree.RoleDistributorAdmin, Node: distA}
	pAdmin := tree.Caller{Role: tree.RolePartnerAdmin, Node: partnerA}
	for _, c := range []struct {
		name   string
		caller tree.Caller
		role   tree.Role
		node   tree.Node
		want   bool
	}{
		{"a distributor admin enters its partner", dAdmin, tree.RolePartnerAdmin, partnerA, true},
		{"not another distributor's partner", dAdmin, tree.RolePartnerAdmin, partnerB, false},
		{"not its own node", dAdmin, tree.RoleDistributorAdmin, distA, false},
		{"not up", pAdmin, tree.RoleDistributorAdmin, distA, false},
		{"not the platform", pAdmin, tree.RolePlatformAdmin, platform, false},
		{"not a role above its own (hand-made data)", pAdmin, tree.RolePlatformAdmin, tree.Node{ID: "org_x", Path: []string{tree.PlatformID, "dst_a", "prt_a"}}, false},
	} {
		if got := MayActAs(c.caller, c.role, c.node); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestUsableAndState(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	it := Item{ImpersonatorID: "u1", ValidUntil: now.Unix() + 60}
	if !Usable(it, "u1", now) || State(it, now) != "active" {
		t.Fatal("a live session is not usable")
	}
	if Usable(it, "u2", now) {
		t.Fatal("someone else's session is usable")
	}
	if Usable(it, "u1", now.Add(time.Minute)) || State(it, now.Add(time.Minute)) != "expired" {
		t.Fatal("an expired session is usable")
	}
	it.EndedAt = "2026-01-01T00:00:00Z"
	if Usable(it, "u1", now) || State(it, now) != "ended" {
		t.Fatal("an ended session is usable")
	}
}

func TestNewIDIsValid(t *testing.T) {
	for range 100 {
		if id := NewID(); !api.ValidSessionID(id) {
			t.Fatalf("NewID() = %q, which ValidSessionID refuses", id)
		}
	}
	for _, bad := range []string{"", "imp_", "nope", "IMP_01jh4m3k9v2c8x7r6t5y4w3q2p", "imp_01JH4M3K9V2C8X7R6T5Y4W3Q2P", "imp_01jh4m3k9v2c8x7r6t5y4w3q2p0"} {
		if api.ValidSessionID(bad) {
			t.Errorf("ValidSessionID(%q) = true", bad)
		}
	}
}
