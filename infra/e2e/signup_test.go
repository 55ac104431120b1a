package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/infra/local"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

var verifyLink = regexp.MustCompile(`http://localhost:3000/signup/verify\?token=([A-Za-z0-9_.-]+)`)

type signupSettings struct {
	PartnerID string `json:"partnerId"`
	Enabled   bool   `json:"enabled"`
}

type orgView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	PartnerID string `json:"partnerId"`
	Version   int    `json:"version"`
}

func signUp(t *testing.T, partnerID, orgName, email string) response {
	t.Helper()
	return do(t, req{method: "POST", path: "/v1/signup/" + partnerID, body: map[string]string{
		"organizationName": orgName, "firstName": "Ada", "lastName": "Lovelace", "email": email,
	}})
}

// verificationToken reads the token of the newest verification email to address.
func verificationToken(t *testing.T, address string) (string, local.Email) {
	t.Helper()
	m := mailTo(t, address, "Confirm your")
	got := verifyLink.FindStringSubmatch(m.Text)
	if got == nil {
		t.Fatalf("no verification link in %q", m.Text)
	}
	if !strings.Contains(m.HTML, `href="`+got[0]+`"`) {
		t.Fatalf("the link is not in the HTML part:\n%s", m.HTML)
	}
	return got[1], m
}

func verify(t *testing.T, token string) response {
	t.Helper()
	return do(t, req{method: "POST", path: "/v1/signup/verify", body: map[string]string{"token": token}})
}

// orgNames lists the names of a partner's organizations, those with status when given.
func orgNames(t *testing.T, token, partnerID, status string) []string {
	t.Helper()
	path := "/v1/organizations?limit=100&partnerId=" + partnerID
	if status != "" {
		path += "&status=" + status
	}
	var page struct {
		Items []orgView `json:"items"`
	}
	do(t, req{method: "GET", path: path, token: token}).json(t, &page)
	var names []string
	for _, o := range page.Items {
		names = append(names, o.Name)
	}
	return names
}

func TestSelfServiceSignup(t *testing.T) {
	tok := admin(t)
	dist, part := partnerTree(t)
	brandPartner(t, part.ID, map[string]string{mail.AttrBrandName: "Signup Cloud", mail.AttrSupportEmail: "help@signup.example"})
	partnerTok, partnerAdminID := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	distTok, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, dist.ID))
	settings := "/v1/partners/" + part.ID + "/signup"

	t.Run("off until a platform admin turns it on", func(t *testing.T) {
		off := signUp(t, part.ID, unique("Off Org"), testEmail("off"))
		off.problem(t, 404, "not-found")
		missing := signUp(t, nodes.NewID(tree.KindPartner), unique("Off Org"), testEmail("off"))
		if string(off.Body) != string(missing.Body) {
			t.Fatalf("a closed partner and a missing one answer differently:\n%s\n%s", off.Body, missing.Body)
		}
		var s signupSettings
		do(t, req{method: "GET", path: settings, token: partnerTok}).json(t, &s)
		if s.Enabled || s.PartnerID != part.ID {
			t.Fatalf("settings %+v", s)
		}
	})
	t.Run("a distributor admin may not turn it on", func(t *testing.T) {
		do(t, req{method: "PUT", path: settings, token: distTok, body: map[string]bool{"enabled": true}}).problem(t, 403, "forbidden")
		do(t, req{method: "PUT", path: settings, token: partnerTok, body: map[string]bool{"enabled": true}}).problem(t, 403, "forbidden")
	})
	t.Run("a platform admin turns it on, leaving the partner's version alone", func(t *testing.T) {
		var s signupSettings
		do(t, req{method: "PUT", path: settings, token: tok, body: map[string]bool{"enabled": true}}).json(t, &s)
		if !s.Enabled {
			t.Fatalf("settings %+v", s)
		}
		do(t, req{method: "GET", path: settings, token: distTok}).json(t, &s)
		if !s.Enabled {
			t.Fatalf("settings read back %+v", s)
		}
		var p partner
		do(t, req{method: "GET", path: "/v1/partners/" + part.ID, token: tok}).json(t, &p)
		if p.Version != part.Version || p.Name != part.Name {
			t.Fatalf("partner after the switch %+v, before %+v", p, part)
		}
		do(t, req{method: "PUT", path: settings, token: tok, body: map[string]any{}}).problem(t, 400, "validation").field(t, "enabled")
	})

	email := testEmail("applicant")
	orgName := unique("Signup Org")
	var orgID string
	t.Run("signup, verification email, verify: the organization is pending", func(t *testing.T) {
		res := signUp(t, part.ID, orgName, strings.ToUpper(email))
		res.expect(t, 202)
		if strings.TrimSpace(string(res.Body)) != `{"status":"accepted"}` {
			t.Fatalf("body %s", res.Body)
		}
		token, m := verificationToken(t, email)
		if !strings.Contains(m.Subject, "Signup Cloud") {
			t.Errorf("subject %q", m.Subject)
		}
		for _, want := range []string{"Hello Ada,", orgName, "24 hours", "help@signup.example"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("the text part lacks %q:\n%s", want, m.Text)
			}
		}
		if slices.Contains(orgNames(t, partnerTok, part.ID, ""), orgName) {
			t.Fatal("an unverified signup is listed")
		}
		var v struct {
			OrganizationID, OrganizationName, Status string
		}
		verify(t, token).json(t, &v)
		if v.Status != "pending" || v.OrganizationName != orgName || !nodes.ValidID(tree.KindOrganization, v.OrganizationID) {
			t.Fatalf("verified %+v", v)
		}
		orgID = v.OrganizationID
		t.Run("a second verification with the token is refused", func(t *testing.T) {
			used := verify(t, token)
			used.problem(t, 400, "invalid-token").field(t, "token")
			unknown := verify(t, orgID+".nope")
			if string(used.Body) != string(unknown.Body) {
				t.Fatalf("answers differ:\n%s\n%s", used.Body, unknown.Body)
			}
		})
		if !slices.Contains(orgNames(t, partnerTok, part.ID, "pending"), orgName) {
			t.Fatal("the verified signup is not in the partner admin's pending list")
		}
		var sg struct {
			OrganizationID, Email, FirstName, LastName, Status string
		}
		do(t, req{method: "GET", path: "/v1/organizations/" + orgID + "/signup", token: partnerTok}).json(t, &sg)
		if sg.OrganizationID != orgID || sg.Email != email || sg.FirstName != "Ada" || sg.LastName != "Lovelace" || sg.Status != "verified" {
			t.Fatalf("signup %+v", sg)
		}
	})
	if orgID == "" {
		t.FailNow()
	}
	t.Run("a taken name is refused", func(t *testing.T) {
		signUp(t, part.ID, strings.ToLower(orgName), testEmail("taken")).problem(t, 409, "name-taken").field(t, "organizationName")
	})
	t.Run("approve: approved, and the applicant is invited, activates and signs in", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/organizations/" + orgID + "/approve", token: partnerTok, header: map[string]string{"If-Match": `"7"`}}).problem(t, 412, "stale")
		var o orgView
		res := do(t, req{method: "POST", path: "/v1/organizations/" + orgID + "/approve", token: partnerTok, header: map[string]string{"If-Match": `"1"`}})
		res.json(t, &o)
		if o.Status != "approved" || o.Version != 2 || res.Header.Get("ETag") != `"2"` {
			t.Fatalf("approved %+v %v", o, res.Header)
		}
		m := mailTo(t, email, "You are invited to Signup Cloud")
		if !strings.Contains(m.Text, "organization admin of "+orgName) {
			t.Errorf("invitation text:\n%s", m.Text)
		}
		token := activationLink.FindStringSubmatch(m.Text)
		if token == nil {
			t.Fatalf("no activation link in %s", m.Text)
		}
		activate(t, token[1], newPassword).expect(t, 204)
		userTok := login(t, email, newPassword)
		var me struct {
			Email, Role string
			Node        struct{ ID string }
		}
		do(t, req{method: "GET", path: "/v1/me", token: userTok}).json(t, &me)
		if me.Email != email || me.Role != "organization_admin" || me.Node.ID != orgID {
			t.Fatalf("me %+v", me)
		}
		do(t, req{method: "GET", path: "/v1/organizations/" + orgID, token: userTok}).expect(t, 200)
		do(t, req{method: "POST", path: "/v1/organizations/" + orgID + "/approve", token: partnerTok}).problem(t, 409, "invalid-transition")
		var sg struct{ Status, InvitedUserID, DecidedBy string }
		do(t, req{method: "GET", path: "/v1/organizations/" + orgID + "/signup", token: tok}).json(t, &sg)
		if sg.Status != "approved" || sg.InvitedUserID == "" || sg.DecidedBy != partnerAdminID {
			t.Fatalf("signup after approval %+v", sg)
		}
	})

	email2 := testEmail("rejected")
	orgName2 := unique("Rejected Org")
	var orgID2 string
	t.Run("reject with a reason: the decision email carries it", func(t *testing.T) {
		signUp(t, part.ID, orgName2, email2).expect(t, 202)
		token, _ := verificationToken(t, email2)
		var v struct{ OrganizationID string }
		verify(t, token).json(t, &v)
		orgID2 = v.OrganizationID
		path := "/v1/organizations/" + orgID2 + "/reject"
		do(t, req{method: "POST", path: path, token: partnerTok, body: map[string]string{"reason": "  "}}).problem(t, 400, "validation").field(t, "reason")
		do(t, req{method: "POST", path: path, token: partnerTok, body: map[string]string{"reason": strings.Repeat("x", 501)}}).problem(t, 400, "validation").field(t, "reason")
		do(t, req{method: "POST", path: path, token: partnerTok, body: map[string]any{}}).problem(t, 400, "validation").field(t, "reason")
		reason := "We only serve companies based in the EU."
		var o orgView
		do(t, req{method: "POST", path: path, token: partnerTok, body: map[string]string{"reason": reason}}).json(t, &o)
		if o.Status != "rejected" {
			t.Fatalf("rejected %+v", o)
		}
		m := mailTo(t, email2, "not approved")
		if !strings.Contains(m.Subject, "Signup Cloud") || !strings.Contains(m.Text, reason) || !strings.Contains(m.Text, orgName2) || !strings.Contains(m.HTML, reason) {
			t.Fatalf("decision email %q:\n%s", m.Subject, m.Text)
		}
		do(t, req{method: "GET", path: "/v1/organizations/" + orgID2, token: partnerTok}).json(t, &o)
		if o.Status != "rejected" {
			t.Fatalf("read back %+v", o)
		}
		if !slices.Contains(orgNames(t, partnerTok, part.ID, "rejected"), orgName2) {
			t.Fatal("not in the rejected list")
		}
		do(t, req{method: "POST", path: path, token: partnerTok, body: map[string]string{"reason": reason}}).problem(t, 409, "invalid-transition")
		do(t, req{method: "POST", path: "/v1/organizations/" + orgID2 + "/approve", token: partnerTok}).problem(t, 409, "invalid-transition")
		if n := mailsTo(t, email2); n != 2 {
			t.Fatalf("%d emails to the rejected applicant, want the verification and the decision", n)
		}
		do(t, req{method: "DELETE", path: "/v1/organizations/" + orgID2, token: partnerTok}).expect(t, 204)
	})

	t.Run("an unverified signup never reaches the queue", func(t *testing.T) {
		name := unique("Unverified Org")
		addr := testEmail("unverified")
		signUp(t, part.ID, name, addr).expect(t, 202)
		verificationToken(t, addr)
		for _, status := range []string{"", "pending"} {
			if slices.Contains(orgNames(t, tok, part.ID, status), name) {
				t.Fatalf("the unverified %q is listed (status %q)", name, status)
			}
		}
	})

	t.Run("an email with a console account gets the same answer and no email", func(t *testing.T) {
		before := mailsTo(t, email)
		res := signUp(t, part.ID, unique("Existing Org"), email)
		res.expect(t, 202)
		if strings.TrimSpace(string(res.Body)) != `{"status":"accepted"}` {
			t.Fatalf("body %s", res.Body)
		}
		time.Sleep(300 * time.Millisecond)
		if after := mailsTo(t, email); after != before {
			t.Fatalf("%d emails, then %d", before, after)
		}
	})

	t.Run("rate-limited per email", func(t *testing.T) {
		addr := testEmail("limited")
		for i := range 3 {
			signUp(t, part.ID, unique(fmt.Sprintf("Limited Org %d", i)), addr).expect(t, 202)
		}
		res := signUp(t, part.ID, unique("Limited Org"), addr)
		res.problem(t, 429, "throttled")
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})

	t.Run("a foreign partner admin sees none of it", func(t *testing.T) {
		_, other := partnerTree(t)
		otherTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, other.ID))
		do(t, req{method: "GET", path: "/v1/organizations/" + orgID + "/signup", token: otherTok}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/organizations/" + orgID + "/reject", token: otherTok, body: map[string]string{"reason": "no"}}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: settings, token: otherTok}).problem(t, 404, "not-found")
	})

	t.Run("turned off, signups and pending verifications are refused", func(t *testing.T) {
		addr := testEmail("late")
		name := unique("Late Org")
		signUp(t, part.ID, name, addr).expect(t, 202)
		token, _ := verificationToken(t, addr)
		do(t, req{method: "PUT", path: settings, token: tok, body: map[string]bool{"enabled": false}}).expect(t, 200)
		verify(t, token).problem(t, 404, "not-found")
		signUp(t, part.ID, unique("Late Org"), testEmail("late")).problem(t, 404, "not-found")
	})

	t.Run("the audit log records the switch, the verification and the decisions", func(t *testing.T) {
		eventually(t, 5*time.Second, func() error {
			res := do(t, req{method: "GET", path: "/v1/audit-logs?limit=100&targetType=organization", token: partnerTok})
			var page struct {
				Items []struct {
					Action  string `json:"action"`
					Target  struct{ ID string }
					Actor   struct{ UserID, Role string }
					Changes []struct {
						Field string
						After any
					}
				}
			}
			res.json(t, &page)
			got := map[string]bool{}
			for _, e := range page.Items {
				switch {
				case e.Target.ID == orgID && e.Action == "organization.signup-verified":
					if e.Actor.Role != "anonymous" {
						return fmt.Errorf("verification actor %+v", e.Actor)
					}
					got[e.Action] = true
				case e.Target.ID == orgID && e.Action == "organization.approved" && e.Actor.UserID == partnerAdminID:
					got[e.Action] = true
				case e.Target.ID == orgID2 && e.Action == "organization.rejected":
					raw, _ := json.Marshal(e.Changes)
					if !strings.Contains(string(raw), "EU") {
						return fmt.Errorf("the rejection's record lacks the reason: %s", raw)
					}
					got[e.Action] = true
				}
			}
			if len(got) != 3 {
				return fmt.Errorf("actions %v", got)
			}
			res = do(t, req{method: "GET", path: "/v1/audit-logs?limit=100&targetType=partner", token: tok})
			if !strings.Contains(string(res.Body), "partner.signup-enabled") || !strings.Contains(string(res.Body), "partner.signup-disabled") {
				return fmt.Errorf("no partner.signup-enabled/disabled entries")
			}
			return nil
		})
	})
}
