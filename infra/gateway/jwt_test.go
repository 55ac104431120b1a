package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var protectedRoutes = []Route{
	{Method: "GET", Path: "/v1/me", Function: "me"},
	{Method: "POST", Path: "/v1/auth/login", Function: "login", Public: true},
	{Method: "GET", Path: "/v1/admin", Function: "admin", AuthorizationScopes: []string{"console/admin"}},
}

func TestProtectedRoutesRefuseBadTokensWith401(t *testing.T) {
	key, otherKey := keys(t)
	h := newHarness(t, protectedRoutes)

	with := func(mut func(c jwt.MapClaims)) jwt.MapClaims {
		c := accessClaims()
		mut(c)
		return c
	}
	valid := sign(t, accessClaims(), "k1", key)

	// A token whose payload was changed after signing.
	parts := strings.Split(valid, ".")
	forged := with(func(c jwt.MapClaims) { c["cognito:groups"] = []string{"platform-admin", "root"} })
	payload, _ := json.Marshal(forged)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	// alg "none": no signature at all.
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, accessClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// HS256 signed with the RSA public key as the HMAC secret (the key-confusion attack).
	hsTok := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims())
	hsTok.Header["kid"] = "k1"
	hs, err := hsTok.SignedString(key.PublicKey.N.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// A hand-made HS256 token, to be sure the parser never got to try a key.
	hsHand := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"k1"}`))
		p, _ := json.Marshal(accessClaims())
		signing := h + "." + base64.RawURLEncoding.EncodeToString(p)
		m := hmac.New(sha256.New, []byte("secret"))
		m.Write([]byte(signing))
		return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()

	tests := []struct {
		name     string
		header   string // Authorization header; "" sends none
		wantDesc string // expected error_description, "" for a bare "Bearer" challenge
	}{
		{"no Authorization header", "", ""},
		{"Bearer without a token", "Bearer ", ""},
		{"not a JWT", "Bearer not-a-jwt", "the token is malformed"},
		{"expired", "Bearer " + sign(t, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), "k1", key), "the token has expired"},
		{"no exp", "Bearer " + sign(t, with(func(c jwt.MapClaims) { delete(c, "exp") }), "k1", key), "the token has no valid exp claim"},
		{"not valid yet (nbf in the future)", "Bearer " + sign(t, with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), "k1", key), "the token is not valid yet"},
		{"issued in the future (iat)", "Bearer " + sign(t, with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), "k1", key), "the token was issued in the future"},
		{"tampered payload", "Bearer " + tampered, "the token does not have a valid signature"},
		{"signed by a key the issuer does not publish, under its kid", "Bearer " + sign(t, accessClaims(), "k1", otherKey), "the token does not have a valid signature"},
		{"wrong issuer", "Bearer " + sign(t, with(func(c jwt.MapClaims) { c["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other" }), "k1", key), "the token does not have a valid issuer"},
		{"access token for another client_id", "Bearer " + sign(t, with(func(c jwt.MapClaims) { c["client_id"] = "someone-else" }), "k1", key), "the token does not have a valid audience"},
		{"id token for another aud", "Bearer " + sign(t, with(func(c jwt.MapClaims) { delete(c, "client_id"); c["aud"] = "someone-else" }), "k1", key), "the token does not have a valid audience"},
		{"aud is evaluated before client_id", "Bearer " + sign(t, with(func(c jwt.MapClaims) { c["aud"] = "someone-else" }), "k1", key), "the token does not have a valid audience"},
		{"neither aud nor client_id", "Bearer " + sign(t, with(func(c jwt.MapClaims) { delete(c, "client_id") }), "k1", key), "the token does not have a valid audience"},
		{"alg none", "Bearer " + none, "signing method none is invalid"},
		{"HS256 with the public key as secret", "Bearer " + hs, "signing method HS256 is invalid"},
		{"HS256 with some secret", "Bearer " + hsHand, "signing method HS256 is invalid"},
		{"unknown kid", "Bearer " + sign(t, accessClaims(), "k-unknown", otherKey), "unable to find a key for the token's kid"},
		{"no kid", "Bearer " + sign(t, accessClaims(), "", key), "unable to find a key for the token's kid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.header != "" {
				hdr["Authorization"] = tc.header
			}
			resp, body := h.do(t, "GET", "/v1/me", nil, hdr)
			if resp.StatusCode != http.StatusUnauthorized || body != `{"message":"Unauthorized"}` {
				t.Fatalf("got %d %s, want 401 {\"message\":\"Unauthorized\"}", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
			want := "Bearer"
			if tc.wantDesc != "" {
				want = `Bearer scope="" error="invalid_token" error_description="` + tc.wantDesc + `"`
			}
			if got := resp.Header.Get("Www-Authenticate"); got != want {
				t.Errorf("www-authenticate %q, want %q", got, want)
			}
			if n := h.fns["me"].count(); n != 0 {
				t.Fatalf("the function was invoked %d times", n)
			}
		})
	}
}

func TestValidTokenClaimsReachTheHandler(t *testing.T) {
	key, _ := keys(t)
	h := newHarness(t, protectedRoutes)
	now := time.Now()
	claims := accessClaims()
	claims["exp"] = now.Add(time.Hour).Unix()
	claims["custom:tenant"] = "org-7"
	claims["email_verified"] = true
	claims["custom:limits"] = map[string]any{"users": 5}
	claims["empty"] = []string{}
	claims["nothing"] = nil
	claims["ratio"] = 0.5
	tok := sign(t, claims, "k1", key)

	want := map[string]string{
		"sub":            "5b8a4f2e-0000-4000-8000-000000000001",
		"cognito:groups": "[platform-admin ops]",
		"iss":            testIssuer,
		"client_id":      testClientID,
		"token_use":      "access",
		"scope":          "aws.cognito.signin.user.admin",
		"auth_time":      jsonNum(claims["auth_time"]),
		"exp":            jsonNum(claims["exp"]),
		"iat":            jsonNum(claims["iat"]),
		"jti":            "jti-1",
		"username":       "admin@example.com",
		"custom:tenant":  "org-7",
		"email_verified": "true",
		"custom:limits":  `{"users":5}`,
		"empty":          "[]",
		"ratio":          "0.5",
	}

	for _, tc := range []struct{ name, header string }{
		{"with the Bearer prefix", "Bearer " + tok},
		{"bare token, as API Gateway also accepts", tok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(t, "GET", "/v1/me", nil, map[string]string{"Authorization": tc.header})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			ev := h.fns["me"].last(t)
			az := ev.RequestContext.Authorizer
			if az == nil || az.JWT == nil {
				t.Fatal("no requestContext.authorizer.jwt")
			}
			if !reflect.DeepEqual(az.JWT.Claims, want) {
				t.Errorf("claims\n got %v\nwant %v", az.JWT.Claims, want)
			}
			if az.JWT.Scopes != nil {
				t.Errorf("scopes %v on a route without authorization scopes, want null", az.JWT.Scopes)
			}
			if ev.Headers["authorization"] != tc.header {
				t.Errorf("the authorization header is not passed on")
			}
		})
	}

	t.Run("an id token (aud, no client_id) is accepted", func(t *testing.T) {
		c := accessClaims()
		delete(c, "client_id")
		c["aud"] = testClientID
		c["token_use"] = "id"
		resp, body := h.do(t, "GET", "/v1/me", nil, map[string]string{"Authorization": "Bearer " + sign(t, c, "k1", key)})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		if got := h.fns["me"].last(t).RequestContext.Authorizer.JWT.Claims["aud"]; got != testClientID {
			t.Errorf("aud claim %q", got)
		}
	})
	t.Run("public routes need no token", func(t *testing.T) {
		resp, _ := h.do(t, "POST", "/v1/auth/login", strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRouteAuthorizationScopes(t *testing.T) {
	key, _ := keys(t)
	h := newHarness(t, protectedRoutes)
	t.Run("a token without the route's scope is 403", func(t *testing.T) {
		resp, body := h.do(t, "GET", "/v1/admin", nil, map[string]string{"Authorization": "Bearer " + sign(t, accessClaims(), "k1", key)})
		if resp.StatusCode != 403 || body != `{"message":"Forbidden"}` {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("a token with it passes, with the token's scopes", func(t *testing.T) {
		c := accessClaims()
		c["scope"] = "openid console/admin"
		resp, body := h.do(t, "GET", "/v1/admin", nil, map[string]string{"Authorization": "Bearer " + sign(t, c, "k1", key)})
		if resp.StatusCode != 200 {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
		if got := h.fns["admin"].last(t).RequestContext.Authorizer.JWT.Scopes; !reflect.DeepEqual(got, []string{"openid", "console/admin"}) {
			t.Errorf("scopes %v", got)
		}
	})
}

func TestJWKSIsCachedAndRefetchedForAnUnknownKid(t *testing.T) {
	key, rotated := keys(t)
	h := newHarness(t, protectedRoutes)
	get := func(tok string) int {
		resp, _ := h.do(t, "GET", "/v1/me", nil, map[string]string{"Authorization": "Bearer " + tok})
		return resp.StatusCode
	}

	t.Run("keys are fetched once for many requests", func(t *testing.T) {
		for range 5 {
			if s := get(sign(t, accessClaims(), "k1", key)); s != 200 {
				t.Fatalf("status %d", s)
			}
		}
		if n := h.keys.fetches.Load(); n != 1 {
			t.Fatalf("%d JWKS fetches, want 1", n)
		}
	})
	t.Run("unknown kids do not refetch more than once per interval", func(t *testing.T) {
		old := jwksRefetchInterval
		jwksRefetchInterval = time.Hour
		defer func() { jwksRefetchInterval = old }()
		before := h.keys.fetches.Load()
		for range 5 {
			if s := get(sign(t, accessClaims(), "forged", rotated)); s != 401 {
				t.Fatalf("status %d", s)
			}
		}
		if n := h.keys.fetches.Load() - before; n != 0 {
			t.Fatalf("%d refetches within the interval, want 0", n)
		}
	})
	t.Run("a rotated-in key is picked up by the refetch", func(t *testing.T) {
		old := jwksRefetchInterval
		jwksRefetchInterval = 0
		defer func() { jwksRefetchInterval = old }()
		h.keys.publish("k2", rotated)
		if s := get(sign(t, accessClaims(), "k2", rotated)); s != 200 {
			t.Fatalf("status %d with the rotated key", s)
		}
		if s := get(sign(t, accessClaims(), "k1", key)); s != 200 {
			t.Fatalf("status %d with the old key", s)
		}
	})
}

func TestClaimStringification(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string
		keep bool
	}{
		{"string", `"admin@example.com"`, "admin@example.com", true},
		{"integer", `1700000000`, "1700000000", true},
		{"fraction", `1.5`, "1.5", true},
		{"boolean", `true`, "true", true},
		{"array of strings", `["admin","ops"]`, "[admin ops]", true},
		{"array of one", `["admin"]`, "[admin]", true},
		{"empty array", `[]`, "[]", true},
		{"array of numbers and objects", `[1,{"a":"b"},"x"]`, `[1 {"a":"b"} x]`, true},
		{"object", `{"a":1}`, `{"a":1}`, true},
		{"null is left out", `null`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := json.NewDecoder(strings.NewReader(tc.json))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			got, keep := stringifyClaim(v)
			if got != tc.want || keep != tc.keep {
				t.Fatalf("got %q,%v want %q,%v", got, keep, tc.want, tc.keep)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	key, _ := keys(t)
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	t.Run("RSA signing keys are read, others skipped", func(t *testing.T) {
		body := `{"keys":[
			{"kty":"RSA","kid":"a","use":"sig","alg":"RS256","n":"` + n + `","e":"AQAB"},
			{"kty":"RSA","kid":"enc","use":"enc","n":"` + n + `","e":"AQAB"},
			{"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"}]}`
		got, err := parseJWKS([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got["a"] == nil || got["a"].E != 65537 || got["a"].N.Cmp(key.N) != 0 {
			t.Fatalf("got %v", got)
		}
	})
	for _, tc := range []struct{ name, body string }{
		{"not JSON", `nope`},
		{"bad modulus", `{"keys":[{"kty":"RSA","kid":"a","n":"!!","e":"AQAB"}]}`},
		{"empty exponent", `{"keys":[{"kty":"RSA","kid":"a","n":"` + n + `","e":""}]}`},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			if _, err := parseJWKS([]byte(tc.body)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
