package users

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// The rules of rules.go and the input checks beside the handlers, in tables: no
// table, no Cognito, no local system. The handlers' reads and writes are covered by
// the e2e suite (infra/e2e).

// wantAnswer fails t unless err is the answer described by status and slug (the last
// part of the problem type), or nil when status is 0.
func wantAnswer(t *testing.T, err error, status int, slug string) *problem.Problem {
	t.Helper()
	if status == 0 {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return nil
	}
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("got %v, want a %d %s", err, status, slug)
	}
	if p.Status != status || p.Type != problem.TypePrefix+slug {
		t.Fatalf("got %d %s (%s), want %d %s", p.Status, p.Type, p.Detail, status, slug)
	}
	return p
}

// fields are the fields a problem names, in order.
func fields(p *problem.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

var (
	partnerNode = tree.Node{ID: "prt_a", Kind: tree.KindPartner, Path: []string{tree.PlatformID, "dst_a"}}
	orgNode     = tree.Node{ID: "org_a", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_a", "prt_a"}}
	partnerBoss = tree.Caller{UserID: "boss", Role: tree.RolePartnerAdmin, Node: partnerNode}
)

// user is a console user of the organization below partnerBoss's partner.
func user(id, status string, role tree.Role) identity.UserItem {
	return identity.UserItem{
		ID: id, Email: id + "@example.com", Role: role, Status: status, Version: 3,
		NodeID: orgNode.ID, NodeKind: orgNode.Kind, NodePath: orgNode.Path,
	}
}

func TestMayAct(t *testing.T) {
	orgAdmin := func(status string) identity.UserItem { return user("u1", status, tree.RoleOrganizationAdmin) }
	himself := user("boss", identity.StatusActive, tree.RolePartnerAdmin)
	above := user("top", identity.StatusActive, tree.RoleDistributorAdmin)
	for _, c := range []struct {
		name   string
		op     tree.Operation
		u      identity.UserItem
		status int
		slug   string
	}{
		{"an admin deactivates an active user below", tree.OpUsersDeactivate, orgAdmin(identity.StatusActive), 0, ""},
		{"nobody deactivates themselves", tree.OpUsersDeactivate, himself, 403, "forbidden"},
		{"nobody deactivates a user above them", tree.OpUsersDeactivate, above, 403, "forbidden"},
		{"an invited user cannot be deactivated", tree.OpUsersDeactivate, orgAdmin(identity.StatusInvited), 409, "invalid-transition"},
		{"a deactivated user cannot be deactivated again", tree.OpUsersDeactivate, orgAdmin(identity.StatusDeactivated), 409, "invalid-transition"},
		{"being oneself is told before the status", tree.OpUsersDeactivate, user("boss", identity.StatusInvited, tree.RolePartnerAdmin), 403, "forbidden"},
		{"being above is told before the status", tree.OpUsersDeactivate, user("top", identity.StatusInvited, tree.RoleDistributorAdmin), 403, "forbidden"},

		{"a deactivated user is reactivated", tree.OpUsersReactivate, orgAdmin(identity.StatusDeactivated), 0, ""},
		{"an active user cannot be reactivated", tree.OpUsersReactivate, orgAdmin(identity.StatusActive), 409, "invalid-transition"},
		{"an invited user cannot be reactivated", tree.OpUsersReactivate, orgAdmin(identity.StatusInvited), 409, "invalid-transition"},
		{"nobody reactivates a user above them", tree.OpUsersReactivate, user("top", identity.StatusDeactivated, tree.RoleDistributorAdmin), 403, "forbidden"},

		{"a user in any status is deleted", tree.OpUsersDelete, orgAdmin(identity.StatusInvited), 0, ""},
		{"nobody deletes themselves", tree.OpUsersDelete, himself, 403, "forbidden"},
		{"nobody deletes a user above them", tree.OpUsersDelete, above, 403, "forbidden"},

		{"an invited user's invitation is sent again", tree.OpUsersResendInvite, orgAdmin(identity.StatusInvited), 0, ""},
		{"an active user has no invitation to resend", tree.OpUsersResendInvite, orgAdmin(identity.StatusActive), 409, "invalid-transition"},
		{"a deactivated user has no invitation to resend", tree.OpUsersResendInvite, orgAdmin(identity.StatusDeactivated), 409, "invalid-transition"},

		{"a user below is updated", tree.OpUsersUpdate, orgAdmin(identity.StatusActive), 0, ""},
		{"one's own name is updated here too", tree.OpUsersUpdate, himself, 0, ""},
		{"nobody updates a user above them", tree.OpUsersUpdate, above, 403, "forbidden"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantAnswer(t, mayAct(c.op, partnerBoss, c.u), c.status, c.slug)
			if c.slug == "invalid-transition" && (!strings.Contains(p.Detail, "the user is "+c.u.Status) || fields(p)[0] != "status") {
				t.Fatalf("the 409 does not name the status: %+v", p)
			}
		})
	}
	t.Run("an action without a rule is refused", func(t *testing.T) {
		if err := mayAct(tree.OpUsersList, partnerBoss, user("u1", identity.StatusActive, tree.RoleOrganizationAdmin)); !errors.Is(err, tree.ErrUnknownOperation) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestMayUpdate(t *testing.T) {
	before := user("u1", identity.StatusActive, tree.RoleOrganizationAdmin)
	with := func(role tree.Role, first string) identity.UserItem {
		u := before
		u.Role, u.FirstName = role, first
		return u
	}
	for _, c := range []struct {
		name   string
		before identity.UserItem
		after  identity.UserItem
		status int
	}{
		{"a name changes", before, with(tree.RoleOrganizationAdmin, "Ada"), 0},
		{"the role the user already has is kept, whatever the level", before, with(tree.RoleOrganizationAdmin, ""), 0},
		{"a role above the caller's is never given", before, with(tree.RoleDistributorAdmin, ""), 403},
		{"a role of another level is refused", before, with(tree.RoleCompanyAdmin, ""), 400},
		{"end_user is never given here", before, with(tree.RoleEndUser, ""), 400},
		{"a user above the caller is not renamed", user("top", identity.StatusActive, tree.RoleDistributorAdmin), user("top", identity.StatusActive, tree.RoleDistributorAdmin), 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := mayUpdate(partnerBoss, c.before, c.after)
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

// fixedNow is the clock of the tests that need one.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestTransitioned(t *testing.T) {
	now := fixedNow
	before := user("u1", identity.StatusActive, tree.RoleOrganizationAdmin)
	before.SignedOutAt = 100
	before.SetIndexKeys()

	t.Run("a deactivation ends the user's sessions and moves them to the deactivated list", func(t *testing.T) {
		after := transitioned(before, identity.StatusDeactivated, now)
		if after.Status != identity.StatusDeactivated || after.Version != 4 || after.UpdatedAt != nodes.Stamp(now) {
			t.Fatalf("after %+v", after)
		}
		if after.SignedOutAt != now.Unix() {
			t.Fatalf("signedOutAt %d, want %d", after.SignedOutAt, now.Unix())
		}
		if after.GSI2PK != identity.UsersByStatusKey(orgNode.ID, identity.StatusDeactivated) || after.GSI1PK != before.GSI1PK {
			t.Fatalf("index keys %q %q", after.GSI1PK, after.GSI2PK)
		}
	})
	t.Run("a reactivation keeps the last sign-out, so old tokens stay refused", func(t *testing.T) {
		after := transitioned(before, identity.StatusActive, now)
		if after.SignedOutAt != 100 || after.GSI2PK != identity.UsersByStatusKey(orgNode.ID, identity.StatusActive) {
			t.Fatalf("after %+v", after)
		}
	})
	t.Run("the user read is left as it was", func(t *testing.T) {
		_ = transitioned(before, identity.StatusDeactivated, now)
		if before.Status != identity.StatusActive || before.Version != 3 {
			t.Fatalf("before changed: %+v", before)
		}
	})
}

func TestAdminsChange(t *testing.T) {
	u := func(status string, role tree.Role) *identity.UserItem {
		it := user("u1", status, role)
		return &it
	}
	const (
		active, invited, deactivated = identity.StatusActive, identity.StatusInvited, identity.StatusDeactivated
		org, company, endUser        = tree.RoleOrganizationAdmin, tree.RoleCompanyAdmin, tree.RoleEndUser
	)
	for _, c := range []struct {
		name          string
		before, after *identity.UserItem
		join, leave   bool
	}{
		{"an activation makes an admin", u(invited, org), u(active, org), true, false},
		{"an end user's activation makes no admin", u(invited, endUser), u(active, endUser), false, false},
		{"a deactivation takes an admin out", u(active, org), u(deactivated, org), false, true},
		{"a reactivation puts them back", u(deactivated, org), u(active, org), true, false},
		{"deleting an active admin takes them out", u(active, org), nil, false, true},
		{"deleting an invited admin changes nothing", u(invited, org), nil, false, false},
		{"deleting a deactivated admin changes nothing", u(deactivated, org), nil, false, false},
		{"a rename changes nothing", u(active, org), u(active, org), false, false},
		{"a role change between admin roles changes nothing", u(active, org), u(active, company), false, false},
		{"demoting an active admin to end user takes them out", u(active, org), u(active, endUser), false, true},
		{"promoting an active end user makes an admin", u(active, endUser), u(active, org), true, false},
		{"a role change of an invited user changes nothing", u(invited, org), u(invited, endUser), false, false},
		{"an unknown role is no admin", u(active, "root"), u(deactivated, "root"), false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			join, leave := adminsChange(c.before, c.after)
			if join != c.join || leave != c.leave {
				t.Fatalf("join %v leave %v, want %v %v", join, leave, c.join, c.leave)
			}
			if got := len(adminWrites(c.before, c.after)); got != btoi(c.join || c.leave) {
				t.Fatalf("%d admins writes", got)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestTargetNode(t *testing.T) {
	// The policy sees a user as a thing below their node: a caller reaches them
	// exactly when the caller's subtree holds the user's node.
	u := user("u1", identity.StatusActive, tree.RoleOrganizationAdmin)
	target := targetNode(u)
	for _, c := range []struct {
		name   string
		caller tree.Caller
		want   error
	}{
		{"an admin above the user's node reaches them", partnerBoss, nil},
		{"an admin of the user's own node reaches them", tree.Caller{Role: tree.RoleOrganizationAdmin, Node: orgNode}, nil},
		{"an admin of a sibling node does not", tree.Caller{Role: tree.RolePartnerAdmin, Node: tree.Node{ID: "prt_b", Path: []string{tree.PlatformID, "dst_a"}}}, tree.ErrOutsideBranch},
		{"an admin of a company below the user's node does not", tree.Caller{Role: tree.RoleCompanyAdmin, Node: tree.Node{ID: "cmp_a", Path: orgNode.Lineage()}}, tree.ErrOutsideBranch},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := tree.Allow(tree.OpUsersGet, c.caller, &target); !errors.Is(err, c.want) {
				t.Fatalf("Allow = %v, want %v", err, c.want)
			}
		})
	}
}

func TestEndUserInvitation(t *testing.T) {
	for _, c := range []struct {
		name   string
		status string
		code   int
	}{
		{"an active record is invited", identity.StatusActive, 0},
		{"a deactivated record is not", "deactivated", 409},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantAnswer(t, endUserInvitable(nodes.Item{ID: "eu_1", Status: c.status}), c.code, "invalid-transition")
		})
	}
	own := user("u9", identity.StatusInvited, tree.RoleEndUser)
	own.NodeID = "eu_1"
	other := user("u8", identity.StatusActive, tree.RoleCompanyAdmin)
	for _, c := range []struct {
		name  string
		owner *identity.UserItem
		slug  string
	}{
		{"the record's own account is account-exists, so the client resends its invitation", &own, "account-exists"},
		{"another console user's email is email-taken", &other, "email-taken"},
		{"an owner that could not be read is email-taken", nil, "email-taken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantAnswer(t, endUserEmailTaken("eu_1", c.owner), 409, c.slug)
			if c.slug == "account-exists" && !strings.Contains(p.Detail, "user u9") {
				t.Fatalf("the answer does not name the account: %q", p.Detail)
			}
		})
	}
}

func TestSecretsStillWork(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	t.Run("an activation works until its expiry, not at it", func(t *testing.T) {
		if !(activationItem{ExpiresAt: now.Unix() + 1}).live(now) || (activationItem{ExpiresAt: now.Unix()}).live(now) {
			t.Fatal("wrong expiry")
		}
	})
	for _, c := range []struct {
		name string
		u    identity.UserItem
		want bool
	}{
		{"an invited user with this link's hash", identity.UserItem{Status: identity.StatusInvited, ActivationHash: "h1"}, true},
		{"a link that resend-invite replaced", identity.UserItem{Status: identity.StatusInvited, ActivationHash: "h2"}, false},
		{"a user already active", identity.UserItem{Status: identity.StatusActive, ActivationHash: "h1"}, false},
	} {
		t.Run("activation: "+c.name, func(t *testing.T) {
			if got := awaitsActivation(c.u, "h1"); got != c.want {
				t.Fatalf("awaitsActivation = %v", got)
			}
		})
	}
	for _, c := range []struct {
		name string
		p    resetItem
		want bool
	}{
		{"a fresh reset", resetItem{ExpiresAt: now.Unix() + 60}, true},
		{"one wrong code short of the limit", resetItem{ExpiresAt: now.Unix() + 60, Attempts: ResetMaxAttempts - 1}, true},
		{"the limit of wrong codes", resetItem{ExpiresAt: now.Unix() + 60, Attempts: ResetMaxAttempts}, false},
		{"expired", resetItem{ExpiresAt: now.Unix()}, false},
	} {
		t.Run("reset: "+c.name, func(t *testing.T) {
			if got := c.p.usable(now); got != c.want {
				t.Fatalf("usable = %v", got)
			}
		})
	}
	t.Run("reset: only the code sent matches", func(t *testing.T) {
		p := resetItem{Salt: "s4lt", CodeHash: hashCode("s4lt", "12345678")}
		if !p.matches("12345678") || p.matches("12345679") || p.matches("") {
			t.Fatal("wrong match")
		}
		if (resetItem{Salt: "other", CodeHash: p.CodeHash}).matches("12345678") {
			t.Fatal("the salt does not count")
		}
	})
}

func TestInviteBody(t *testing.T) {
	good := func() inviteBody {
		return inviteBody{Email: ptr(" Ada@Example.com "), FirstName: ptr(" Ada "), LastName: ptr("Lovelace"), Role: ptr("company_admin")}
	}
	t.Run("a good body is cleaned", func(t *testing.T) {
		email, first, last, role, err := good().read()
		if err != nil || email != "ada@example.com" || first != "Ada" || last != "Lovelace" || role != tree.RoleCompanyAdmin {
			t.Fatalf("%q %q %q %q %v", email, first, last, role, err)
		}
	})
	for _, c := range []struct {
		name   string
		edit   func(*inviteBody)
		fields []string
	}{
		{"an empty body names every field", func(b *inviteBody) { *b = inviteBody{} }, []string{"email", "firstName", "lastName", "role"}},
		{"a malformed email", func(b *inviteBody) { b.Email = ptr("not an email") }, []string{"email"}},
		{"a blank name", func(b *inviteBody) { b.LastName = ptr("  ") }, []string{"lastName"}},
		{"an unknown role", func(b *inviteBody) { b.Role = ptr("root") }, []string{"role"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := good()
			c.edit(&b)
			_, _, _, _, err := b.read()
			if p := wantAnswer(t, err, 400, "validation"); !slices.Equal(fields(p), c.fields) {
				t.Fatalf("fields %v, want %v", fields(p), c.fields)
			}
		})
	}
}

func TestUpdateBody(t *testing.T) {
	before := user("u1", identity.StatusActive, tree.RoleOrganizationAdmin)
	before.FirstName, before.LastName = "Ada", "Lovelace"
	t.Run("the fields given change, the others stay", func(t *testing.T) {
		after, err := updateBody{FirstName: ptr(" Grace "), Role: ptr("company_admin")}.apply(before, nil)
		if err != nil || after.FirstName != "Grace" || after.LastName != "Lovelace" || after.Role != tree.RoleCompanyAdmin {
			t.Fatalf("%+v %v", after, err)
		}
		if before.FirstName != "Ada" {
			t.Fatal("the user read was changed")
		}
	})
	for _, c := range []struct {
		name   string
		b      updateBody
		nulls  []string
		fields []string
	}{
		{"a null is refused, with the invalid fields", updateBody{Role: ptr("root")}, []string{"lastName"}, []string{"lastName", "role"}},
		{"a blank name", updateBody{FirstName: ptr("")}, nil, []string{"firstName"}},
		{"a body that names nothing", updateBody{}, nil, []string{"body"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.b.apply(before, c.nulls)
			if p := wantAnswer(t, err, 400, "validation"); !slices.Equal(fields(p), c.fields) {
				t.Fatalf("fields %v, want %v", fields(p), c.fields)
			}
		})
	}
}

func TestMeBody(t *testing.T) {
	first, last, err := meBody{LastName: ptr(" Hopper ")}.read(nil)
	if err != nil || first != "" || last != "Hopper" {
		t.Fatalf("%q %q %v", first, last, err)
	}
	for _, c := range []struct {
		name   string
		b      meBody
		nulls  []string
		fields []string
	}{
		{"a null name", meBody{}, []string{"firstName"}, []string{"firstName"}},
		{"two bad names", meBody{FirstName: ptr(""), LastName: ptr("a\x00b")}, nil, []string{"firstName", "lastName"}},
		{"nothing to change", meBody{}, nil, []string{"body"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := c.b.read(c.nulls)
			if p := wantAnswer(t, err, 400, "validation"); !slices.Equal(fields(p), c.fields) {
				t.Fatalf("fields %v, want %v", fields(p), c.fields)
			}
		})
	}
}

func TestPublicBodies(t *testing.T) {
	const good = "Good-Passw0rd"
	for _, c := range []struct {
		name   string
		b      activateBody
		fields []string
	}{
		{"a token and a good password", activateBody{Token: ptr("t"), Password: ptr(good)}, nil},
		{"nothing", activateBody{}, []string{"token", "password"}},
		{"an empty token", activateBody{Token: ptr(""), Password: ptr(good)}, []string{"token"}},
		{"a token longer than any of ours", activateBody{Token: ptr(strings.Repeat("a", maxToken+1)), Password: ptr(good)}, []string{"token"}},
		{"a password the policy refuses", activateBody{Token: ptr("t"), Password: ptr("short")}, []string{"password", "password", "password"}},
	} {
		t.Run("activate: "+c.name, func(t *testing.T) {
			err := c.b.check()
			if c.fields == nil {
				wantAnswer(t, err, 0, "")
				return
			}
			if p := wantAnswer(t, err, 400, "validation"); !slices.Equal(fields(p), c.fields) {
				t.Fatalf("fields %v, want %v", fields(p), c.fields)
			}
		})
	}
	for _, c := range []struct {
		name   string
		b      resetBody
		fields []string
	}{
		{"an email, a code and a good password", resetBody{Email: ptr("A@b.example"), Code: ptr("12345678"), NewPassword: ptr(good)}, nil},
		{"nothing", resetBody{}, []string{"email", "code", "newPassword"}},
		{"a code that is not 8 digits", resetBody{Email: ptr("a@b.example"), Code: ptr("1234567a"), NewPassword: ptr(good)}, []string{"code"}},
		{"a weak new password", resetBody{Email: ptr("a@b.example"), Code: ptr("12345678"), NewPassword: ptr("alllowercase1")}, []string{"newPassword"}},
	} {
		t.Run("reset: "+c.name, func(t *testing.T) {
			email, err := c.b.read()
			if c.fields == nil {
				if err != nil || email != "a@b.example" {
					t.Fatalf("%q %v", email, err)
				}
				return
			}
			if p := wantAnswer(t, err, 400, "validation"); !slices.Equal(fields(p), c.fields) {
				t.Fatalf("fields %v, want %v", fields(p), c.fields)
			}
		})
	}
}

func TestReadFilters(t *testing.T) {
	const own = "prt_01jh4m5q7n3d9z8s6u4v2x1y0w"
	const org = "org_01jh4m7b2k5n8q1t4w7z0c3f6h"
	for _, c := range []struct {
		name    string
		filters map[string]string
		kind    tree.Kind
		other   bool
		fields  []string
		q       string
	}{
		{"no filters list the caller's own node", map[string]string{}, "", false, nil, ""},
		{"the caller's own node named is not read again", map[string]string{"nodeId": own}, "", false, nil, ""},
		{"another node is read, of the kind its id says", map[string]string{"nodeId": org}, tree.KindOrganization, true, nil, ""},
		{"an end user's record has no console users", map[string]string{"nodeId": "eu_01jh4m9f8h0k2m4p6s8u0w2y4a"}, "", true, []string{"nodeId"}, ""},
		{"the email prefix is trimmed and lower-cased", map[string]string{"q": "  Ada@ "}, "", false, nil, "ada@"},
		{"every bad filter is named", map[string]string{"status": "gone", "role": "root", "q": " "}, "", false, []string{"status", "role", "q"}, ""},
		{"a control character in the prefix", map[string]string{"q": "a\x7f"}, "", false, []string{"q"}, "a\x7f"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, kind, other, errs := readFilters(c.filters, own)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if kind != c.kind || other != c.other || !slices.Equal(got, c.fields) {
				t.Fatalf("kind %q other %v errors %v", kind, other, got)
			}
			if q, ok := c.filters["q"]; ok && c.fields == nil && q != c.q {
				t.Fatalf("q %q, want %q", q, c.q)
			}
		})
	}
}

func TestInvitedAt(t *testing.T) {
	company := tree.Node{ID: "cmp_a", Kind: tree.KindCompany, Path: orgNode.Lineage()}
	for _, c := range []struct {
		name string
		n    tree.Node
		want string
	}{
		{"an invitation to an organization counts against it", orgNode, orgNode.ID},
		{"an invitation to a company counts against it", company, "cmp_a"},
		{"an invitation to the platform counts against the platform", tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}, tree.PlatformID},
		{"an end user's invitation counts against their company", tree.Node{ID: "enu_a", Kind: tree.KindEndUser, Path: company.Lineage()}, "cmp_a"},
	} {
		if got := invitedAt(c.n); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// A resending: the guard's node is the user as a thing below their node; the
	// count is at their node (their company, for an end user's account).
	u := user("u1", identity.StatusInvited, tree.RoleOrganizationAdmin)
	if got := invitationNode(u, targetNode(u)); got != orgNode.ID {
		t.Errorf("a resending counts against %q, want the user's node %q", got, orgNode.ID)
	}
	eu := u
	eu.NodeID, eu.NodeKind, eu.NodePath = "enu_a", tree.KindEndUser, company.Lineage()
	if got := invitationNode(eu, targetNode(eu)); got != "cmp_a" {
		t.Errorf("an end user's resending counts against %q, want their company", got)
	}
	// An invitation: the node invited to, as loaded.
	if got := invitationNode(nil, company); got != "cmp_a" {
		t.Errorf("an invitation to a company counts against %q", got)
	}
}

func TestInvitationsAreLimited(t *testing.T) {
	for name, op := range (&Service{}).Operations() {
		want := name == "users-invite" || name == "users-resend-invite" || name == "end-users-invite"
		if got := op.NodeLimit != nil; got != want {
			t.Errorf("%s: limited %v, want %v", name, got, want)
		} else if got && op.NodeLimit.Name != "invitations" {
			t.Errorf("%s counts %s", name, op.NodeLimit.Name)
		}
	}
}
