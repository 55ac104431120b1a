package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// meterRoutes runs op b.N times and reports the cost of the route answered with
// status (such as "POST /v1/auth/login 200"), averaged over its requests.
func meterRoutes(b *testing.B, key string, op func(b *testing.B)) {
	b.Helper()
	meter(b, fmt.Sprintf("%q", key), func(k string) bool { return k == key }, op)
}

// BenchmarkSignInPath measures the DynamoDB cost of each step of signing in, and of
// the check every authorized request makes:
// go test ./infra/e2e/ -run '^$' -bench SignInPath -benchtime=20x
// (Cognito calls are counted in the code paths; see docs/measurements.md.)
func BenchmarkSignInPath(b *testing.B) {
	tok := admin(b)
	d := createDistributor(b, tok, unique("Bench Signin"))
	p := createPartner(b, tok, d.ID, unique("Bench Signin"))
	o := createOrganization(b, tok, p.ID, unique("Bench Signin"))
	c := createCompany(b, tok, o.ID, unique("Bench Signin"))
	email, _ := signInUser(b, tree.RoleCompanyAdmin, nodeOf(b, c.ID))
	mfaEmail, _ := signInUser(b, tree.RoleCompanyAdmin, nodeOf(b, c.ID))
	secret := enrolTOTP(b, signIn(b, mfaEmail, signInPassword).AccessToken)
	companyToken := signIn(b, email, signInPassword).AccessToken

	b.Run("login, password only, success", func(b *testing.B) {
		meterRoutes(b, "POST /v1/auth/login 200", func(b *testing.B) {
			if a := signIn(b, email, signInPassword); a.AccessToken == "" {
				b.Fatalf("login: %+v", a)
			}
		})
	})
	b.Run("login, wrong password", func(b *testing.B) {
		// A fresh account and a fresh address each time: the limiter (30 failures an
		// address, 5 an account, per window) would otherwise answer 429 from the 31st
		// iteration on, which is the next benchmark's case, not this one's.
		meterRoutes(b, "POST /v1/auth/login 401", func(b *testing.B) {
			newAddress(b).login(b, fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano()), "Wrong-Passw0rd").expect(b, 401)
		})
	})
	b.Run("login, throttled", func(b *testing.B) {
		from := newAddress(b)
		locked := fmt.Sprintf("bench-locked-%d@example.com", time.Now().UnixNano())
		for range 5 {
			from.login(b, locked, "Wrong-Passw0rd")
		}
		meterRoutes(b, "POST /v1/auth/login 429", func(b *testing.B) {
			from.login(b, locked, "Wrong-Passw0rd").expect(b, 429)
		})
	})
	b.Run("login with TOTP: the password step", func(b *testing.B) {
		meterRoutes(b, "POST /v1/auth/login 200", func(b *testing.B) {
			a := signIn(b, mfaEmail, signInPassword)
			do(b, req{method: "POST", path: "/v1/auth/challenge", body: map[string]string{
				"email": mfaEmail, "session": a.Session, "code": codeNow(b, secret)}}).expect(b, 200)
		})
	})
	b.Run("login with TOTP: the challenge step", func(b *testing.B) {
		meterRoutes(b, "POST /v1/auth/challenge 200", func(b *testing.B) {
			a := signIn(b, mfaEmail, signInPassword)
			do(b, req{method: "POST", path: "/v1/auth/challenge", body: map[string]string{
				"email": mfaEmail, "session": a.Session, "code": codeNow(b, secret)}}).expect(b, 200)
		})
	})
	b.Run("refresh", func(b *testing.B) {
		refresh := signIn(b, email, signInPassword).RefreshToken
		meterRoutes(b, "POST /v1/auth/refresh 200", func(b *testing.B) {
			do(b, req{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refreshToken": refresh}}).expect(b, 200)
		})
	})
	b.Run("logout", func(b *testing.B) {
		meterRoutes(b, "POST /v1/auth/logout 204", func(b *testing.B) {
			t := signIn(b, email, signInPassword).AccessToken
			do(b, req{method: "POST", path: "/v1/auth/logout", token: t}).expect(b, 204)
		})
	})
	companyToken = signIn(b, email, signInPassword).AccessToken
	b.Run("authorized request: GET /v1/companies/{id} as a company admin", func(b *testing.B) {
		meterRoutes(b, "GET /v1/companies/{id} 200", func(b *testing.B) {
			do(b, req{method: "GET", path: "/v1/companies/" + c.ID, token: companyToken}).expect(b, 200)
		})
	})
	b.Run("authorized request: GET /v1/distributors/{id} as the platform admin", func(b *testing.B) {
		meterRoutes(b, "GET /v1/distributors/{id} 200", func(b *testing.B) {
			do(b, req{method: "GET", path: "/v1/distributors/" + d.ID, token: tok}).expect(b, 200)
		})
	})
	b.Run("pre-authentication trigger, company admin", func(b *testing.B) {
		raw, err := os.ReadFile("../../events/cognito-pre-authentication.json")
		if err != nil {
			b.Fatal(err)
		}
		fn, err := lambdas.Build(context.Background(), "auth-pre-authentication")
		if err != nil {
			b.Fatal(err)
		}
		var me profile
		do(b, req{method: "GET", path: "/v1/me", token: companyToken}).json(b, &me)
		meterRoutes(b, "pre-authentication allowed", func(b *testing.B) {
			var ev events.CognitoEventUserPoolsPreAuthentication
			if err := json.Unmarshal(raw, &ev); err != nil {
				b.Fatal(err)
			}
			ev.UserName, ev.Request.UserAttributes["sub"] = me.ID, me.ID
			if _, err := fn.PreAuthentication(invokeCtx(), ev); err != nil {
				b.Fatal(err)
			}
		})
	})
}
