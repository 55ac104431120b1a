package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// callers is an in-memory directory of signed-in users, standing in for the table in
// tests of the middleware's own decisions.
type callers map[string]tree.Caller

func (c callers) Caller(_ context.Context, sub string) (tree.Caller, error) {
	if sub == "suspended" {
		return tree.Caller{}, ErrBranchSuspended
	}
	if sub == "broken" {
		return tree.Caller{}, errors.New("dynamodb: connection reset by peer")
	}
	caller, ok := c[sub]
	if !ok {
		return tree.Caller{}, ErrNoCaller
	}
	return caller, nil
}

func invoke(t *testing.T, op Operation, method, path, sub string) (int, map[string]any) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		RawPath: path,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID:  "req-1",
			DomainName: "api.example.com",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.1"},
		},
	}
	if sub != "" {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": sub}},
		}
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
	if res.StatusCode >= 400 && res.Headers["Content-Type"] != problem.ContentType {
		t.Fatalf("error answered as %q", res.Headers["Content-Type"])
	}
	if strings.Contains(res.Body, "dynamodb") || strings.Contains(res.Body, "boom") {
		t.Fatalf("internal message leaked: %s", res.Body)
	}
	return res.StatusCode, body
}

func TestMiddleware(t *testing.T) {
	platform := tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}
	dist := tree.Node{ID: "dst_a", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}}
	other := tree.Node{ID: "dst_b", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}}
	users := callers{
		"root": {UserID: "root", Role: tree.RolePlatformAdmin, Node: platform},
		"dist": {UserID: "dist", Role: tree.RoleDistributorAdmin, Node: dist},
	}
	ok := func(w http.ResponseWriter, r *http.Request) error {
		return WriteJSON(w, 200, map[string]string{"caller": CallerOf(r.Context()).UserID})
	}
	target := func(n tree.Node) Target {
		return func(r *http.Request) (tree.Node, any, error) {
			if r.PathValue("id") != n.ID {
				return tree.Node{}, nil, problem.NotFound("distributor")
			}
			return n, n, nil
		}
	}
	get := func(n tree.Node, h Handler) Operation {
		return Operation{ID: tree.OpDistributorsGet, Method: "GET", Path: "/v1/distributors/{id}", Kind: "distributor", Callers: users, Target: target(n), Handle: h}
	}
	cases := []struct {
		name   string
		op     Operation
		path   string
		sub    string
		status int
		slug   string
	}{
		{"a platform admin reads a distributor", get(dist, ok), "/v1/distributors/dst_a", "root", 200, ""},
		{"no subject claim is 401", get(dist, ok), "/v1/distributors/dst_a", "", 401, "unauthenticated"},
		{"a subject without a console account is 403", get(dist, ok), "/v1/distributors/dst_a", "ghost", 403, "no-console-access"},
		{"a user below a suspended node is 403 with its own type", get(dist, ok), "/v1/distributors/dst_a", "suspended", 403, "branch-suspended"},
		{"a failing user lookup is a 500 without its message", get(dist, ok), "/v1/distributors/dst_a", "broken", 500, "internal"},
		{"the distributor's own admin is 403", get(dist, ok), "/v1/distributors/dst_a", "dist", 403, "forbidden"},
		{"another branch is 404 like a missing thing", get(other, ok), "/v1/distributors/dst_b", "dist", 404, "not-found"},
		{"a missing thing is 404", get(dist, ok), "/v1/distributors/dst_z", "dist", 404, "not-found"},
		{"a route the function does not serve is 404", get(dist, ok), "/v1/elsewhere", "root", 404, "not-found"},
		{"a handler's plain error is a 500 without its message", get(dist, func(http.ResponseWriter, *http.Request) error {
			return errors.New("boom: dynamodb exploded")
		}), "/v1/distributors/dst_a", "root", 500, "internal"},
		{"a handler's panic is a 500", get(dist, func(http.ResponseWriter, *http.Request) error { panic("boom") }), "/v1/distributors/dst_a", "root", 500, "internal"},
		{"a public operation needs no subject", Operation{Method: "GET", Path: "/v1/distributors/{id}", Handle: ok}, "/v1/distributors/x", "", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := invoke(t, c.op, "GET", c.path, c.sub)
			if status != c.status {
				t.Fatalf("status %d, want %d (%v)", status, c.status, body)
			}
			if c.slug != "" && body["type"] != problem.TypePrefix+c.slug {
				t.Fatalf("type %v, want %s", body["type"], c.slug)
			}
		})
	}
}
