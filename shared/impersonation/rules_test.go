package impersonation

import (
	"errors"
	"slices"
	"testing"
	"time"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
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
		t.Run(c.name, func(t *testing.T) {
			if got := MayActAs(c.caller, c.role, c.node); got != c.want {
				t.Fatalf("MayActAs = %v, want %v", got, c.want)
			}
		})
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

// The decisions of creating and using a session, in tables: no table, no local
// system. The reads and writes around them are covered by the e2e suite
// (infra/e2e/impersonation_test.go).

func ptr[T any](v T) *T { return &v }

// answer fails t unless err is a problem with status and slug (0 for no error).
func answer(t *testing.T, err error, status int, slug string) {
	t.Helper()
	if status == 0 {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != status || p.Type != problem.TypePrefix+slug {
		t.Fatalf("got %v, want %d %s", err, status, slug)
	}
}

var (
	distNode    = tree.Node{ID: "dst_a", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}}
	partnerNode = tree.Node{ID: "prt_a", Kind: tree.KindPartner, Path: []string{tree.PlatformID, "dst_a"}}
	orgNode     = tree.Node{ID: "org_a", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_a", "prt_a"}}
	distAdmin   = tree.Caller{UserID: "d1", Email: "d1@example.com", Role: tree.RoleDistributorAdmin, Node: distNode}
)

func TestBodyTarget(t *testing.T) {
	const (
		partnerID = "prt_01jh4m5q7n3d9z8s6u4v2x1y0w"
		endUserID = "eu_01jh4m9f8h0k2m4p6s8u0w2y4a"
	)
	for _, c := range []struct {
		name   string
		b      createBody
		kind   tree.Kind
		status int
		slug   string
	}{
		{"a partner", createBody{NodeID: ptr(partnerID)}, tree.KindPartner, 0, ""},
		{"the platform passes here, for the 403 of one's own node", createBody{NodeID: ptr(tree.PlatformID)}, tree.KindPlatform, 0, ""},
		{"a user", createBody{UserID: ptr("0b1c-22d3")}, "", 0, ""},
		{"no target", createBody{}, "", 400, "validation"},
		{"two targets", createBody{NodeID: ptr(partnerID), UserID: ptr("u1")}, "", 400, "validation"},
		{"a malformed node id", createBody{NodeID: ptr("prt_nope")}, "", 400, "validation"},
		{"an end user's record", createBody{NodeID: ptr(endUserID)}, "", 400, "validation"},
		{"a malformed user id reads like a missing user", createBody{UserID: ptr("user#1")}, "", 404, "not-found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			kind, err := c.b.target()
			answer(t, err, c.status, c.slug)
			if kind != c.kind {
				t.Fatalf("kind %q, want %q", kind, c.kind)
			}
		})
	}
}

func TestNewItem(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	partner := &nodes.Item{ID: partnerNode.ID, Kind: partnerNode.Kind, Path: partnerNode.Path, Name: "Partner A"}
	own := &nodes.Item{ID: distNode.ID, Kind: distNode.Kind, Path: distNode.Path, Name: "Dist A"}
	platform := &nodes.Item{ID: tree.PlatformID, Kind: tree.KindPlatform, Path: []string{}}
	orgUser := func(status string, role tree.Role) *identity.UserItem {
		return &identity.UserItem{ID: "u1", Email: "u1@example.com", Role: role, Status: status,
			NodeID: orgNode.ID, NodeKind: orgNode.Kind, NodePath: orgNode.Path}
	}
	for _, c := range []struct {
		name   string
		t      started
		status int
		slug   string
	}{
		{"a node below, for the default length", started{node: partner}, 0, ""},
		{"an active user below", started{user: orgUser(identity.StatusActive, tree.RoleOrganizationAdmin), body: createBody{Minutes: ptr(60)}}, 0, ""},
		{"one's own node is refused", started{node: own}, 403, "forbidden"},
		{"the platform is refused", started{node: platform}, 403, "forbidden"},
		{"a user with a role above the caller's is refused", started{user: orgUser(identity.StatusActive, tree.RolePlatformAdmin)}, 403, "forbidden"},
		{"an invited user is refused", started{user: orgUser(identity.StatusInvited, tree.RoleOrganizationAdmin)}, 400, "validation"},
		{"the target is told before the length", started{node: own, body: createBody{Minutes: ptr(0)}}, 403, "forbidden"},
		{"no session of 0 minutes", started{node: partner, body: createBody{Minutes: ptr(0)}}, 400, "validation"},
		{"no session over an hour", started{node: partner, body: createBody{Minutes: ptr(MaxMinutes + 1)}}, 400, "validation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			it, err := newItem("imp_1", distAdmin, c.t, now)
			answer(t, err, c.status, c.slug)
			if err != nil {
				return
			}
			if it.PK != "IMPERSONATION#imp_1" || it.ImpersonatorID != "d1" || it.ImpersonatorNodeID != distNode.ID || it.Version != 1 {
				t.Fatalf("item %+v", it)
			}
			if it.ExpiresAt != it.ValidUntil+int64(Cleanup/time.Second) || State(it, now) != "active" {
				t.Fatalf("times %+v", it)
			}
		})
	}
	t.Run("a node session acts as the node's admin", func(t *testing.T) {
		it, _ := newItem("imp_1", distAdmin, started{node: partner}, now)
		if it.TargetKind != TargetNode || it.Role != tree.RolePartnerAdmin || it.NodeID != partnerNode.ID || it.TargetName != "Partner A" ||
			it.ValidUntil != now.Add(DefaultMinutes*time.Minute).Unix() {
			t.Fatalf("item %+v", it)
		}
	})
	t.Run("a user session acts as the user, with their email", func(t *testing.T) {
		it, _ := newItem("imp_1", distAdmin, started{user: orgUser(identity.StatusActive, tree.RoleOrganizationAdmin)}, now)
		if it.TargetKind != TargetUser || it.TargetID != "u1" || it.UserEmail != "u1@example.com" || it.Role != tree.RoleOrganizationAdmin ||
			!slices.Equal(it.NodePath, orgNode.Path) {
			t.Fatalf("item %+v", it)
		}
	})
}

// session is a live node session of distAdmin acting as orgNode's admin.
func session(now time.Time) Item {
	return Item{
		ID: "imp_1", ImpersonatorID: distAdmin.UserID, ImpersonatorNodeID: distNode.ID, TargetKind: TargetNode,
		Role: tree.RoleOrganizationAdmin, NodeID: orgNode.ID, NodeKind: orgNode.Kind, NodePath: orgNode.Path,
		ValidUntil: now.Unix() + 60,
	}
}

func TestBelowImpersonator(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		name string
		edit func(*Item)
		ids  []string
		ok   bool
	}{
		{"the nodes between the impersonator's and the target, the target included", func(*Item) {}, []string{"prt_a", "org_a"}, true},
		{"an impersonator's node outside the lineage", func(it *Item) { it.ImpersonatorNodeID = "dst_b" }, nil, false},
		{"the impersonator's own node as the target", func(it *Item) { it.NodeID, it.NodePath = distNode.ID, distNode.Path }, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			it := session(now)
			c.edit(&it)
			ids, ok := belowImpersonator(it)
			if ok != c.ok || !slices.Equal(ids, c.ids) {
				t.Fatalf("%v %v", ids, ok)
			}
		})
	}
}

func TestStands(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		name string
		real tree.Caller
		edit func(*Item)
		want bool
	}{
		{"a live session of its impersonator", distAdmin, func(*Item) {}, true},
		{"someone else's", tree.Caller{UserID: "d2", Role: tree.RoleDistributorAdmin, Node: distNode}, func(*Item) {}, false},
		{"an ended one", distAdmin, func(it *Item) { it.EndedAt = "2026-01-01T00:00:00Z" }, false},
		{"an expired one", distAdmin, func(it *Item) { it.ValidUntil = now.Unix() }, false},
		{"the impersonator moved to another node", tree.Caller{UserID: "d1", Role: tree.RoleDistributorAdmin, Node: tree.Node{ID: "dst_b", Path: []string{tree.PlatformID}}}, func(*Item) {}, false},
		{"the impersonator now at the platform, above the node it began from", tree.Caller{UserID: "d1", Role: tree.RolePlatformAdmin, Node: tree.Node{ID: tree.PlatformID}}, func(*Item) {}, false},
		{"the impersonator's role now below the session's", tree.Caller{UserID: "d1", Role: tree.RoleCompanyAdmin, Node: distNode}, func(*Item) {}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			it := session(now)
			c.edit(&it)
			if got := Stands(it, c.real, now); got != c.want {
				t.Fatalf("Stands = %v, want %v", got, c.want)
			}
		})
	}
}

func TestStillStandsFor(t *testing.T) {
	sess := session(time.Unix(0, 0))
	sess.TargetKind, sess.TargetID = TargetUser, "u1"
	same := identity.UserItem{ID: "u1", Status: identity.StatusActive, Role: sess.Role, NodeID: sess.NodeID}
	for _, c := range []struct {
		name string
		edit func(*identity.UserItem)
		want bool
	}{
		{"the user as they were", func(*identity.UserItem) {}, true},
		{"deactivated since", func(u *identity.UserItem) { u.Status = identity.StatusDeactivated }, false},
		{"given another role", func(u *identity.UserItem) { u.Role = tree.RoleCompanyAdmin }, false},
		{"moved to another node", func(u *identity.UserItem) { u.NodeID = "org_b" }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := same
			c.edit(&u)
			if got := StillStandsFor(sess, u); got != c.want {
				t.Fatalf("StillStandsFor = %v", got)
			}
		})
	}
}

func TestActingCaller(t *testing.T) {
	real := distAdmin
	real.MFARequired, real.MFAEnrolled, real.SignedOutAt = true, true, 42
	sess := session(time.Unix(0, 0))
	t.Run("a node session acts with the node's role, as the real user", func(t *testing.T) {
		a := ActingCaller(real, sess)
		if a.UserID != "d1" || a.Email != real.Email || a.Role != tree.RoleOrganizationAdmin || a.Node.ID != orgNode.ID {
			t.Fatalf("acting %+v", a)
		}
		if a.Impersonator == nil || *a.Impersonator != (tree.Impersonator{UserID: "d1", Email: real.Email, Role: tree.RoleDistributorAdmin, SessionID: "imp_1"}) {
			t.Fatalf("impersonator %+v", a.Impersonator)
		}
		if !a.MFARequired || !a.MFAEnrolled || a.SignedOutAt != 42 {
			t.Fatal("MFA and sign-out are not the real user's")
		}
	})
	t.Run("a user session acts as the user", func(t *testing.T) {
		sess.TargetKind, sess.TargetID, sess.UserEmail = TargetUser, "u1", "u1@example.com"
		if a := ActingCaller(real, sess); a.UserID != "u1" || a.Email != "u1@example.com" || a.Impersonator.UserID != "d1" {
			t.Fatalf("acting %+v", a)
		}
	})
}

func TestViewAndAudit(t *testing.T) {
	now := time.Unix(1_000_000, 0).UTC()
	s := &Service{Now: func() time.Time { return now }}
	it := session(now)
	v := s.viewOf(it)
	if v.Status != "active" || v.EndedAt != nil || v.ActingAs.NodeID != orgNode.ID || v.ExpiresAt != time.Unix(it.ValidUntil, 0).UTC().Format(time.RFC3339) {
		t.Fatalf("view %+v", v)
	}
	it.EndedAt = "2026-01-01T00:00:00Z"
	if v := s.viewOf(it); v.Status != "ended" || v.EndedAt == nil || *v.EndedAt != it.EndedAt {
		t.Fatalf("ended view %+v", v)
	}
	if f := auditFields(it, now); f["status"] != "ended" || f["role"] != string(tree.RoleOrganizationAdmin) || f["nodeId"] != orgNode.ID {
		t.Fatalf("audit fields %v", f)
	}
	if n := it.Node(); n.ID != orgNode.ID || !slices.Equal(n.Path, orgNode.Path) || Key("imp_1")["PK"] == nil {
		t.Fatalf("node %+v", n)
	}
}
