package e2e

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

func TestLogin(t *testing.T) {
	t.Run("the seeded admin signs in and gets Cognito tokens", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": strings.ToUpper(adminEmail), "password": adminPassword}})
		var tok struct {
			AccessToken, IDToken, RefreshToken, TokenType string
			ExpiresIn                                     int
		}
		res.json(t, &tok)
		if res.Status != 200 || tok.AccessToken == "" || tok.IDToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
			t.Fatalf("login: %d %s", res.Status, res.Body)
		}
	})
	t.Run("a wrong password and an unknown email get the same answer", func(t *testing.T) {
		wrong := do(t, req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": adminEmail, "password": "Wrong-Passw0rd"}})
		unknown := do(t, req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": "nobody@example.com", "password": "Wrong-Passw0rd"}})
		wrong.problem(t, 401, "invalid-credentials")
		unknown.problem(t, 401, "invalid-credentials")
		if string(wrong.Body) != string(unknown.Body) {
			t.Fatalf("answers differ:\n%s\n%s", wrong.Body, unknown.Body)
		}
	})
	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"no email", map[string]string{"password": "x"}, "email"},
		{"a malformed email", map[string]string{"email": "not-an-email", "password": "x"}, "email"},
		{"no password", map[string]string{"email": adminEmail}, "password"},
		{"an unknown field", map[string]string{"email": adminEmail, "password": "x", "mfa": "1"}, "mfa"},
		{"a number for the email", map[string]any{"email": 5, "password": "x"}, "email"},
	}
	for _, c := range bad {
		t.Run("refuses "+c.name, func(t *testing.T) {
			do(t, req{method: "POST", path: "/v1/auth/login", body: c.body}).problem(t, 400, "validation").field(t, c.field)
		})
	}
	t.Run("refuses malformed JSON", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/auth/login", body: `{"email":`}).problem(t, 400, "malformed-json")
	})
}

func TestMe(t *testing.T) {
	res := do(t, req{method: "GET", path: "/v1/me", token: admin(t)})
	var me struct {
		Email string `json:"email"`
		Role  string `json:"role"`
		Node  struct{ ID, Kind string }
	}
	res.json(t, &me)
	if res.Status != 200 || me.Email != adminEmail || me.Role != "platform_admin" || me.Node.ID != "platform" || me.Node.Kind != "platform" {
		t.Fatalf("me: %d %s", res.Status, res.Body)
	}
}

// gatewayUnauthorized asserts API Gateway's own 401 (its authorizer runs before any
// function, so the body is its fixed message).
func gatewayUnauthorized(t *testing.T, res response) {
	t.Helper()
	if res.Status != 401 || !strings.Contains(string(res.Body), "Unauthorized") {
		t.Fatalf("status %d body %s, want the gateway's 401", res.Status, res.Body)
	}
}

func TestTokensAreVerifiedByTheGateway(t *testing.T) {
	tok := admin(t)
	parts := strings.Split(tok, ".")
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(claims, &m); err != nil {
		t.Fatal(err)
	}
	m["sub"] = "someone-else"
	forgedClaims, _ := json.Marshal(m)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forgedClaims) + "." + parts[2]
	noneAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."

	cases := []struct{ name, header string }{
		{"no token", ""},
		{"not a JWT", "Bearer nonsense"},
		{"a forged subject", "Bearer " + forged},
		{"an unsigned token", "Bearer " + noneAlg},
		{"a truncated signature", "Bearer " + tok[:len(tok)-4]},
	}
	for _, route := range [][2]string{{"GET", "/v1/me"}, {"GET", "/v1/distributors"}, {"POST", "/v1/distributors"}, {"GET", "/v1/audit-logs"}} {
		for _, c := range cases {
			t.Run(route[0]+" "+route[1]+" with "+c.name, func(t *testing.T) {
				gatewayUnauthorized(t, do(t, req{method: route[0], path: route[1], header: map[string]string{"Authorization": c.header}, body: bodyFor(route[0])}))
			})
		}
	}
}

func bodyFor(method string) any {
	if method == "POST" {
		return map[string]string{"name": "Never Written"}
	}
	return nil
}

func TestUnknownRoutes(t *testing.T) {
	for _, c := range [][2]string{{"GET", "/v1/nothing"}, {"PUT", "/v1/distributors"}, {"POST", "/v1/distributors/x/explode"}, {"GET", "/v1/distributors/"}} {
		t.Run(c[0]+" "+c[1], func(t *testing.T) {
			res := do(t, req{method: c[0], path: c[1], token: admin(t), undocumented: true})
			if res.Status != 404 {
				t.Fatalf("status %d %s", res.Status, res.Body)
			}
		})
	}
}

// TestDistributorAccessByRole checks, for a distributor admin, an admin of a sibling
// distributor and a company-level user, what each may do to a distributor: its own
// admins may not manage it (403); anyone outside its branch sees nothing (404).
func TestDistributorAccessByRole(t *testing.T) {
	tok := admin(t)
	own := createDistributor(t, tok, unique("Own Dist"))
	sibling := createDistributor(t, tok, unique("Sibling Dist"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + own.ID, token: tok})
		do(t, req{method: "DELETE", path: "/v1/distributors/" + sibling.ID, token: tok})
	})
	ownNode, err := nodes.Get(t0(), st, own.ID)
	if err != nil {
		t.Fatal(err)
	}
	distAdmin, _ := userAt(t, tree.RoleDistributorAdmin, ownNode)
	ops := []struct {
		method, suffix string
		body           any
	}{
		{"GET", "", nil},
		{"PATCH", "", map[string]string{"name": "Hijacked"}},
		{"POST", "/suspend", nil},
		{"POST", "/enable", nil},
		{"DELETE", "", nil},
	}
	for _, op := range ops {
		t.Run("distributor admin "+op.method+op.suffix+" on own distributor is 403", func(t *testing.T) {
			do(t, req{method: op.method, path: "/v1/distributors/" + own.ID + op.suffix, token: distAdmin, body: op.body}).problem(t, 403, "forbidden")
		})
		t.Run("distributor admin "+op.method+op.suffix+" on a sibling is 404", func(t *testing.T) {
			do(t, req{method: op.method, path: "/v1/distributors/" + sibling.ID + op.suffix, token: distAdmin, body: op.body}).problem(t, 404, "not-found")
		})
		t.Run("distributor admin "+op.method+op.suffix+" on a missing id is 404 too", func(t *testing.T) {
			do(t, req{method: op.method, path: "/v1/distributors/" + nodes.NewID(tree.KindDistributor) + op.suffix, token: distAdmin, body: op.body}).problem(t, 404, "not-found")
		})
	}
	t.Run("distributor admin may not create or list distributors", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/distributors", token: distAdmin, body: map[string]string{"name": unique("x")}}).problem(t, 403, "forbidden")
		do(t, req{method: "GET", path: "/v1/distributors", token: distAdmin}).problem(t, 403, "forbidden")
	})
	t.Run("nothing was changed by the refused calls", func(t *testing.T) {
		for _, d := range []distributor{own, sibling} {
			res := do(t, req{method: "GET", path: "/v1/distributors/" + d.ID, token: tok})
			var got distributor
			res.json(t, &got)
			if got != d {
				t.Fatalf("changed: %+v -> %+v", d, got)
			}
		}
	})
	t.Run("a valid token whose console account is gone is refused at once", func(t *testing.T) {
		userTok, id := userAt(t, tree.RolePlatformAdmin, platformNode())
		if res := do(t, req{method: "GET", path: "/v1/me", token: userTok}); res.Status != 200 {
			t.Fatalf("before: %d %s", res.Status, res.Body)
		}
		if err := st.Transact(t0(), store.Delete(identity.UserKey(id), nil)); err != nil {
			t.Fatal(err)
		}
		do(t, req{method: "GET", path: "/v1/me", token: userTok}).problem(t, 403, "no-console-access")
		do(t, req{method: "GET", path: "/v1/distributors", token: userTok}).problem(t, 403, "no-console-access")
	})
}

// TestSuspensionBlocksTheBranchAtOnce checks that suspending a distributor refuses its
// admin's very next call, with the token they already hold, and that enabling it lets
// them back in; deleting the distributor leaves them no console at all.
func TestSuspensionBlocksTheBranchAtOnce(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("Suspendable"))
	node, err := nodes.Get(t0(), st, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	distAdmin, _ := userAt(t, tree.RoleDistributorAdmin, node)
	path := "/v1/distributors/" + d.ID
	if res := do(t, req{method: "GET", path: "/v1/me", token: distAdmin}); res.Status != 200 {
		t.Fatalf("before: %d %s", res.Status, res.Body)
	}
	do(t, req{method: "POST", path: path + "/suspend", token: tok}).json(t, &distributor{})
	t.Run("the suspended branch's admin is refused with a token that is still valid", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/me", token: distAdmin}).problem(t, 403, "branch-suspended")
		do(t, req{method: "GET", path: "/v1/audit-logs", token: distAdmin}).problem(t, 403, "branch-suspended")
		do(t, req{method: "GET", path: path, token: distAdmin}).problem(t, 403, "branch-suspended")
	})
	t.Run("the platform admin above it is not affected", func(t *testing.T) {
		do(t, req{method: "GET", path: path, token: tok}).json(t, &distributor{})
	})
	do(t, req{method: "POST", path: path + "/enable", token: tok}).json(t, &distributor{})
	t.Run("enabling lets the admin back in", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/me", token: distAdmin}).json(t, &map[string]any{})
	})
	if res := do(t, req{method: "DELETE", path: path, token: tok}); res.Status != 204 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	t.Run("deleting the distributor leaves its admin no console", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/me", token: distAdmin}).problem(t, 403, "no-console-access")
	})
}
