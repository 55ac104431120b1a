package e2e

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"opsconsole/infra/template"
	"opsconsole/shared/signin"
	"opsconsole/shared/tree"
)

// The sign-in API against the real local system: moto's Cognito (TOTP codes really
// checked), DynamoDB Local, the local API Gateway. moto differs from Cognito in ways
// these tests meet; each is said where it matters and listed in docs/local.md.

// TestTOTPOfRFC6238 checks totp against the test vectors of RFC 6238 (SHA-1, the
// last 6 of its 8 digits).
func TestTOTPOfRFC6238(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for at, want := range map[int64]string{59: "287082", 1111111109: "081804", 1234567890: "005924", 2000000000: "279037"} {
		if got := totp(t, secret, time.Unix(at, 0)); got != want {
			t.Errorf("T=%d: %s, want %s", at, got, want)
		}
	}
}

const signInPassword = "Signin-Passw0rd-Test"

// issuedAt reads a JWT's iat without verifying it (the gateway does).
func issuedAt(t testing.TB, token string) int64 {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		IAT int64 `json:"iat"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.IAT
}

// afterIssue waits until the clock has left the second a token was issued in, so that
// a sign-out recorded now is later than the token (both count in whole seconds).
func afterIssue(t testing.TB, token string) {
	t.Helper()
	for time.Now().Unix() <= issuedAt(t, token) {
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSignInWithTOTP walks a user through the whole sign-in API: password sign-in,
// TOTP enrolment, refresh, sign-out everywhere, the TOTP challenge at the next
// sign-in, and removal.
func TestSignInWithTOTP(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("Signin Dist"))
	email, sub := signInUser(t, tree.RoleDistributorAdmin, nodeOf(t, d.ID))

	first := signIn(t, email, signInPassword)
	if first.AccessToken == "" || first.RefreshToken == "" || first.Challenge != "" {
		t.Fatalf("first sign-in: %+v", first)
	}
	if p := me(t, first.AccessToken); p.MFAEnrolled || p.MFARequired || p.ID != sub {
		t.Fatalf("before enrolment: %+v", p)
	}

	var secret struct{ Secret, OtpauthURI string }
	t.Run("enrolment gives a secret and its otpauth URI", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/me/mfa/totp", token: first.AccessToken}).json(t, &secret)
		want := "otpauth://totp/Operations%20console:" + strings.ReplaceAll(email, "@", "%40") +
			"?secret=" + secret.Secret + "&issuer=Operations%20console"
		if secret.Secret == "" || secret.OtpauthURI != want {
			t.Fatalf("got %+v, want URI %s", secret, want)
		}
		do(t, req{method: "POST", path: "/v1/me/mfa/totp", token: first.AccessToken, body: map[string]any{"x": 1}}).problem(t, 400, "validation").field(t, "x")
	})
	t.Run("a wrong or malformed code does not enrol", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/me/mfa/totp/verify", token: first.AccessToken,
			body: map[string]string{"code": wrongCode(t, secret.Secret)}}).problem(t, 400, "validation").field(t, "code")
		do(t, req{method: "POST", path: "/v1/me/mfa/totp/verify", token: first.AccessToken,
			body: map[string]string{"code": "12345"}}).problem(t, 400, "validation").field(t, "code")
		if me(t, first.AccessToken).MFAEnrolled {
			t.Fatal("enrolled by a wrong code")
		}
	})
	t.Run("the current code enrols, and it is audited", func(t *testing.T) {
		since := time.Now()
		do(t, req{method: "POST", path: "/v1/me/mfa/totp/verify", token: first.AccessToken,
			body: map[string]string{"code": codeNow(t, secret.Secret)}}).expect(t, 204)
		if !me(t, first.AccessToken).MFAEnrolled {
			t.Fatal("not enrolled")
		}
		do(t, req{method: "POST", path: "/v1/me/mfa/totp", token: first.AccessToken}).problem(t, 409, "mfa-already-enrolled")
		eventually(t, 10*time.Second, func() error {
			for _, e := range auditOf(t, tok, sub, since) {
				if e.Action == "user.mfa_enrolled" {
					return nil
				}
			}
			return fmt.Errorf("no user.mfa_enrolled entry for %s", sub)
		})
	})
	t.Run("refresh gives new tokens", func(t *testing.T) {
		var fresh signInAnswer
		do(t, req{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refreshToken": first.RefreshToken}}).json(t, &fresh)
		if fresh.AccessToken == "" || fresh.IDToken == "" || fresh.RefreshToken != "" {
			t.Fatalf("refresh: %+v", fresh)
		}
		me(t, fresh.AccessToken)
	})
	t.Run("sign-out revokes the refresh token and the API refuses the old access token", func(t *testing.T) {
		afterIssue(t, first.AccessToken)
		do(t, req{method: "POST", path: "/v1/auth/logout", token: first.AccessToken}).expect(t, 204)
		do(t, req{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refreshToken": first.RefreshToken}}).problem(t, 401, "invalid-credentials")
		// The gateway lets the token through (it checks signatures offline, like API
		// Gateway); the API knows of the sign-out.
		do(t, req{method: "GET", path: "/v1/me", token: first.AccessToken}).problem(t, 401, "unauthenticated")
		do(t, req{method: "GET", path: "/v1/partners?distributorId=" + d.ID, token: first.AccessToken}).problem(t, 401, "unauthenticated")
		// Signing out again with the revoked token is harmless.
		do(t, req{method: "POST", path: "/v1/auth/logout", token: first.AccessToken}).expect(t, 204)
	})

	var withCode signInAnswer
	t.Run("the next sign-in asks for the TOTP code", func(t *testing.T) {
		challenged := signIn(t, email, signInPassword)
		if challenged.Challenge != "SOFTWARE_TOKEN_MFA" || challenged.Session == "" || challenged.AccessToken != "" {
			t.Fatalf("sign-in after enrolment: %+v", challenged)
		}
		wrong := do(t, req{method: "POST", path: "/v1/auth/challenge", body: map[string]string{
			"email": email, "session": challenged.Session, "code": wrongCode(t, secret.Secret)}})
		p := wrong.problem(t, 401, "invalid-credentials")
		if strings.Contains(p.Detail, "mismatch") || strings.Contains(p.Detail, "Code") {
			t.Fatalf("the answer leaks Cognito's message: %s", wrong.Body)
		}
		// A session is not reused after a wrong code (Cognito may end it; moto does not).
		again := signIn(t, email, signInPassword)
		do(t, req{method: "POST", path: "/v1/auth/challenge", body: map[string]string{
			"email": email, "session": again.Session, "challenge": "SOFTWARE_TOKEN_MFA", "code": codeNow(t, secret.Secret)}}).json(t, &withCode)
		if withCode.AccessToken == "" || withCode.RefreshToken == "" {
			t.Fatalf("challenge answer: %+v", withCode)
		}
		if p := me(t, withCode.AccessToken); !p.MFAEnrolled {
			t.Fatalf("after TOTP sign-in: %+v", p)
		}
	})
	t.Run("bad challenge answers are refused before Cognito", func(t *testing.T) {
		for _, c := range []struct {
			body  map[string]string
			field string
		}{
			{map[string]string{"email": email, "session": "s", "code": "12ab56"}, "code"},
			{map[string]string{"email": email, "code": "123456"}, "session"},
			{map[string]string{"email": "nope", "session": "s", "code": "123456"}, "email"},
			{map[string]string{"email": email, "session": "s", "code": "123456", "challenge": "NEW_PASSWORD_REQUIRED"}, "challenge"},
		} {
			do(t, req{method: "POST", path: "/v1/auth/challenge", body: c.body}).problem(t, 400, "validation").field(t, c.field)
		}
		do(t, req{method: "POST", path: "/v1/auth/refresh", body: map[string]string{}}).problem(t, 400, "validation").field(t, "refreshToken")
		do(t, req{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refreshToken": "not-a-token"}}).problem(t, 401, "invalid-credentials")
	})
	t.Run("removing TOTP when not required", func(t *testing.T) {
		since := time.Now()
		do(t, req{method: "DELETE", path: "/v1/me/mfa/totp", token: withCode.AccessToken}).expect(t, 204)
		if me(t, withCode.AccessToken).MFAEnrolled {
			t.Fatal("still enrolled")
		}
		// Cognito asks for no code from now on. moto does: the Go SDK sends
		// SoftwareTokenMfaSettings {"Enabled": false} as {} (it omits false booleans),
		// which Cognito reads as "off" and moto as "no change".
		if a := signIn(t, email, signInPassword); a.Challenge == "SOFTWARE_TOKEN_MFA" {
			t.Log("moto difference: TOTP still asked for after SetUserMFAPreference disabled it")
		} else if a.AccessToken == "" {
			t.Fatalf("sign-in after removal: %+v", a)
		}
		// Removing again is harmless.
		do(t, req{method: "DELETE", path: "/v1/me/mfa/totp", token: withCode.AccessToken}).expect(t, 204)
		eventually(t, 10*time.Second, func() error {
			n := 0
			for _, e := range auditOf(t, tok, sub, since) {
				if e.Action == "user.mfa_removed" {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("%d user.mfa_removed entries, want 1", n)
			}
			return nil
		})
	})
}

// TestMFARequired turns on mfaRequired for an organization and checks that its users
// and its companies' users can reach nothing but their profile, the enrolment and
// sign-out, on every protected route of the template, until they enrol; and that
// then they must pass TOTP at every sign-in and cannot remove it.
func TestMFARequired(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("MFA Dist"))
	p := createPartner(t, tok, d.ID, unique("MFA Partner"))
	o := createOrganization(t, tok, p.ID, unique("MFA Org"))
	c := createCompany(t, tok, o.ID, unique("MFA Company"))
	other := createOrganization(t, tok, p.ID, unique("MFA Free Org"))
	partnerEmail, _ := signInUser(t, tree.RolePartnerAdmin, nodeOf(t, p.ID))
	orgEmail, _ := signInUser(t, tree.RoleOrganizationAdmin, nodeOf(t, o.ID))
	companyEmail, _ := signInUser(t, tree.RoleCompanyAdmin, nodeOf(t, c.ID))
	endEmail, _ := signInUser(t, tree.RoleEndUser, nodeOf(t, c.ID))
	freeEmail, _ := signInUser(t, tree.RoleOrganizationAdmin, nodeOf(t, other.ID))

	var org node
	do(t, req{method: "PATCH", path: "/v1/organizations/" + o.ID, token: tok, body: map[string]any{"mfaRequired": true}}).json(t, &org)
	if org.MFARequired == nil || !*org.MFARequired {
		t.Fatalf("organization: %+v", org)
	}

	tokens := map[string]string{}
	for _, e := range []string{partnerEmail, orgEmail, companyEmail, endEmail, freeEmail} {
		a := signIn(t, e, signInPassword)
		if a.AccessToken == "" {
			t.Fatalf("%s: sign-in before enrolment gives tokens, got %+v", e, a)
		}
		tokens[e] = a.AccessToken
	}

	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	routes, err := tpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{
		"GET /v1/me": true, "POST /v1/me/mfa/totp": true, "POST /v1/me/mfa/totp/verify": true,
		"DELETE /v1/me/mfa/totp": true, "POST /v1/auth/logout": true,
	}
	blocked := 0
	for _, e := range []string{orgEmail, companyEmail, endEmail} {
		for _, rt := range routes {
			key := rt.Method + " " + rt.Path
			if rt.Public || open[key] {
				continue
			}
			blocked++
			t.Run(key+" refuses the not-yet-enrolled "+strings.SplitN(e, "-", 3)[1], func(t *testing.T) {
				// Any id and body: the refusal comes before anything is read.
				r := req{method: rt.Method, path: strings.NewReplacer("{id}", "x", "{proxy+}", "x").Replace(rt.Path), token: tokens[e]}
				if rt.Method == "POST" || rt.Method == "PATCH" {
					r.body = map[string]any{}
				}
				do(t, r).problem(t, 403, "mfa-enrolment-required")
			})
		}
	}
	t.Logf("%d protected routes × 3 users refused before enrolment", blocked/3)

	t.Run("the profile says why, and enrolment stays open", func(t *testing.T) {
		pr := me(t, tokens[companyEmail])
		if !pr.MFARequired || pr.MFAEnrolled {
			t.Fatalf("profile: %+v", pr)
		}
		do(t, req{method: "DELETE", path: "/v1/me/mfa/totp", token: tokens[companyEmail]}).problem(t, 409, "mfa-required")
	})
	t.Run("users outside the organization are not affected", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/organizations/" + o.ID, token: tokens[partnerEmail]}).json(t, &node{})
		do(t, req{method: "GET", path: "/v1/organizations/" + other.ID, token: tokens[freeEmail]}).json(t, &node{})
		if pr := me(t, tokens[freeEmail]); pr.MFARequired {
			t.Fatalf("profile of another organization's admin: %+v", pr)
		}
	})

	var secret string
	t.Run("enrolment lets the user through at once, with the token they hold", func(t *testing.T) {
		secret = enrolTOTP(t, tokens[companyEmail])
		do(t, req{method: "GET", path: "/v1/companies/" + c.ID, token: tokens[companyEmail]}).json(t, &node{})
		do(t, req{method: "GET", path: "/v1/end-users?companyId=" + c.ID, token: tokens[companyEmail]}).json(t, &nodePage{})
		do(t, req{method: "GET", path: "/v1/audit-logs?limit=1", token: tokens[companyEmail]}).expect(t, 200)
		// Their role still applies.
		do(t, req{method: "PATCH", path: "/v1/companies/" + c.ID, token: tokens[companyEmail], body: map[string]any{"name": "x"}}).problem(t, 403, "forbidden")
		// The others are still held.
		do(t, req{method: "GET", path: "/v1/organizations/" + o.ID, token: tokens[orgEmail]}).problem(t, 403, "mfa-enrolment-required")
		do(t, req{method: "GET", path: "/v1/audit-logs", token: tokens[endEmail]}).problem(t, 403, "mfa-enrolment-required")
	})
	t.Run("once enrolled, every sign-in asks for the code, and TOTP cannot be removed", func(t *testing.T) {
		a := signIn(t, companyEmail, signInPassword)
		if a.Challenge != "SOFTWARE_TOKEN_MFA" || a.AccessToken != "" {
			t.Fatalf("sign-in after enrolment: %+v", a)
		}
		var done signInAnswer
		do(t, req{method: "POST", path: "/v1/auth/challenge", body: map[string]string{
			"email": companyEmail, "session": a.Session, "code": codeNow(t, secret)}}).json(t, &done)
		if pr := me(t, done.AccessToken); !pr.MFAEnrolled || !pr.MFARequired {
			t.Fatalf("profile: %+v", pr)
		}
		do(t, req{method: "DELETE", path: "/v1/me/mfa/totp", token: done.AccessToken}).problem(t, 409, "mfa-required")
	})
	t.Run("a not-yet-enrolled user may sign out", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/auth/logout", token: tokens[endEmail]}).expect(t, 204)
	})
	t.Run("turning the requirement off releases the others", func(t *testing.T) {
		do(t, req{method: "PATCH", path: "/v1/organizations/" + o.ID, token: tokens[partnerEmail], body: map[string]any{"mfaRequired": false}}).json(t, &node{})
		do(t, req{method: "GET", path: "/v1/organizations/" + o.ID, token: tokens[orgEmail]}).json(t, &node{})
	})
}

// fromAddress sends requests from another loopback address (127.0.0.0/8 is all
// loopback on Linux), so that the gateway sees another source IP, as API Gateway sees
// another client: the per-address sign-in counters of different tests stay apart.
type fromAddress struct {
	ip     string
	client *http.Client
}

var nextAddress atomic.Int32

func newAddress(t testing.TB) fromAddress {
	t.Helper()
	n := nextAddress.Add(1)
	ip := fmt.Sprintf("127.%d.%d.%d", 10+time.Now().Unix()%200, n/250, 1+n%250)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	base := &http.Transport{DialContext: dialer.DialContext}
	return fromAddress{ip: ip, client: &http.Client{Transport: checker.Transport(base), Timeout: 30 * time.Second}}
}

func (f fromAddress) login(t testing.TB, email, password string) response {
	t.Helper()
	return f.post(t, "/v1/auth/login", map[string]string{"email": email, "password": password})
}

func (f fromAddress) post(t testing.TB, path string, body any) response {
	t.Helper()
	raw, _ := json.Marshal(body)
	res, err := f.client.Post(sys.APIURL+path, "application/json", strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// throttled asserts a 429 throttled with a Retry-After within the window.
func throttled(t *testing.T, res response) {
	t.Helper()
	res.problem(t, 429, "throttled")
	s, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || s < 1 || s > int(signin.SignInWindow/time.Second) {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
}

// TestSignInThrottling checks the counting of failed sign-ins per account and per
// address: past the limit the answer is 429 without Cognito being asked, alike for a
// known and an unknown email.
func TestSignInThrottling(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("Throttle Dist"))
	node := nodeOf(t, d.ID)

	t.Run("per account: the attempt after the limit is refused, even with the right password", func(t *testing.T) {
		email, _ := signInUser(t, tree.RoleDistributorAdmin, node)
		from := newAddress(t)
		for i := range signin.MaxFailuresPerAccount {
			from.login(t, email, fmt.Sprintf("Wrong-Passw0rd-%d", i)).problem(t, 401, "invalid-credentials")
		}
		throttled(t, from.login(t, email, "Wrong-Passw0rd-x"))
		throttled(t, from.login(t, email, signInPassword))
		// From another address too: the account is counted wherever the attempts come from.
		throttled(t, newAddress(t).login(t, email, signInPassword))
	})
	t.Run("an unknown email is counted and answered alike", func(t *testing.T) {
		known, _ := signInUser(t, tree.RoleDistributorAdmin, node)
		unknown := fmt.Sprintf("nobody-%d@example.com", time.Now().UnixNano())
		var last [2]response
		for j, email := range []string{known, unknown} {
			from := newAddress(t)
			for range signin.MaxFailuresPerAccount {
				from.login(t, email, "Wrong-Passw0rd").problem(t, 401, "invalid-credentials")
			}
			last[j] = from.login(t, email, "Wrong-Passw0rd")
			throttled(t, last[j])
		}
		if string(last[0].Body) != string(last[1].Body) {
			t.Fatalf("the answers differ:\n%s\n%s", last[0].Body, last[1].Body)
		}
	})
	t.Run("a successful sign-in clears the account's count", func(t *testing.T) {
		email, _ := signInUser(t, tree.RoleDistributorAdmin, node)
		from := newAddress(t)
		for range 2 {
			for range signin.MaxFailuresPerAccount - 1 {
				from.login(t, email, "Wrong-Passw0rd").problem(t, 401, "invalid-credentials")
			}
			from.login(t, email, signInPassword).expect(t, 200)
		}
	})
	t.Run("per address: many accounts from one address", func(t *testing.T) {
		email, _ := signInUser(t, tree.RoleDistributorAdmin, node)
		from := newAddress(t)
		for i := range signin.MaxFailuresPerAddress {
			from.login(t, fmt.Sprintf("guess-%d-%d@example.com", i, time.Now().UnixNano()), "Wrong-Passw0rd").problem(t, 401, "invalid-credentials")
		}
		throttled(t, from.login(t, fmt.Sprintf("guess-x-%d@example.com", time.Now().UnixNano()), "Wrong-Passw0rd"))
		throttled(t, from.login(t, email, signInPassword))
		// The same account from another address is fine.
		newAddress(t).login(t, email, signInPassword).expect(t, 200)
	})
	t.Run("wrong TOTP codes count against the account", func(t *testing.T) {
		email, _ := signInUser(t, tree.RoleDistributorAdmin, node)
		secret := enrolTOTP(t, signIn(t, email, signInPassword).AccessToken)
		from := newAddress(t)
		var a signInAnswer
		from.login(t, email, signInPassword).json(t, &a) // counted until the code is right
		if a.Challenge != "SOFTWARE_TOKEN_MFA" {
			t.Fatalf("sign-in: %+v", a)
		}
		for range signin.MaxFailuresPerAccount - 1 {
			from.post(t, "/v1/auth/challenge", map[string]string{"email": email, "session": a.Session, "code": wrongCode(t, secret)}).
				problem(t, 401, "invalid-credentials")
		}
		throttled(t, from.post(t, "/v1/auth/challenge", map[string]string{"email": email, "session": a.Session, "code": codeNow(t, secret)}))
	})
}

// selfCells are the authorization matrix's cells (matrix_test.go) of the routes on the
// caller's own account, open to every role: each request passes authorization and then
// fails harmlessly (a body the route does not take, a malformed code) or changes
// nothing (removing the TOTP of users who have none).
var selfCells = map[string]struct {
	op   string
	r    req
	want int
}{
	"POST /v1/auth/logout":        {"auth.logout", req{method: "POST", path: "/v1/auth/logout", body: map[string]any{"matrix": true}}, 400},
	"POST /v1/me/mfa/totp":        {"me.mfa-enrol", req{method: "POST", path: "/v1/me/mfa/totp", body: map[string]any{"matrix": true}}, 400},
	"POST /v1/me/mfa/totp/verify": {"me.mfa-verify", req{method: "POST", path: "/v1/me/mfa/totp/verify", body: map[string]string{"code": "matrix"}}, 400},
	"DELETE /v1/me/mfa/totp":      {"me.mfa-remove", req{method: "DELETE", path: "/v1/me/mfa/totp"}, 204},
	"PATCH /v1/me":                {"me.update", req{method: "PATCH", path: "/v1/me", body: map[string]any{"matrix": true}}, 400},
}
