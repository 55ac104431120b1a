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

// clientCallers stands in for the table: people by sub, and API clients whose tokens
// carry client_id "machines".
type clientCallers struct {
	people, clients map[string]tree.Caller
}

func (c clientCallers) Caller(_ context.Context, sub string) (tree.Caller, error) {
	if p, ok := c.people[sub]; ok {
		return p, nil
	}
	return tree.Caller{}, ErrNoCaller
}

func (c clientCallers) ClientToken(claims map[string]string) bool {
	return claims["client_id"] == "machines"
}

func (c clientCallers) ClientCaller(_ context.Context, sub, _ string, _ int64) (tree.Caller, error) {
	if cl, ok := c.clients[sub]; ok {
		return cl, nil
	}
	return tree.Caller{}, problem.ClientRefused()
}

func TestAPIClientCallers(t *testing.T) {
	partner := tree.Node{ID: "prt_1", Kind: tree.KindPartner, Path: []string{"platform", "dst_1"}}
	org := tree.Node{ID: "org_1", Kind: tree.KindOrganization, Path: partner.Lineage()}
	other := tree.Node{ID: "org_2", Kind: tree.KindOrganization, Path: []string{"platform", "dst_1", "prt_2"}}
	cs := clientCallers{
		people: map[string]tree.Caller{"person": {UserID: "u1", Role: tree.RolePartnerAdmin, Node: partner, MFARequired: true}},
		clients: map[string]tree.Caller{
			"rw": {UserID: "cli_rw", Role: tree.RolePartnerAdmin, Node: partner, Client: &tree.Client{ID: "cli_rw"}},
			"ro": {UserID: "cli_ro", Role: tree.RolePartnerAdmin, Node: partner, Client: &tree.Client{ID: "cli_ro", ReadOnly: true}},
		},
	}
	ok := func(w http.ResponseWriter, r *http.Request) error {
		return WriteJSON(w, 200, map[string]string{"caller": CallerOf(r.Context()).UserID})
	}
	target := func(n tree.Node) Target {
		return func(*http.Request) (tree.Node, any, error) { return n, nil, nil }
	}
	get := Operation{ID: tree.OpOrganizationsGet, Method: "GET", Path: "/v1/organizations/{id}", Kind: "organization", Callers: cs, Target: target(org), Handle: ok}
	getOther := get
	getOther.Target = target(other)
	update := Operation{ID: tree.OpOrganizationsUpdate, Method: "PATCH", Path: "/v1/organizations/{id}", Kind: "organization", Callers: cs, Target: target(org), Handle: ok}
	me := Operation{ID: tree.OpMeGet, Method: "GET", Path: "/v1/me", Callers: cs, AsSignedInUser: true, BeforeMFAEnrolment: true, Handle: ok}
	for _, tc := range []struct {
		name    string
		op      Operation
		sub     string
		machine bool
		header  map[string]string
		status  int
		slug    string
	}{
		{"a client reads in its branch, MFA not asked", get, "rw", true, nil, 200, ""},
		{"a client changes in its branch", update, "rw", true, nil, 200, ""},
		{"a read-only client may GET", get, "ro", true, nil, 200, ""},
		{"a read-only client may not PATCH", update, "ro", true, nil, 403, "read-only-client"},
		{"outside its branch: 404 like a person", getOther, "rw", true, nil, 404, "not-found"},
		{"a revoked client", get, "gone", true, nil, 403, "client-refused"},
		{"a person's own route", me, "rw", true, nil, 403, "forbidden"},
		{"through a login-as session", get, "rw", true, map[string]string{HeaderImpersonation: "imp_01234567890123456789012345"}, 403, "forbidden"},
		{"a person's token with the client's sub is not the client", get, "rw", false, nil, 403, "no-console-access"},
		{"a person still meets MFA", get, "person", false, nil, 403, "mfa-enrolment-required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := map[string]string{"sub": tc.sub, "client_id": "console"}
			if tc.machine {
				claims["client_id"] = "machines"
			}
			ev := events.APIGatewayV2HTTPRequest{
				RawPath: "/v1/organizations/x", Headers: tc.header,
				RequestContext: events.APIGatewayV2HTTPRequestContext{
					RequestID: "req-1",
					HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: tc.op.Method, Path: "/v1/organizations/x", SourceIP: "203.0.113.1"},
					Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
						JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}},
				},
			}
			if tc.op.Path == "/v1/me" {
				ev.RawPath, ev.RequestContext.HTTP.Path = "/v1/me", "/v1/me"
			}
			res, err := Lambda(Serve(tc.op))(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			var body struct{ Type string }
			_ = json.Unmarshal([]byte(res.Body), &body)
			if res.StatusCode != tc.status || (tc.slug != "" && body.Type != "urn:opsconsole:problem:"+tc.slug) {
				t.Fatalf("%d %s, want %d %s", res.StatusCode, res.Body, tc.status, tc.slug)
			}
		})
	}
}
