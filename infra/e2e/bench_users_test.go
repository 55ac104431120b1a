package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/tree"
)

// measureUsersRoute runs op b.N times (op may make other requests to prepare, which are
// not counted) and reports the cost of route's requests per request, Cognito calls
// included.
func measureUsersRoute(b *testing.B, route string, op func(b *testing.B)) {
	b.Helper()
	meter(b, route+" request", func(key string) bool { return strings.HasPrefix(key, route+" ") }, op)
}

// BenchmarkConsoleUsers measures the console users' operations: DynamoDB round trips
// and capacity, and Cognito calls, per request (as a partner admin, so that the
// caller's lineage is read as on most requests). Run with -benchtime=20x: each
// activation reads its link from the mail server.
func BenchmarkConsoleUsers(b *testing.B) {
	tok := admin(b)
	dist := createDistributor(b, tok, unique("Bench Users Dist"))
	part := createPartner(b, tok, dist.ID, unique("Bench Users Partner"))
	ptok, _ := userAt(b, tree.RolePartnerAdmin, nodeOf(b, part.ID))
	n := 0
	invite := func(b *testing.B) string {
		n++
		email := fmt.Sprintf("bench-user-%d-%s@example.com", n, unique("")[1:])
		res := do(b, req{method: "POST", path: "/v1/users", token: ptok, body: map[string]string{
			"email": email, "firstName": "Bench", "lastName": "User", "role": "partner_admin", "nodeId": part.ID,
		}})
		if res.Status != 201 {
			b.Fatalf("invite: %d %s", res.Status, res.Body)
		}
		return email
	}
	b.Run("invite", func(b *testing.B) {
		measureUsersRoute(b, "POST /v1/users", func(b *testing.B) { invite(b) })
	})
	b.Run("activate", func(b *testing.B) {
		measureUsersRoute(b, "POST /v1/auth/activate", func(b *testing.B) {
			email := invite(b)
			token := activationToken(b, email)
			if res := do(b, req{method: "POST", path: "/v1/auth/activate", body: map[string]string{"token": token, "password": newPassword}}); res.Status != 204 {
				b.Fatalf("activate: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("list page of 25", func(b *testing.B) {
		measureUsersRoute(b, "GET /v1/users", func(b *testing.B) {
			if res := do(b, req{method: "GET", path: "/v1/users?limit=25&nodeId=" + part.ID, token: ptok}); res.Status != 200 {
				b.Fatalf("list: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("forgot password", func(b *testing.B) {
		measureUsersRoute(b, "POST /v1/auth/password/forgot", func(b *testing.B) {
			// A fresh address each time (and a fresh email): the limiter would
			// otherwise answer 429 once the address's allowance is spent.
			if res := newAddress(b).post(b, "/v1/auth/password/forgot", map[string]string{"email": fmt.Sprintf("nobody-%d-%d@example.com", time.Now().UnixNano(), n)}); res.Status != 202 {
				b.Fatalf("forgot: %d %s", res.Status, res.Body)
			}
			n++
		})
	})
}
