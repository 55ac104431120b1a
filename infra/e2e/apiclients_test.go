package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/signin"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// apiClient is an API client as the API shows it.
type apiClient struct {
	ID                      string   `json:"id"`
	ClientID                string   `json:"clientId"`
	ClientSecret            string   `json:"clientSecret"`
	Name                    string   `json:"name"`
	NodeID                  string   `json:"nodeId"`
	Role                    string   `json:"role"`
	ReadOnly                bool     `json:"readOnly"`
	AllowedIPs              []string `json:"allowedIps"`
	Status                  string   `json:"status"`
	LastUsedAt              *string  `json:"lastUsedAt"`
	PreviousSecretExpiresAt *string  `json:"previousSecretExpiresAt"`
	CreatedBy               struct {
		UserID string `json:"userId"`
		Email  string `json:"email"`
	} `json:"createdBy"`
	Version int `json:"version"`
}

// adminWithEmail makes an active admin with role at node (an admin of the node, so it
// gets the node's API client emails) and signs them in.
func adminWithEmail(t testing.TB, role tree.Role, node nodes.Item) (token, email, id string) {
	t.Helper()
	email = fmt.Sprintf("apiclients-%s-%d@example.com", role, time.Now().UnixNano())
	id, err := signin.EnsureUser(context.Background(), st, cognito, poolID, signin.NewUser{
		Email: email, Password: "User-Passw0rd-Test", FirstName: "Api", LastName: "Clients", Role: role, Node: node,
	})
	if err != nil {
		t.Fatal(err)
	}
	return login(t, email, "User-Passw0rd-Test"), email, id
}

// createClient creates an API client through the API and fails the test unless it is
// created.
func createClient(t testing.TB, token string, body map[string]any) apiClient {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/api-clients", token: token, body: body})
	if res.Status != http.StatusCreated {
		t.Fatalf("create API client %v: %d %s", body, res.Status, res.Body)
	}
	var c apiClient
	res.json(t, &c)
	return c
}

// tokenRequest posts a form to the token endpoint, the client authenticated with HTTP
// Basic when basic, in the form otherwise.
func tokenRequest(t testing.TB, id, secret string, basic bool) response {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if basic {
		h["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	} else {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	return do(t, req{method: "POST", path: "/v1/auth/token", body: form.Encode(), header: h})
}

// tokenAnswer is the token endpoint's answer, success or RFC 6749 §5.2 error.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
}

// clientToken gets a token for the client and fails the test unless it is issued.
func clientToken(t testing.TB, id, secret string) string {
	t.Helper()
	res := tokenRequest(t, id, secret, true)
	if res.Status != 200 {
		t.Fatalf("token for %s: %d %s", id, res.Status, res.Body)
	}
	var a tokenAnswer
	res.json(t, &a)
	if a.TokenType != "Bearer" || a.ExpiresIn != 900 || a.AccessToken == "" {
		t.Fatalf("token answer %+v", a)
	}
	return a.AccessToken
}

// tokenRefused checks that the token endpoint answers the §5.2 error code.
func tokenRefused(t *testing.T, id, secret, code string) {
	t.Helper()
	res := tokenRequest(t, id, secret, false)
	var a tokenAnswer
	if err := json.Unmarshal(res.Body, &a); err != nil {
		t.Fatalf("token for %s: %d %s", id, res.Status, res.Body)
	}
	want := 400
	if code == "invalid_client" {
		want = 401
	}
	if res.Status != want || a.Error != code {
		t.Fatalf("token for %s: %d %s, want %d %s", id, res.Status, res.Body, want, code)
	}
}

func TestAPIClients(t *testing.T) {
	root := admin(t)
	dist := createDistributor(t, root, unique("Clients Dist"))
	part := createPartner(t, root, dist.ID, unique("Clients Partner"))
	other := createPartner(t, root, dist.ID, unique("Clients Other"))
	org := createOrganization(t, root, part.ID, unique("Clients Org"))
	otherOrg := createOrganization(t, root, other.ID, unique("Clients Other Org"))
	pAdmin, pEmail, pAdminID := adminWithEmail(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))

	c := createClient(t, pAdmin, map[string]any{"nodeId": part.ID, "name": "Billing sync", "role": "partner_admin"})
	if !identity.ValidClientID(c.ClientID) || c.ID != c.ClientID || !strings.HasPrefix(c.ClientSecret, "cs_") {
		t.Fatalf("created %+v", c)
	}
	if c.CreatedBy.UserID != pAdminID || c.CreatedBy.Email != pEmail || c.Status != "active" || c.LastUsedAt != nil {
		t.Fatalf("created %+v", c)
	}
	t.Run("the node's admins are emailed, the secret is shown once and stored as a hash", func(t *testing.T) {
		m := mailTo(t, pEmail, "API client Billing sync created")
		if !strings.Contains(m.Text, c.ClientID) || strings.Contains(m.Text, c.ClientSecret) {
			t.Fatalf("email: %s", m.Text)
		}
		var got apiClient
		do(t, req{method: "GET", path: "/v1/api-clients/" + c.ID, token: pAdmin}).json(t, &got)
		if got.ClientSecret != "" {
			t.Fatal("get shows the secret")
		}
		var it identity.ClientItem
		if err := st.Get(t0(), identity.ClientKey(c.ID), &it); err != nil {
			t.Fatal(err)
		}
		if it.SecretHash != identity.HashSecret(c.ClientSecret) {
			t.Fatal("the stored hash is not the secret's")
		}
		raw, _ := json.Marshal(it)
		if strings.Contains(string(raw), c.ClientSecret) {
			t.Fatal("the secret is stored")
		}
	})

	tok := clientToken(t, c.ClientID, c.ClientSecret)
	t.Run("the client's token lists its partner's organizations and nothing of another branch", func(t *testing.T) {
		var page nodePage
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: tok}).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != org.ID {
			t.Fatalf("organizations: %+v", page.Items)
		}
		do(t, req{method: "GET", path: "/v1/organizations/" + otherOrg.ID, token: tok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + other.ID, token: tok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/partners/" + part.ID, token: tok}).problem(t, 403, "forbidden")
		// Not a person: no profile, MFA or login-as.
		do(t, req{method: "GET", path: "/v1/me", token: tok}).problem(t, 403, "forbidden")
		var got apiClient
		do(t, req{method: "GET", path: "/v1/api-clients/" + c.ID, token: pAdmin}).json(t, &got)
		if got.LastUsedAt == nil {
			t.Fatal("lastUsedAt not set by the token")
		}
	})

	t.Run("every change the client makes is audited with the client as actor", func(t *testing.T) {
		from := time.Now().Add(-time.Second)
		made := create(t, tok, "organizations", map[string]any{"partnerId": part.ID, "name": unique("Made by client")})
		var entries []auditEntry
		eventually(t, 10*time.Second, func() error {
			var p struct {
				Items []json.RawMessage `json:"items"`
			}
			do(t, req{method: "GET", path: "/v1/audit-logs?actorId=" + c.ClientID + "&from=" + urlq(from.UTC().Format(time.RFC3339)), token: pAdmin}).json(t, &p)
			entries = entries[:0]
			for _, raw := range p.Items {
				var e struct {
					Target struct{ ID string } `json:"target"`
					Actor  struct {
						Type, ClientID, Name, NodeID, UserID string
						CreatedBy                            struct{ UserID string } `json:"createdBy"`
					} `json:"actor"`
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					return err
				}
				if e.Target.ID == made.ID {
					if e.Actor.Type != "api_client" || e.Actor.ClientID != c.ClientID || e.Actor.Name != "Billing sync" ||
						e.Actor.NodeID != part.ID || e.Actor.UserID != c.ClientID || e.Actor.CreatedBy.UserID != pAdminID {
						return fmt.Errorf("actor %+v", e.Actor)
					}
					entries = append(entries, auditEntry{})
				}
			}
			if len(entries) != 1 {
				return fmt.Errorf("%d entries of the client's create", len(entries))
			}
			return nil
		})
	})

	t.Run("a readOnly client's POST is 403", func(t *testing.T) {
		ro := createClient(t, pAdmin, map[string]any{"nodeId": part.ID, "name": "Reader", "role": "partner_admin", "readOnly": true})
		rt := clientToken(t, ro.ClientID, ro.ClientSecret)
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: rt}).expect(t, 200)
		do(t, req{method: "POST", path: "/v1/organizations", token: rt, body: map[string]any{"partnerId": part.ID, "name": unique("No")}}).problem(t, 403, "read-only-client")
		// API clients never manage API clients.
		do(t, req{method: "POST", path: "/v1/api-clients", token: tok, body: map[string]any{"nodeId": part.ID, "name": "x", "role": "partner_admin"}}).problem(t, 403, "forbidden")
	})

	t.Run("the role is one of the node's level, never above the creator's", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/api-clients", token: pAdmin, body: map[string]any{"nodeId": part.ID, "name": "x", "role": "distributor_admin"}}).problem(t, 400, "validation").field(t, "role")
		do(t, req{method: "POST", path: "/v1/api-clients", token: pAdmin, body: map[string]any{"nodeId": org.ID, "name": "x", "role": "partner_admin"}}).problem(t, 400, "validation").field(t, "role")
		do(t, req{method: "POST", path: "/v1/api-clients", token: pAdmin, body: map[string]any{"nodeId": dist.ID, "name": "x", "role": "distributor_admin"}}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/api-clients", token: pAdmin, body: map[string]any{"nodeId": part.ID, "name": "x", "role": "partner_admin", "allowedIps": []string{"10.0.0.0/33"}}}).problem(t, 400, "validation").field(t, "allowedIps")
	})

	t.Run("during a rotation both secrets get tokens; after the overlap only the new one", func(t *testing.T) {
		r := createClient(t, pAdmin, map[string]any{"nodeId": part.ID, "name": "Rotated", "role": "partner_admin"})
		var rot apiClient
		do(t, req{method: "POST", path: "/v1/api-clients/" + r.ID + "/rotate-secret", token: pAdmin}).json(t, &rot)
		if rot.ClientSecret == "" || rot.ClientSecret == r.ClientSecret || rot.PreviousSecretExpiresAt == nil {
			t.Fatalf("rotated %+v", rot)
		}
		mailTo(t, pEmail, "API client Rotated rotated the secret of")
		clientToken(t, r.ClientID, r.ClientSecret)
		clientToken(t, r.ClientID, rot.ClientSecret)
		tokenRefused(t, r.ClientID, "cs_wrong", "invalid_client")
		// The overlap's end, moved into the past (the test does not wait 24 hours).
		if _, err := st.UpdateOne(t0(), store.Edit(identity.ClientKey(r.ID), store.Expr{
			Update: "SET attrs.previousSecretUntil = :t", Values: map[string]any{":t": "2020-01-01T00:00:00Z"},
		})); err != nil {
			t.Fatal(err)
		}
		tokenRefused(t, r.ClientID, r.ClientSecret, "invalid_client")
		clientToken(t, r.ClientID, rot.ClientSecret)
		// immediately: the old secret ends at once.
		var now apiClient
		do(t, req{method: "POST", path: "/v1/api-clients/" + r.ID + "/rotate-secret", token: pAdmin, body: map[string]any{"immediately": true}}).json(t, &now)
		tokenRefused(t, r.ClientID, rot.ClientSecret, "invalid_client")
		clientToken(t, r.ClientID, now.ClientSecret)
	})

	t.Run("an organization with mfaRequired does not block its client; an address outside allowedIps is refused", func(t *testing.T) {
		mfaOrg := create(t, root, "organizations", map[string]any{"partnerId": part.ID, "name": unique("MFA Org"), "mfaRequired": true})
		oc := createClient(t, pAdmin, map[string]any{"nodeId": mfaOrg.ID, "name": "Org sync", "role": "organization_admin"})
		ot := clientToken(t, oc.ClientID, oc.ClientSecret)
		do(t, req{method: "GET", path: "/v1/organizations/" + mfaOrg.ID, token: ot}).expect(t, 200)
		create(t, ot, "companies", map[string]any{"organizationId": mfaOrg.ID, "name": unique("Client co")})

		ip := createClient(t, pAdmin, map[string]any{"nodeId": part.ID, "name": "Fenced", "role": "partner_admin", "allowedIps": []string{"203.0.113.0/24"}})
		tokenRefused(t, ip.ClientID, ip.ClientSecret, "invalid_grant")
		// Allowed from loopback, token taken; then fenced off: refused on the next call.
		var open apiClient
		do(t, req{method: "PATCH", path: "/v1/api-clients/" + ip.ID, token: pAdmin, body: map[string]any{"allowedIps": []string{"127.0.0.0/8", "::1/128"}}}).json(t, &open)
		it := clientToken(t, ip.ClientID, ip.ClientSecret)
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: it}).expect(t, 200)
		do(t, req{method: "PATCH", path: "/v1/api-clients/" + ip.ID, token: pAdmin, body: map[string]any{"allowedIps": []string{"203.0.113.0/24"}}}).expect(t, 200)
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: it}).problem(t, 403, "address-not-allowed")
	})

	t.Run("after revoke the next call with a still-valid token is refused, and a new token is refused", func(t *testing.T) {
		rv := createClient(t, pAdmin, map[string]any{"nodeId": part.ID, "name": "Revoked", "role": "partner_admin"})
		rt := clientToken(t, rv.ClientID, rv.ClientSecret)
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: rt}).expect(t, 200)
		var got apiClient
		do(t, req{method: "POST", path: "/v1/api-clients/" + rv.ID + "/revoke", token: pAdmin}).json(t, &got)
		if got.Status != "revoked" {
			t.Fatalf("revoked %+v", got)
		}
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: rt}).problem(t, 403, "client-refused")
		tokenRefused(t, rv.ClientID, rv.ClientSecret, "invalid_client")
		do(t, req{method: "POST", path: "/v1/api-clients/" + rv.ID + "/revoke", token: pAdmin}).problem(t, 409, "invalid-transition")
		// Deleted: refused alike.
		dl := createClient(t, pAdmin, map[string]any{"nodeId": part.ID, "name": "Deleted", "role": "partner_admin"})
		dt := clientToken(t, dl.ClientID, dl.ClientSecret)
		do(t, req{method: "DELETE", path: "/v1/api-clients/" + dl.ID, token: pAdmin}).expect(t, 204)
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: dt}).problem(t, 403, "client-refused")
		tokenRefused(t, dl.ClientID, dl.ClientSecret, "invalid_client")
		do(t, req{method: "GET", path: "/v1/api-clients/" + dl.ID, token: pAdmin}).problem(t, 404, "not-found")
	})

	t.Run("the list shows the node's clients; the audit log has every change", func(t *testing.T) {
		var page struct {
			Items []apiClient `json:"items"`
		}
		do(t, req{method: "GET", path: "/v1/api-clients?nodeId=" + part.ID, token: pAdmin}).json(t, &page)
		if len(page.Items) < 5 || page.Items[0].ID != c.ID {
			t.Fatalf("list: %d items", len(page.Items))
		}
		do(t, req{method: "GET", path: "/v1/api-clients?nodeId=" + other.ID, token: pAdmin}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/api-clients", token: pAdmin}).problem(t, 400, "validation").field(t, "nodeId")
	})

	// Last: suspending the partner ends every client of its branch.
	t.Run("after the partner is suspended the next call is refused, and a new token is refused", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: tok}).expect(t, 200)
		do(t, req{method: "POST", path: "/v1/partners/" + part.ID + "/suspend", token: root}).expect(t, 200)
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: tok}).problem(t, 403, "branch-suspended")
		tokenRefused(t, c.ClientID, c.ClientSecret, "invalid_grant")
		do(t, req{method: "POST", path: "/v1/partners/" + part.ID + "/enable", token: root}).expect(t, 200)
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: tok}).expect(t, 200)
	})
}

func TestTokenEndpoint(t *testing.T) {
	root := admin(t)
	c := createClient(t, root, map[string]any{"nodeId": "platform", "name": unique("Token"), "role": "platform_admin"})
	t.Run("Basic, form fields and JSON all get a token", func(t *testing.T) {
		clientToken(t, c.ClientID, c.ClientSecret)
		res := tokenRequest(t, c.ClientID, c.ClientSecret, false)
		res.expect(t, 200)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", res.Header.Get("Cache-Control"))
		}
		do(t, req{method: "POST", path: "/v1/auth/token", body: map[string]string{
			"grant_type": "client_credentials", "client_id": c.ClientID, "client_secret": c.ClientSecret}}).expect(t, 200)
	})
	t.Run("RFC 6749 §5.2 errors", func(t *testing.T) {
		form := func(body string, h map[string]string) tokenAnswer {
			if h == nil {
				h = map[string]string{}
			}
			if h["Content-Type"] == "" {
				h["Content-Type"] = "application/x-www-form-urlencoded"
			}
			var a tokenAnswer
			res := do(t, req{method: "POST", path: "/v1/auth/token", body: body, header: h})
			if err := json.Unmarshal(res.Body, &a); err != nil {
				t.Fatalf("%s: %d %s", body, res.Status, res.Body)
			}
			return a
		}
		for _, tc := range []struct{ body, want string }{
			{"grant_type=password&username=a&password=b", "unsupported_grant_type"},
			{"client_id=x&client_secret=y", "invalid_request"},
			{"grant_type=client_credentials&grant_type=client_credentials&client_id=x&client_secret=y", "invalid_request"},
			{"grant_type=client_credentials", "invalid_client"},
		} {
			if a := form(tc.body, nil); a.Error != tc.want {
				t.Errorf("%s: %q, want %q", tc.body, a.Error, tc.want)
			}
		}
		if a := form("grant_type=client_credentials", map[string]string{"Content-Type": "text/plain"}); a.Error != "invalid_request" {
			t.Errorf("text/plain: %q", a.Error)
		}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ClientID+":"+c.ClientSecret))
		if a := form("grant_type=client_credentials&client_id="+c.ClientID, map[string]string{"Authorization": basic}); a.Error != "invalid_request" {
			t.Errorf("both ways: %q", a.Error)
		}
		res := tokenRequest(t, c.ClientID, "cs_wrong", true)
		if res.Status != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("wrong secret: %d %v", res.Status, res.Header)
		}
	})
	t.Run("failed requests are throttled per client id", func(t *testing.T) {
		id := identity.ClientIDPrefix + strings.Repeat("ab", 16)
		for range 5 {
			tokenRefused(t, id, "cs_nope", "invalid_client")
		}
		res := tokenRequest(t, id, "cs_nope", false)
		if res.Status != 429 || res.Header.Get("Retry-After") == "" {
			t.Fatalf("sixth failure: %d %s", res.Status, res.Body)
		}
	})
}
