package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
	"opsconsole/shared/users"
)

const newPassword = "Activated-Passw0rd"

var activationLink = regexp.MustCompile(`http://localhost:3000/activate\?token=([A-Za-z0-9_-]+)`)

func TestInviteActivateSignIn(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	brandPartner(t, part.ID, map[string]string{
		mail.AttrBrandName: "Acme Cloud", mail.AttrLogoURL: "https://cdn.example.com/acme.png",
		mail.AttrBrandColour: "#ff6600", mail.AttrSupportEmail: "help@acme.example",
	})
	email := testEmail("invitee")
	u := inviteUser(t, tok, part.ID, tree.RolePartnerAdmin, strings.ToUpper(email))
	if u.Email != email || u.Status != "invited" || u.MFAEnrolled || u.NodeID != part.ID || u.NodeKind != "partner" || u.Role != "partner_admin" || u.Version != 1 {
		t.Fatalf("invited %+v", u)
	}

	m := mailTo(t, email, "You are invited to Acme Cloud")
	if len(m.From) != 1 || m.From[0].Name != "Acme Cloud" || m.From[0].Address != "no-reply@example.com" {
		t.Errorf("from %+v", m.From)
	}
	for _, want := range []string{"Hello Jane,", adminEmail + " invited you to Acme Cloud as partner admin of " + part.Name, "72 hours", "help@acme.example"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the text part lacks %q:\n%s", want, m.Text)
		}
	}
	token := activationLink.FindStringSubmatch(m.Text)
	if token == nil || !strings.Contains(m.HTML, `href="`+token[0]+`"`) {
		t.Fatalf("the link is not in both parts:\n%s\n%s", m.Text, m.HTML)
	}
	for _, want := range []string{`src="https://cdn.example.com/acme.png"`, "background:#ff6600", "mailto:help@acme.example"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the HTML part lacks %q", want)
		}
	}

	t.Run("an invited user cannot sign in to the API yet", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": email, "password": newPassword}})
		res.problem(t, 401, "invalid-credentials")
	})
	t.Run("a weak password is refused, naming every broken rule", func(t *testing.T) {
		p := activate(t, token[1], "short").problem(t, 400, "validation")
		var msgs []string
		for _, e := range p.Errors {
			if e.Field == "password" {
				msgs = append(msgs, e.Message)
			}
		}
		joined := strings.Join(msgs, "; ")
		for _, want := range []string{"at least 12 characters", "upper-case letter", "digit"} {
			if !strings.Contains(joined, want) {
				t.Errorf("errors %q lack %q", joined, want)
			}
		}
	})
	t.Run("activation sets the password and the user signs in", func(t *testing.T) {
		activate(t, token[1], newPassword).expect(t, 204)
		userTok := login(t, email, newPassword)
		var me struct {
			Email, Role, Status string
		}
		do(t, req{method: "GET", path: "/v1/me", token: userTok}).json(t, &me)
		if me.Email != email || me.Role != "partner_admin" || me.Status != "active" {
			t.Fatalf("me %+v", me)
		}
		var got userView
		do(t, req{method: "GET", path: "/v1/users/" + u.ID, token: tok}).json(t, &got)
		if got.Status != "active" || got.Version != 2 {
			t.Fatalf("after activation %+v", got)
		}
	})
	t.Run("the link works once", func(t *testing.T) {
		used := activate(t, token[1], newPassword)
		used.problem(t, 400, "invalid-token")
		unknown := activate(t, "no-such-token", newPassword)
		if string(used.Body) != string(unknown.Body) {
			t.Fatalf("answers differ:\n%s\n%s", used.Body, unknown.Body)
		}
	})
	t.Run("the email is taken", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/users", token: tok, body: map[string]string{
			"email": email, "firstName": "J", "lastName": "D", "role": "partner_admin", "nodeId": part.ID,
		}})
		res.problem(t, 409, "email-taken").field(t, "email")
	})
	t.Run("the audit log names the invitation and the activation", func(t *testing.T) {
		eventually(t, 5*time.Second, func() error {
			res := do(t, req{method: "GET", path: "/v1/audit-logs?targetType=user&limit=100", token: tok})
			var page struct {
				Items []struct {
					Action string `json:"action"`
					Target struct{ ID string }
					Actor  struct{ UserID string }
				}
			}
			res.json(t, &page)
			var got []string
			for _, e := range page.Items {
				if e.Target.ID == u.ID {
					got = append(got, e.Action)
				}
			}
			if !slices.Contains(got, "user.invited") || !slices.Contains(got, "user.activated") {
				return fmt.Errorf("actions %v", got)
			}
			return nil
		})
	})
}

func TestActivationLinksExpireAndAreReplaced(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)

	t.Run("an expired link is refused like an unknown one", func(t *testing.T) {
		email := testEmail("expired")
		inviteUser(t, tok, part.ID, tree.RolePartnerAdmin, email)
		token := activationToken(t, email)
		past := time.Now().Add(-time.Minute).Unix()
		if _, err := st.UpdateOne(t0(), store.Edit(users.ActivationKey(users.HashToken(token)), store.Expr{
			Update: "SET expiresAt = :p", Values: map[string]any{":p": past},
		})); err != nil {
			t.Fatal(err)
		}
		expired := activate(t, token, newPassword)
		expired.problem(t, 400, "invalid-token")
		unknown := activate(t, "x"+token, newPassword)
		if string(expired.Body) != string(unknown.Body) {
			t.Fatalf("answers differ:\n%s\n%s", expired.Body, unknown.Body)
		}
	})
	t.Run("resending replaces the link", func(t *testing.T) {
		email := testEmail("resent")
		u := inviteUser(t, tok, part.ID, tree.RolePartnerAdmin, email)
		old := activationToken(t, email)
		res := do(t, req{method: "POST", path: "/v1/users/" + u.ID + "/resend-invite", token: tok, header: map[string]string{"If-Match": `"1"`}})
		var after userView
		res.json(t, &after)
		if after.Status != "invited" || after.Version != 2 || res.Header.Get("ETag") != `"2"` {
			t.Fatalf("resent %+v", after)
		}
		var fresh string
		eventually(t, 5*time.Second, func() error {
			if fresh = activationToken(t, email); fresh == old {
				return fmt.Errorf("no new link yet")
			}
			return nil
		})
		activate(t, old, newPassword).problem(t, 400, "invalid-token")
		activate(t, fresh, newPassword).expect(t, 204)
		login(t, email, newPassword)
		do(t, req{method: "POST", path: "/v1/users/" + u.ID + "/resend-invite", token: tok}).problem(t, 409, "invalid-transition")
	})
}

func TestDeactivationRefusesTheNextCall(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	pn := nodeOf(t, part.ID)
	userTok, userID := userAt(t, tree.RolePartnerAdmin, pn)
	otherTok, otherID := userAt(t, tree.RolePartnerAdmin, pn)
	do(t, req{method: "GET", path: "/v1/me", token: userTok}).expect(t, 200)

	t.Run("a user cannot deactivate or delete themselves", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/users/" + otherID + "/deactivate", token: otherTok}).problem(t, 403, "forbidden")
		do(t, req{method: "DELETE", path: "/v1/users/" + otherID, token: otherTok}).problem(t, 403, "forbidden")
	})
	t.Run("deactivated: the still-valid token is refused at once", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/users/" + userID + "/deactivate", token: otherTok})
		var u userView
		res.json(t, &u)
		if u.Status != "deactivated" {
			t.Fatalf("%+v", u)
		}
		do(t, req{method: "GET", path: "/v1/me", token: userTok}).problem(t, 403, "no-console-access")
		do(t, req{method: "GET", path: "/v1/users", token: userTok}).problem(t, 403, "no-console-access")
		do(t, req{method: "POST", path: "/v1/users/" + userID + "/deactivate", token: otherTok}).problem(t, 409, "invalid-transition")
	})
	t.Run("reactivated: the user signs in again and works", func(t *testing.T) {
		var u userView
		do(t, req{method: "POST", path: "/v1/users/" + userID + "/reactivate", token: tok}).json(t, &u)
		if u.Status != "active" {
			t.Fatalf("%+v", u)
		}
		var email struct{ Email string }
		do(t, req{method: "GET", path: "/v1/users/" + userID, token: tok}).json(t, &email)
		fresh := login(t, email.Email, "User-Passw0rd-Test")
		do(t, req{method: "GET", path: "/v1/me", token: fresh}).expect(t, 200)
	})
}

func TestLastAdminGuard(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	pn := nodeOf(t, part.ID)
	_, onlyID := userAt(t, tree.RolePartnerAdmin, pn)

	list := func() userPage {
		var p userPage
		do(t, req{method: "GET", path: "/v1/users?nodeId=" + part.ID, token: tok}).json(t, &p)
		return p
	}
	if p := list(); p.ActiveAdmins != 1 || !p.FewerThanTwoAdmins {
		t.Fatalf("one admin: %+v", p)
	}
	t.Run("the only admin cannot be deactivated, demoted or deleted", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/users/" + onlyID + "/deactivate", token: tok}).problem(t, 409, "last-admin")
		do(t, req{method: "DELETE", path: "/v1/users/" + onlyID, token: tok}).problem(t, 409, "last-admin")
		// A partner holds one console role: any other role is not the level's.
		do(t, req{method: "PATCH", path: "/v1/users/" + onlyID, token: tok, body: map[string]string{"role": "organization_admin"}}).
			problem(t, 400, "validation").field(t, "role")
		var u userView
		do(t, req{method: "GET", path: "/v1/users/" + onlyID, token: tok}).json(t, &u)
		if u.Status != "active" {
			t.Fatalf("%+v", u)
		}
	})
	t.Run("of two admins deactivated at once, exactly one goes", func(t *testing.T) {
		_, secondID := userAt(t, tree.RolePartnerAdmin, pn)
		if p := list(); p.ActiveAdmins != 2 || p.FewerThanTwoAdmins {
			t.Fatalf("two admins: %+v", p)
		}
		for round := range 3 {
			ids := []string{onlyID, secondID}
			statuses := concurrently(t, 2, func(i int) req {
				return req{method: "POST", path: "/v1/users/" + ids[i] + "/deactivate", token: tok}
			})
			slices.Sort(statuses)
			if !slices.Equal(statuses, []int{200, 409}) {
				t.Fatalf("round %d: statuses %v", round, statuses)
			}
			if p := list(); p.ActiveAdmins != 1 {
				t.Fatalf("round %d: %d active admins", round, p.ActiveAdmins)
			}
			// Bring the deactivated one back for the next round.
			var page userPage
			do(t, req{method: "GET", path: "/v1/users?status=deactivated&nodeId=" + part.ID, token: tok}).json(t, &page)
			if len(page.Items) != 1 {
				t.Fatalf("deactivated: %+v", page)
			}
			do(t, req{method: "POST", path: "/v1/users/" + page.Items[0].ID + "/reactivate", token: tok}).expect(t, 200)
		}
	})
	t.Run("with two, one can be deleted", func(t *testing.T) {
		do(t, req{method: "DELETE", path: "/v1/users/" + onlyID, token: tok, header: map[string]string{"If-Match": `"999"`}}).problem(t, 412, "stale")
		do(t, req{method: "DELETE", path: "/v1/users/" + onlyID, token: tok}).expect(t, 204)
		do(t, req{method: "GET", path: "/v1/users/" + onlyID, token: tok}).problem(t, 404, "not-found")
		if p := list(); p.ActiveAdmins != 1 || !p.FewerThanTwoAdmins {
			t.Fatalf("after the delete: %+v", p)
		}
	})
}

func TestInviteRolesAndBranches(t *testing.T) {
	tok := admin(t)
	dist, part := partnerTree(t)
	otherPart := createPartner(t, tok, dist.ID, unique("Users Other Partner"))
	org := createOrganization(t, tok, part.ID, unique("Users Org"))
	partnerTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	invite := func(token, nodeID, role string) response {
		return do(t, req{method: "POST", path: "/v1/users", token: token, body: map[string]string{
			"email": testEmail("roles"), "firstName": "R", "lastName": "S", "role": role, "nodeId": nodeID,
		}})
	}
	t.Run("a role above the inviter's is refused", func(t *testing.T) {
		invite(partnerTok, part.ID, "distributor_admin").problem(t, 403, "forbidden")
		invite(partnerTok, part.ID, "platform_admin").problem(t, 403, "forbidden")
	})
	t.Run("the role must be the node's level's", func(t *testing.T) {
		invite(partnerTok, org.ID, "partner_admin").problem(t, 400, "validation").field(t, "role")
		invite(tok, tree.PlatformID, "end_user").problem(t, 400, "validation").field(t, "role")
	})
	t.Run("below the inviter, the level's role is fine", func(t *testing.T) {
		invite(partnerTok, org.ID, "organization_admin").expect(t, 201)
		invite(partnerTok, part.ID, "partner_admin").expect(t, 201)
	})
	t.Run("a node outside the branch reads like a missing one", func(t *testing.T) {
		foreign := invite(partnerTok, otherPart.ID, "partner_admin")
		missing := invite(partnerTok, nodes.NewID(tree.KindPartner), "partner_admin")
		sameAnswer(t, foreign, missing, 404, "not-found")
		invite(partnerTok, dist.ID, "distributor_admin").problem(t, 404, "not-found")
		invite(partnerTok, "nope", "partner_admin").problem(t, 400, "validation").field(t, "nodeId")
	})
	t.Run("a user outside the branch reads like a missing one", func(t *testing.T) {
		_, foreignID := userAt(t, tree.RolePartnerAdmin, nodeOf(t, otherPart.ID))
		for _, r := range []req{
			{method: "GET", path: "/v1/users/%s"},
			{method: "POST", path: "/v1/users/%s/deactivate"},
			{method: "DELETE", path: "/v1/users/%s"},
			{method: "PATCH", path: "/v1/users/%s", body: map[string]string{"firstName": "X"}},
		} {
			foreign, missing := r, r
			foreign.path, missing.path = fmt.Sprintf(r.path, foreignID), fmt.Sprintf(r.path, "00000000-0000-4000-8000-000000000000")
			foreign.token, missing.token = partnerTok, partnerTok
			sameAnswer(t, do(t, foreign), do(t, missing), 404, "not-found")
		}
		foreignList := do(t, req{method: "GET", path: "/v1/users?nodeId=" + otherPart.ID, token: partnerTok})
		missingList := do(t, req{method: "GET", path: "/v1/users?nodeId=" + nodes.NewID(tree.KindPartner), token: partnerTok})
		sameAnswer(t, foreignList, missingList, 404, "not-found")
	})
	t.Run("an end user has no say over console users", func(t *testing.T) {
		cmp := createCompany(t, tok, org.ID, unique("Users Cmp"))
		euTok, _ := userAt(t, tree.RoleEndUser, nodeOf(t, cmp.ID))
		invite(euTok, cmp.ID, "company_admin").problem(t, 403, "forbidden")
		do(t, req{method: "GET", path: "/v1/users", token: euTok}).problem(t, 403, "forbidden")
	})
}

func TestListUsers(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	tag := fmt.Sprintf("list%d", time.Now().UnixNano())
	var invited []userView
	for i := range 3 {
		invited = append(invited, inviteUser(t, tok, part.ID, tree.RolePartnerAdmin, fmt.Sprintf("%s-%c@example.com", tag, 'a'+i)))
	}
	_, activeID := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	page := func(q string) userPage {
		t.Helper()
		var p userPage
		do(t, req{method: "GET", path: "/v1/users?nodeId=" + part.ID + q, token: tok}).json(t, &p)
		return p
	}
	emails := func(p userPage) []string {
		var out []string
		for _, u := range p.Items {
			out = append(out, u.Email)
		}
		return out
	}
	t.Run("all, sorted by email, with the admin count", func(t *testing.T) {
		p := page("")
		if len(p.Items) != 4 || p.NodeID != part.ID || p.NodeKind != "partner" || p.ActiveAdmins != 1 || !p.FewerThanTwoAdmins || p.NextCursor != nil {
			t.Fatalf("%+v", p)
		}
		if got := emails(p); !slices.IsSorted(got) {
			t.Errorf("not sorted: %v", got)
		}
	})
	t.Run("paging", func(t *testing.T) {
		first := page("&limit=2&q=" + tag)
		if len(first.Items) != 2 || first.NextCursor == nil {
			t.Fatalf("first page %+v", first)
		}
		second := page("&limit=2&q=" + tag + "&cursor=" + urlq(*first.NextCursor))
		if len(second.Items) != 1 || second.NextCursor != nil {
			t.Fatalf("second page %+v", second)
		}
		got := append(emails(first), emails(second)...)
		want := []string{invited[0].Email, invited[1].Email, invited[2].Email}
		if !slices.Equal(got, want) {
			t.Fatalf("pages %v, want %v", got, want)
		}
		do(t, req{method: "GET", path: "/v1/users?nodeId=" + part.ID + "&limit=2&cursor=" + urlq(*first.NextCursor), token: tok}).
			problem(t, 400, "invalid-cursor")
	})
	t.Run("filters", func(t *testing.T) {
		if p := page("&status=invited"); len(p.Items) != 3 {
			t.Errorf("invited: %v", emails(p))
		}
		if p := page("&status=active"); len(p.Items) != 1 || p.Items[0].ID != activeID || p.Items[0].MFAEnrolled {
			t.Errorf("active: %+v", p.Items)
		}
		if p := page("&status=deactivated"); len(p.Items) != 0 || p.ActiveAdmins != 1 {
			t.Errorf("deactivated: %+v", p)
		}
		if p := page("&role=partner_admin&q=" + strings.ToUpper(tag)); len(p.Items) != 3 {
			t.Errorf("role and q: %v", emails(p))
		}
		if p := page("&role=company_admin"); len(p.Items) != 0 {
			t.Errorf("another role: %v", emails(p))
		}
		if p := page("&status=invited&q=" + tag + "-b"); len(p.Items) != 1 || p.Items[0].ID != invited[1].ID {
			t.Errorf("status and q: %v", emails(p))
		}
		do(t, req{method: "GET", path: "/v1/users?status=gone", token: tok}).problem(t, 400, "validation").field(t, "status")
		do(t, req{method: "GET", path: "/v1/users?role=root", token: tok}).problem(t, 400, "validation").field(t, "role")
	})
	t.Run("without nodeId, the caller's own node", func(t *testing.T) {
		var p userPage
		do(t, req{method: "GET", path: "/v1/users?q=" + urlq(adminEmail), token: tok}).json(t, &p)
		if p.NodeID != tree.PlatformID || len(p.Items) != 1 || p.Items[0].Email != adminEmail || p.ActiveAdmins < 1 {
			t.Fatalf("%+v", p)
		}
	})
}

var resetCode = regexp.MustCompile(`\b([0-9]{8})\b`)

func forgot(t *testing.T, email string) response {
	t.Helper()
	return do(t, req{method: "POST", path: users.PathForgotPassword, body: map[string]string{"email": email}})
}

func reset(t *testing.T, email, code, password string) response {
	t.Helper()
	return do(t, req{method: "POST", path: users.PathResetPassword, body: map[string]string{"email": email, "code": code, "newPassword": password}})
}

func TestForgottenPassword(t *testing.T) {
	_, part := partnerTree(t)
	oldTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	var me struct{ Email string }
	do(t, req{method: "GET", path: "/v1/me", token: oldTok}).json(t, &me)
	email := me.Email

	known := forgot(t, strings.ToUpper(email))
	known.expect(t, 202)
	unknownEmail := testEmail("nobody")
	unknown := forgot(t, unknownEmail)
	if unknown.Status != 202 || string(unknown.Body) != string(known.Body) {
		t.Fatalf("answers differ:\n%d %s\n%d %s", known.Status, known.Body, unknown.Status, unknown.Body)
	}
	m := mailTo(t, email, "password reset code")
	code := resetCode.FindStringSubmatch(m.Text)
	if code == nil || !strings.Contains(m.HTML, code[1]) || !strings.Contains(m.Text, "reset-password?email=") {
		t.Fatalf("no code in %q", m.Text)
	}
	const reset1 = "Reset-Passw0rd-One"

	t.Run("a wrong code, an unknown email and a weak password", func(t *testing.T) {
		wrong := fmt.Sprintf("%08d", (mustAtoi(t, code[1])+1)%100_000_000)
		bad := reset(t, email, wrong, reset1)
		bad.problem(t, 400, "invalid-code")
		none := reset(t, unknownEmail, code[1], reset1)
		if string(bad.Body) != string(none.Body) {
			t.Fatalf("answers differ:\n%s\n%s", bad.Body, none.Body)
		}
		reset(t, email, code[1], "weakpassword").problem(t, 400, "validation").field(t, "newPassword")
	})
	t.Run("the right code sets the password and ends the sessions", func(t *testing.T) {
		// Sign-outs are kept to the second, like the tokens' iat: a token issued in the
		// same second as the reset would still pass, so let that second end first.
		time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0)))
		reset(t, email, code[1], reset1).expect(t, 204)
		res := do(t, req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": email, "password": "User-Passw0rd-Test"}})
		res.problem(t, 401, "invalid-credentials")
		newTok := login(t, email, reset1)
		do(t, req{method: "GET", path: "/v1/me", token: newTok}).expect(t, 200)
		if res := do(t, req{method: "GET", path: "/v1/me", token: oldTok}); res.Status != 401 {
			t.Fatalf("the token from before the reset: %d %s", res.Status, res.Body)
		}
		reset(t, email, code[1], "Reset-Passw0rd-Two").problem(t, 400, "invalid-code")
	})
	t.Run("an unknown email gets no mail", func(t *testing.T) {
		if n := mailsTo(t, unknownEmail); n != 0 {
			t.Fatalf("%d messages to an unknown address", n)
		}
	})
	t.Run("a code dies after five wrong tries", func(t *testing.T) {
		forgot(t, email).expect(t, 202)
		var fresh []string
		eventually(t, 5*time.Second, func() error {
			fresh = resetCode.FindStringSubmatch(mailTo(t, email, "password reset code").Text)
			if fresh == nil || fresh[1] == code[1] {
				return fmt.Errorf("no new code yet")
			}
			return nil
		})
		wrong := fmt.Sprintf("%08d", (mustAtoi(t, fresh[1])+1)%100_000_000)
		for range users.ResetMaxAttempts {
			reset(t, email, wrong, "Reset-Passw0rd-Three").problem(t, 400, "invalid-code")
		}
		reset(t, email, fresh[1], "Reset-Passw0rd-Three").problem(t, 400, "invalid-code")
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestForgottenPasswordIsRateLimited(t *testing.T) {
	t.Run("per email", func(t *testing.T) {
		email := testEmail("hammered")
		for i := range users.DefaultLimits.ForgotPerEmail {
			if res := forgot(t, email); res.Status != 202 {
				t.Fatalf("request %d: %d %s", i+1, res.Status, res.Body)
			}
		}
		res := forgot(t, email)
		res.problem(t, 429, "throttled")
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 901 {
			t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
		}
	})
	t.Run("per address", func(t *testing.T) {
		// Every test request comes from 127.0.0.1: fill the address's window directly,
		// then give it back.
		window := time.Now().Unix() / 900 * 900
		key := store.Key("THROTTLE#forgot-ip#127.0.0.1", "WINDOW#"+strconv.FormatInt(window, 10))
		var saved struct {
			Attempts int `dynamodbav:"attempts"`
		}
		_ = st.Get(t0(), key, &saved)
		set := func(n int) {
			if _, err := st.UpdateOne(t0(), store.Edit(key, store.Expr{
				Update: "SET attempts = :n, expiresAt = :e",
				Values: map[string]any{":n": n, ":e": window + 900},
			})); err != nil {
				t.Fatal(err)
			}
		}
		set(users.DefaultLimits.ForgotPerIP)
		defer set(saved.Attempts)
		forgot(t, testEmail("fresh")).problem(t, 429, "throttled")
	})
}

func TestUpdateUser(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	u := inviteUser(t, tok, part.ID, tree.RolePartnerAdmin, testEmail("patched"))
	path := "/v1/users/" + u.ID
	do(t, req{method: "PATCH", path: path, token: tok, body: map[string]string{"firstName": "X"}, header: map[string]string{"If-Match": `"7"`}}).problem(t, 412, "stale")
	res := do(t, req{method: "PATCH", path: path, token: tok, body: map[string]string{"firstName": " Janet ", "lastName": "Roe"}, header: map[string]string{"If-Match": `"1"`}})
	var got userView
	res.json(t, &got)
	if got.FirstName != "Janet" || got.LastName != "Roe" || got.Version != 2 || got.Status != "invited" || res.Header.Get("ETag") != `"2"` {
		t.Fatalf("%+v", got)
	}
	do(t, req{method: "PATCH", path: path, token: tok, body: map[string]any{"firstName": nil}}).problem(t, 400, "validation").field(t, "firstName")
	do(t, req{method: "PATCH", path: path, token: tok, body: map[string]any{"email": "a@example.com"}}).problem(t, 400, "validation").field(t, "email")
	do(t, req{method: "PATCH", path: path, token: tok, body: map[string]any{}}).problem(t, 400, "validation")
	same := do(t, req{method: "PATCH", path: path, token: tok, body: map[string]string{"role": "partner_admin"}})
	same.json(t, &got)
	if got.Version != 2 {
		t.Fatalf("an update that changes nothing wrote: %+v", got)
	}
	// An invited user can be deleted (and so can their pending link).
	do(t, req{method: "DELETE", path: path, token: tok}).expect(t, 204)
}

func TestInviteIsIdempotent(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	email := testEmail("idempotent")
	body := map[string]string{"email": email, "firstName": "I", "lastName": "D", "role": "partner_admin", "nodeId": part.ID}
	key := map[string]string{"Idempotency-Key": "invite-" + email}
	first := do(t, req{method: "POST", path: "/v1/users", token: tok, body: body, header: key})
	first.expect(t, 201)
	again := do(t, req{method: "POST", path: "/v1/users", token: tok, body: body, header: key})
	if again.Status != 201 || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s %v", again.Status, again.Body, again.Header)
	}
	if n := mailsTo(t, email); n != 1 {
		t.Fatalf("%d invitations sent", n)
	}
	body["firstName"] = "Other"
	do(t, req{method: "POST", path: "/v1/users", token: tok, body: body, header: key}).problem(t, 422, "idempotency-key-reused")
}
