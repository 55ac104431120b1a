package signup

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/levels"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// The rules of rules.go in tables: no table, no mail, no local system. The handlers'
// reads and writes are covered by the e2e suite (infra/e2e/signup_test.go).

func ptr[T any](v T) *T { return &v }

// answer is err as a problem, or fails t.
func answer(t *testing.T, err error, status int, slug string) *problem.Problem {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != status || p.Type != problem.TypePrefix+slug {
		t.Fatalf("got %v, want %d %s", err, status, slug)
	}
	return p
}

func fields(p *problem.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func TestSignupForm(t *testing.T) {
	good := func() signupBody {
		return signupBody{OrganizationName: ptr(" Acme "), FirstName: ptr("Ada"), LastName: ptr("Lovelace"), Email: ptr("Ada@Example.COM")}
	}
	t.Run("a good form is cleaned", func(t *testing.T) {
		a, err := good().read()
		if err != nil || a != (application{organizationName: "Acme", firstName: "Ada", lastName: "Lovelace", email: "ada@example.com"}) {
			t.Fatalf("%+v %v", a, err)
		}
	})
	for _, c := range []struct {
		name   string
		edit   func(*signupBody)
		fields []string
	}{
		{"an empty form names every field", func(b *signupBody) { *b = signupBody{} }, []string{"organizationName", "firstName", "lastName", "email"}},
		{"a blank organization name", func(b *signupBody) { b.OrganizationName = ptr("   ") }, []string{"organizationName"}},
		{"a name with a control character", func(b *signupBody) { b.FirstName = ptr("A\tda") }, []string{"firstName"}},
		{"a name too long", func(b *signupBody) { b.LastName = ptr(strings.Repeat("x", nodes.MaxName+1)) }, []string{"lastName"}},
		{"an email with a display name", func(b *signupBody) { b.Email = ptr("Ada <ada@example.com>") }, []string{"email"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := good()
			c.edit(&b)
			_, err := b.read()
			if p := answer(t, err, 400, "validation"); !slices.Equal(fields(p), c.fields) {
				t.Fatalf("fields %v, want %v", fields(p), c.fields)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	partner := func(enabled bool, status string, deleting any) partnerItem {
		return partnerItem{Item: nodes.Item{ID: "prt_a", Kind: tree.KindPartner, Status: status}, SignupEnabled: enabled, Deleting: deleting}
	}
	for _, c := range []struct {
		name string
		p    partnerItem
		want bool
	}{
		{"an active partner with signup on", partner(true, levels.StatusActive, nil), true},
		{"signup is off by default", partner(false, levels.StatusActive, nil), false},
		{"a suspended partner takes none", partner(true, levels.StatusSuspended, nil), false},
		{"a partner being deleted takes none", partner(true, levels.StatusActive, "2026-01-01T00:00:00Z"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := open(c.p); got != c.want {
				t.Fatalf("open = %v", got)
			}
		})
	}
}

func TestSettingsVerb(t *testing.T) {
	if settingsVerb(true) != "signup-enabled" || settingsVerb(false) != "signup-disabled" {
		t.Fatal("wrong verbs")
	}
}

func TestVerificationToken(t *testing.T) {
	id := nodes.NewID(tree.KindOrganization)
	token := newToken(id)
	t.Run("a token of ours names its organization", func(t *testing.T) {
		got, ok := tokenOrganization(token)
		if !ok || got != id || len(token) > maxToken {
			t.Fatalf("%q %v (token of %d characters)", got, ok, len(token))
		}
	})
	for _, c := range []struct{ name, token string }{
		{"no dot, no id", "nope"},
		{"another kind's id", nodes.NewID(tree.KindCompany) + ".x"},
		{"an upper-case id", strings.ToUpper(id) + ".x"},
		{"longer than any of ours", id + "." + strings.Repeat("a", maxToken)},
	} {
		t.Run("refused without a read: "+c.name, func(t *testing.T) {
			if _, ok := tokenOrganization(c.token); ok {
				t.Fatal("accepted")
			}
		})
	}

	now := time.Unix(1_000_000, 0)
	pending := item{Status: StatusUnverified, TokenHash: hashToken(token), ExpiresAt: now.Unix() + 60}
	for _, c := range []struct {
		name string
		sg   item
		hash string
		want bool
	}{
		{"an unverified signup and its own token", pending, hashToken(token), true},
		{"another token", pending, hashToken(token + "x"), false},
		{"a signup already verified", item{Status: StatusVerified, TokenHash: pending.TokenHash, ExpiresAt: pending.ExpiresAt}, hashToken(token), false},
		{"a link at its expiry", item{Status: StatusUnverified, TokenHash: pending.TokenHash, ExpiresAt: now.Unix()}, hashToken(token), false},
	} {
		t.Run("verifiable: "+c.name, func(t *testing.T) {
			if got := c.sg.verifiable(c.hash, now); got != c.want {
				t.Fatalf("verifiable = %v", got)
			}
		})
	}
}

func TestSubmitted(t *testing.T) {
	for status, want := range map[string]bool{StatusUnverified: false, StatusVerified: true, StatusApproved: true, StatusRejected: true} {
		if got := (item{Status: status}).submitted(); got != want {
			t.Errorf("%s: submitted = %v", status, got)
		}
	}
}

func TestMayDecide(t *testing.T) {
	for _, c := range []struct {
		name   string
		status string
		ok     bool
	}{
		{"a pending organization is decided", levels.StatusPending, true},
		{"an approved one is not decided again", levels.StatusApproved, false},
		{"a rejected one is not decided again", levels.StatusRejected, false},
		{"an organization made through the API was never pending", levels.StatusDeactivated, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := mayDecide(nodes.Item{Status: c.status}, "approved")
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			p := answer(t, err, 409, "invalid-transition")
			if !strings.Contains(p.Detail, "is "+c.status+"; only a pending one can be approved") {
				t.Fatalf("detail %q", p.Detail)
			}
		})
	}
	t.Run("an applicant whose email was taken meanwhile is email-taken, with why", func(t *testing.T) {
		if p := answer(t, applicantEmailTaken(), 409, "email-taken"); !strings.Contains(p.Detail, "reject the signup") {
			t.Fatalf("detail %q", p.Detail)
		}
	})
}

func TestValidReason(t *testing.T) {
	t.Run("a reason is trimmed; line breaks and tabs stay", func(t *testing.T) {
		got, err := validReason(ptr("  not a fit\n\tsorry  "))
		if err != nil || got != "not a fit\n\tsorry" {
			t.Fatalf("%q %v", got, err)
		}
	})
	t.Run("the longest reason counts characters, not bytes", func(t *testing.T) {
		if _, err := validReason(ptr(strings.Repeat("é", MaxReason))); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct {
		name   string
		reason *string
		detail string
	}{
		{"missing", nil, "the body is invalid"},
		{"blank", ptr(" \n "), "the reason is empty"},
		{"too long", ptr(strings.Repeat("a", MaxReason+1)), "the reason is too long"},
		{"a control character", ptr("no\x00pe"), "the reason has a control character"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := validReason(c.reason)
			if p := answer(t, err, 400, "validation"); p.Detail != c.detail || fields(p)[0] != "reason" {
				t.Fatalf("%+v", p)
			}
		})
	}
}

func TestApplicant(t *testing.T) {
	sg := item{ID: "org_1", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Status: StatusVerified}
	// The applicant has no account yet: the change record names them by their signup.
	if a := applicant(sg); a.UserID != "signup:org_1" || a.Email != sg.Email || a.Role != RoleAnonymous {
		t.Fatalf("actor %+v", a)
	}
	f := applicantFields(sg, map[string]any{"name": "Acme"})
	if f["name"] != "Acme" || f["applicantEmail"] != sg.Email || f["applicantFirstName"] != "Ada" || f["applicantLastName"] != "Lovelace" {
		t.Fatalf("fields %v", f)
	}
	if v := viewOf(sg); v.OrganizationID != "org_1" || v.Email != sg.Email || v.Status != StatusVerified {
		t.Fatalf("view %+v", v)
	}
}

func TestTokensAndFixedAnswers(t *testing.T) {
	a, b := newToken("org_x"), newToken("org_x")
	if a == b || !strings.HasPrefix(a, "org_x.") || hashToken(a) == hashToken(b) || strings.Contains(hashToken(a), a) {
		t.Fatalf("tokens %q %q", a, b)
	}
	if problemOf(invalidToken()).Status != 400 || problemOf(closed()).Status != 404 || problemOf(nameTaken()).Status != 409 || problemOf(noSignup()).Status != 404 {
		t.Fatal("wrong answers")
	}
}

func problemOf(err error) *problem.Problem {
	var p *problem.Problem
	if !errors.As(err, &p) {
		return &problem.Problem{}
	}
	return p
}
