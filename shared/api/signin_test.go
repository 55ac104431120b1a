package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// invokeWith is invoke with the token's claims given in full.
func invokeWith(t *testing.T, op Operation, method, path string, claims map[string]string) (int, map[string]any) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		RawPath: path,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1", DomainName: "api.example.com",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.1"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}},
		},
	}
	res, err := Lambda(Serve(op))(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if res.Body != "" {
		if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
			t.Fatalf("body %q: %v", res.Body, err)
		}
	}
	return res.StatusCode, body
}

// TestMFAEnrolmentAndSignOut checks the guard's two account states that come from the
// user item: MFA required but not enrolled (only operations marked BeforeMFAEnrolment
// run), and tokens issued before the user's last sign-out (refused); and that a
// TokenOnly operation needs nothing but a subject.
func TestMFAEnrolmentAndSignOut(t *testing.T) {
	org := tree.Node{ID: "org_a", Kind: tree.KindOrganization, Path: []string{tree.PlatformID, "dst_a", "prt_a"}}
	users := callers{
		"pending":  {UserID: "pending", Role: tree.RoleOrganizationAdmin, Node: org, MFARequired: true},
		"enrolled": {UserID: "enrolled", Role: tree.RoleOrganizationAdmin, Node: org, MFARequired: true, MFAEnrolled: true},
		"free":     {UserID: "free", Role: tree.RoleOrganizationAdmin, Node: org},
		"out":      {UserID: "out", Role: tree.RoleOrganizationAdmin, Node: org, SignedOutAt: 1_700_000_100},
	}
	ok := func(w http.ResponseWriter, r *http.Request) error {
		return WriteJSON(w, 200, map[string]string{"caller": CallerOf(r.Context()).UserID})
	}
	audit := Operation{ID: tree.OpAuditLogsList, Method: "GET", Path: "/v1/audit-logs", Callers: users, Handle: ok}
	profile := Operation{ID: tree.OpMeGet, Method: "GET", Path: "/v1/me", Callers: users, BeforeMFAEnrolment: true, Handle: ok}
	signOut := Operation{ID: "auth.logout", Method: "POST", Path: "/v1/auth/logout", TokenOnly: true, Handle: ok}
	cases := []struct {
		name   string
		op     Operation
		claims map[string]string
		status int
		slug   string
	}{
		{"a user who must enrol is refused elsewhere", audit, map[string]string{"sub": "pending"}, 403, "mfa-enrolment-required"},
		{"a user who must enrol reads their profile", profile, map[string]string{"sub": "pending"}, 200, ""},
		{"an enrolled user passes", audit, map[string]string{"sub": "enrolled"}, 200, ""},
		{"a user who need not enrol passes", audit, map[string]string{"sub": "free"}, 200, ""},
		{"a token issued before the sign-out is refused", audit, map[string]string{"sub": "out", "iat": "1700000099"}, 401, "unauthenticated"},
		{"a token without iat counts as old", profile, map[string]string{"sub": "out"}, 401, "unauthenticated"},
		{"a token issued in the second of the sign-out passes", audit, map[string]string{"sub": "out", "iat": "1700000100"}, 200, ""},
		{"a later token passes", audit, map[string]string{"sub": "out", "iat": "1700000500"}, 200, ""},
		{"token-only: any subject", signOut, map[string]string{"sub": "ghost"}, 200, ""},
		{"token-only: no subject is 401", signOut, map[string]string{}, 401, "unauthenticated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := invokeWith(t, c.op, c.op.Method, c.op.Path, c.claims)
			if status != c.status {
				t.Fatalf("status %d, want %d (%v)", status, c.status, body)
			}
			if c.slug != "" && body["type"] != problem.TypePrefix+c.slug {
				t.Fatalf("type %v, want %s", body["type"], c.slug)
			}
		})
	}
}
