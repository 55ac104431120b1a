package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/golang-jwt/jwt/v5"

	"opsconsole/shared/lambdas"
)

const (
	testIssuer   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool"
	testClientID = "console-client-id"
)

// ---------------------------------------------------------------- fixtures

// keyServer serves a JWKS from an httptest server; keys can be added while it runs.
type keyServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetches atomic.Int32
}

func newKeyServer(t *testing.T) *keyServer {
	ks := &keyServer{keys: map[string]*rsa.PublicKey{}}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range ks.keys {
			set.Keys = append(set.Keys, map[string]string{
				"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func (ks *keyServer) publish(kid string, k *rsa.PrivateKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys[kid] = &k.PublicKey
}

func (ks *keyServer) url() string { return ks.srv.URL + "/us-east-1_TestPool/.well-known/jwks.json" }

var (
	keyOnce        sync.Once
	signingKey     *rsa.PrivateKey
	unpublishedKey *rsa.PrivateKey
)

func keys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if signingKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if unpublishedKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return signingKey, unpublishedKey
}

// accessClaims are the claims of a Cognito access token: no aud, a client_id.
func accessClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub":            "5b8a4f2e-0000-4000-8000-000000000001",
		"cognito:groups": []string{"platform-admin", "ops"},
		"iss":            testIssuer,
		"client_id":      testClientID,
		"token_use":      "access",
		"scope":          "aws.cognito.signin.user.admin",
		"auth_time":      now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"iat":            now.Unix(),
		"jti":            "jti-1",
		"username":       "admin@example.com",
	}
}

func sign(t *testing.T, claims jwt.MapClaims, kid string, key *rsa.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recorder is a fake function: it keeps every event it receives and answers with
// what respond returns (a 200 by default).
type recorder struct {
	mu      sync.Mutex
	events  []events.APIGatewayV2HTTPRequest
	lctx    []*lambdacontext.LambdaContext
	dl      []time.Time
	respond func(ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

func (rc *recorder) handler(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	rc.mu.Lock()
	rc.events = append(rc.events, ev)
	rc.lctx = append(rc.lctx, lc)
	rc.dl = append(rc.dl, dl)
	respond := rc.respond
	rc.mu.Unlock()
	if respond != nil {
		return respond(ev)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"ok":true}`}, nil
}

func (rc *recorder) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.events) == 0 {
		t.Fatal("the function was not invoked")
	}
	return rc.events[len(rc.events)-1]
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.events)
}

type harness struct {
	srv    *httptest.Server
	fns    map[string]*recorder
	keys   *keyServer
	logs   *syncBuffer
	lookup atomic.Int32
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func newHarness(t *testing.T, routes []Route) *harness {
	t.Helper()
	key, _ := keys(t)
	h := &harness{fns: map[string]*recorder{}, keys: newKeyServer(t), logs: &syncBuffer{}}
	h.keys.publish("k1", key)
	for _, r := range routes {
		if h.fns[r.Function] == nil {
			h.fns[r.Function] = &recorder{}
		}
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, nil))
	gw, err := New(routes, Authorizer{Issuer: testIssuer, Audience: []string{testClientID}, JWKSURL: h.keys.url()},
		func(fn string) (lambdas.HTTPHandler, error) {
			h.lookup.Add(1)
			rc, ok := h.fns[fn]
			if !ok {
				return nil, fmt.Errorf("no function %s", fn)
			}
			return rc.handler, nil
		}, logger)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(gw)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) do(t *testing.T, method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// ---------------------------------------------------------------- routing

func TestRouteSelection(t *testing.T) {
	routes := []Route{
		{Method: "GET", Path: "/v1/distributors", Function: "list", Public: true},
		{Method: "POST", Path: "/v1/distributors", Function: "create", Public: true},
		{Method: "GET", Path: "/v1/distributors/{id}", Function: "get", Public: true},
		{Method: "GET", Path: "/v1/distributors/export", Function: "export", Public: true},
		{Method: "POST", Path: "/v1/distributors/{id}/suspend", Function: "suspend", Public: true},
		{Method: "GET", Path: "/docs", Function: "docs-index", Public: true},
		{Method: "GET", Path: "/docs/{proxy+}", Function: "docs-assets", Public: true},
		{Method: "GET", Path: "/static/{file}", Function: "static-file", Public: true},
		{Method: "GET", Path: "/static/{proxy+}", Function: "static-tree", Public: true},
		{Method: "ANY", Path: "/v1/things/{id}", Function: "things-any", Public: true},
		{Method: "DELETE", Path: "/v1/things/{id}", Function: "things-delete", Public: true},
		{Method: "GET", Path: "/", Function: "root", Public: true},
	}
	h := newHarness(t, routes)

	tests := []struct {
		name       string
		method     string
		path       string
		wantFn     string // "" means 404
		wantRoute  string
		wantParams map[string]string
	}{
		{"exact path", "GET", "/v1/distributors", "list", "GET /v1/distributors", nil},
		{"same path, other method, other function", "POST", "/v1/distributors", "create", "POST /v1/distributors", nil},
		{"path variable", "GET", "/v1/distributors/d-42", "get", "GET /v1/distributors/{id}", map[string]string{"id": "d-42"}},
		{"literal segment beats a path variable", "GET", "/v1/distributors/export", "export", "GET /v1/distributors/export", nil},
		{"path variable in the middle", "POST", "/v1/distributors/d-42/suspend", "suspend", "POST /v1/distributors/{id}/suspend", map[string]string{"id": "d-42"}},
		{"path variable is decoded", "GET", "/v1/distributors/a%20b", "get", "GET /v1/distributors/{id}", map[string]string{"id": "a b"}},
		{"greedy variable takes one segment", "GET", "/docs/index.css", "docs-assets", "GET /docs/{proxy+}", map[string]string{"proxy": "index.css"}},
		{"greedy variable takes several segments", "GET", "/docs/swagger/ui/index.html", "docs-assets", "GET /docs/{proxy+}", map[string]string{"proxy": "swagger/ui/index.html"}},
		{"greedy variable does not match its parent", "GET", "/docs", "docs-index", "GET /docs", nil},
		{"a route without greedy variable beats one with", "GET", "/static/app.js", "static-file", "GET /static/{file}", map[string]string{"file": "app.js"}},
		{"greedy route when the other does not fit", "GET", "/static/css/app.css", "static-tree", "GET /static/{proxy+}", map[string]string{"proxy": "css/app.css"}},
		{"ANY matches any method", "PATCH", "/v1/things/7", "things-any", "ANY /v1/things/{id}", map[string]string{"id": "7"}},
		{"exact method beats ANY", "DELETE", "/v1/things/7", "things-delete", "DELETE /v1/things/{id}", map[string]string{"id": "7"}},
		{"root route", "GET", "/", "root", "GET /", nil},
		{"unknown path is 404", "GET", "/v1/nothing", "", "", nil},
		{"known path, wrong method is 404", "PATCH", "/v1/distributors/d-42", "", "", nil},
		{"trailing slash is another path (no redirect)", "GET", "/v1/distributors/", "", "", nil},
		{"paths are case-sensitive", "GET", "/V1/distributors", "", "", nil},
		{"greedy variable needs a non-empty segment", "GET", "/docs/", "", "", nil},
		{"extra segment is 404", "GET", "/v1/distributors/d-42/extra", "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]int{}
			for n, f := range h.fns {
				before[n] = f.count()
			}
			resp, body := h.do(t, tc.method, tc.path, nil, nil)
			if tc.wantFn == "" {
				if resp.StatusCode != 404 || body != `{"message":"Not Found"}` || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("got %d %q (%s), want 404 {\"message\":\"Not Found\"} application/json", resp.StatusCode, body, resp.Header.Get("Content-Type"))
				}
				for n, f := range h.fns {
					if f.count() != before[n] {
						t.Fatalf("function %s was invoked", n)
					}
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			ev := h.fns[tc.wantFn].last(t)
			if h.fns[tc.wantFn].count() != before[tc.wantFn]+1 {
				t.Fatalf("function %s was not invoked", tc.wantFn)
			}
			if ev.RouteKey != tc.wantRoute || ev.RequestContext.RouteKey != tc.wantRoute {
				t.Errorf("routeKey %q / %q, want %q", ev.RouteKey, ev.RequestContext.RouteKey, tc.wantRoute)
			}
			if !reflect.DeepEqual(ev.PathParameters, tc.wantParams) {
				t.Errorf("pathParameters %v, want %v", ev.PathParameters, tc.wantParams)
			}
		})
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	lookup := func(string) (lambdas.HTTPHandler, error) { return nil, nil }
	auth := Authorizer{Issuer: testIssuer, Audience: []string{testClientID}, JWKSURL: "http://127.0.0.1:1/jwks"}
	tests := []struct {
		name   string
		routes []Route
		auth   Authorizer
	}{
		{"greedy variable not last", []Route{{Method: "GET", Path: "/a/{p+}/b", Function: "f", Public: true}}, auth},
		{"variable inside a segment", []Route{{Method: "GET", Path: "/a/x-{id}", Function: "f", Public: true}}, auth},
		{"duplicate route modulo variable names", []Route{
			{Method: "GET", Path: "/a/{id}", Function: "f", Public: true},
			{Method: "GET", Path: "/a/{name}", Function: "g", Public: true}}, auth},
		{"unknown method", []Route{{Method: "FETCH", Path: "/a", Function: "f", Public: true}}, auth},
		{"path without leading slash", []Route{{Method: "GET", Path: "a", Function: "f", Public: true}}, auth},
		{"protected route without authorizer", []Route{{Method: "GET", Path: "/a", Function: "f"}}, Authorizer{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.routes, tc.auth, lookup, nil); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// ---------------------------------------------------------------- event mapping

func TestEventMapsTheRequestLikeAPIGateway(t *testing.T) {
	h := newHarness(t, []Route{{Method: "GET", Path: "/v1/distributors/{id}", Function: "get", Public: true}})
	req, _ := http.NewRequest("GET", h.srv.URL+"/v1/distributors/d-1?limit=25&tag=a&tag=b&q=x%20y&flag", nil)
	req.Header.Set("User-Agent", "console-test/1.0")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("If-Match", `"3"`)
	req.Header.Add("Cookie", "session=abc; theme=dark")
	req.Header.Add("Cookie", "lang=en")
	before := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ev := h.fns["get"].last(t)
	lc := h.fns["get"].lctx[0]
	dl := h.fns["get"].dl[0]

	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	host := strings.TrimPrefix(h.srv.URL, "http://")
	t.Run("top-level fields", func(t *testing.T) {
		check("version", ev.Version, "2.0")
		check("routeKey", ev.RouteKey, "GET /v1/distributors/{id}")
		check("rawPath", ev.RawPath, "/v1/distributors/d-1")
		check("rawQueryString", ev.RawQueryString, "limit=25&tag=a&tag=b&q=x%20y&flag")
		check("pathParameters", ev.PathParameters, map[string]string{"id": "d-1"})
		check("body", ev.Body, "")
		check("isBase64Encoded", ev.IsBase64Encoded, false)
	})
	t.Run("repeated query parameters are joined with commas and decoded", func(t *testing.T) {
		check("queryStringParameters", ev.QueryStringParameters,
			map[string]string{"limit": "25", "tag": "a,b", "q": "x y", "flag": ""})
	})
	t.Run("cookies move from the Cookie headers to cookies", func(t *testing.T) {
		check("cookies", ev.Cookies, []string{"session=abc", "theme=dark", "lang=en"})
		if _, ok := ev.Headers["cookie"]; ok {
			t.Error("the cookie header is still in headers")
		}
	})
	t.Run("header names are lower-cased and repeated headers joined", func(t *testing.T) {
		check("x-multi", ev.Headers["x-multi"], "one,two")
		check("if-match", ev.Headers["if-match"], `"3"`)
		check("user-agent", ev.Headers["user-agent"], "console-test/1.0")
		check("host", ev.Headers["host"], host)
		check("x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1")
		check("x-forwarded-proto", ev.Headers["x-forwarded-proto"], "http")
		for k := range ev.Headers {
			if k != strings.ToLower(k) {
				t.Errorf("header %q is not lower case", k)
			}
		}
	})
	t.Run("request context", func(t *testing.T) {
		rc := ev.RequestContext
		check("stage", rc.Stage, "$default")
		check("routeKey", rc.RouteKey, "GET /v1/distributors/{id}")
		check("domainName", rc.DomainName, host)
		check("domainPrefix", rc.DomainPrefix, "127.0.0.1")
		check("http.method", rc.HTTP.Method, "GET")
		check("http.path", rc.HTTP.Path, "/v1/distributors/d-1")
		check("http.protocol", rc.HTTP.Protocol, "HTTP/1.1")
		check("http.sourceIp", rc.HTTP.SourceIP, "127.0.0.1")
		check("http.userAgent", rc.HTTP.UserAgent, "console-test/1.0")
		check("authorizer on a public route", rc.Authorizer, (*events.APIGatewayV2HTTPRequestContextAuthorizerDescription)(nil))
		if rc.AccountID == "" || rc.APIID == "" {
			t.Error("accountId / apiId empty")
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time)
		if err != nil {
			t.Fatalf("time %q: %v", rc.Time, err)
		}
		if d := ts.Sub(before.Truncate(time.Second)); d < 0 || d > 5*time.Second {
			t.Errorf("time %s is not now", rc.Time)
		}
		if d := rc.TimeEpoch - before.UnixMilli(); d < 0 || d > 5000 {
			t.Errorf("timeEpoch %d is not now (ms)", rc.TimeEpoch)
		}
		check("apigw-requestid header = requestId", resp.Header.Get("Apigw-Requestid"), rc.RequestID)
	})
	t.Run("each request gets its own request id", func(t *testing.T) {
		h.do(t, "GET", "/v1/distributors/d-2", nil, nil)
		if a, b := ev.RequestContext.RequestID, h.fns["get"].last(t).RequestContext.RequestID; a == "" || a == b {
			t.Errorf("request ids %q and %q", a, b)
		}
	})
	t.Run("the handler gets a Lambda context and the function's deadline", func(t *testing.T) {
		if lc == nil || lc.AwsRequestID == "" || !strings.HasSuffix(lc.InvokedFunctionArn, ":function:get") {
			t.Fatalf("lambda context %+v", lc)
		}
		if d := time.Until(dl); d <= 0 || d > defaultTimeout {
			t.Errorf("deadline in %s", d)
		}
	})
}

func TestRequestBodiesAreBase64EncodedUnlessTextual(t *testing.T) {
	h := newHarness(t, []Route{{Method: "POST", Path: "/upload", Function: "up", Public: true}})
	binary := []byte{0x89, 'P', 'N', 'G', 0x00, 0xff, 0x10}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantB64     bool
	}{
		{"application/json is text", "application/json", []byte(`{"name":"Acme"}`), false},
		{"json with charset is text", "application/json; charset=utf-8", []byte(`{"name":"Acme"}`), false},
		{"text/plain is text", "text/plain", []byte("hello"), false},
		{"text/csv is text", "text/csv", []byte("a,b\n1,2\n"), false},
		{"application/xml is text", "application/xml", []byte("<a/>"), false},
		{"octet-stream is base64", "application/octet-stream", binary, true},
		{"image is base64", "image/png", binary, true},
		{"form posts are base64", "application/x-www-form-urlencoded", []byte("a=1&b=2"), true},
		{"merge-patch+json is base64", "application/merge-patch+json", []byte(`{"name":"x"}`), true},
		{"no content type is base64", "", []byte("raw"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.contentType != "" {
				hdr["Content-Type"] = tc.contentType
			}
			resp, _ := h.do(t, "POST", "/upload", bytes.NewReader(tc.body), hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			ev := h.fns["up"].last(t)
			if ev.IsBase64Encoded != tc.wantB64 {
				t.Fatalf("isBase64Encoded %v, want %v", ev.IsBase64Encoded, tc.wantB64)
			}
			got := []byte(ev.Body)
			if tc.wantB64 {
				var err error
				if got, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, tc.body) {
				t.Fatalf("body %q, want %q", got, tc.body)
			}
		})
	}
	t.Run("an empty body is an empty string, not base64", func(t *testing.T) {
		h.do(t, "POST", "/upload", nil, map[string]string{"Content-Type": "application/octet-stream"})
		if ev := h.fns["up"].last(t); ev.Body != "" || ev.IsBase64Encoded {
			t.Fatalf("body %q isBase64Encoded %v", ev.Body, ev.IsBase64Encoded)
		}
	})
}

func TestBodyOverTenMegabytesIs413(t *testing.T) {
	h := newHarness(t, []Route{{Method: "POST", Path: "/upload", Function: "up", Public: true}})
	big := bytes.Repeat([]byte("x"), maxRequestBody+1)
	t.Run("with a content-length", func(t *testing.T) {
		resp, body := h.do(t, "POST", "/upload", bytes.NewReader(big), map[string]string{"Content-Type": "text/plain"})
		if resp.StatusCode != 413 || body != `{"message":"Request Entity Too Large"}` {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("chunked, without a content-length", func(t *testing.T) {
		resp, body := h.do(t, "POST", "/upload", io.MultiReader(bytes.NewReader(big)), map[string]string{"Content-Type": "text/plain"})
		if resp.StatusCode != 413 || body != `{"message":"Request Entity Too Large"}` {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	if n := h.fns["up"].count(); n != 0 {
		t.Fatalf("function invoked %d times", n)
	}
}

// ---------------------------------------------------------------- responses

func TestResponsesAreWrittenLikeAPIGateway(t *testing.T) {
	h := newHarness(t, []Route{{Method: "GET", Path: "/r", Function: "r", Public: true}})
	rc := h.fns["r"]
	png := []byte{0x89, 'P', 'N', 'G', 0x00, 0xff}
	tests := []struct {
		name       string
		resp       events.APIGatewayV2HTTPResponse
		err        error
		wantStatus int
		wantBody   []byte
		wantHeader map[string]string
		wantCookie []string
	}{
		{
			name:       "status, headers and body",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json", "ETag": `"4"`, "Location": "/v1/x/1"}, Body: `{"id":"1"}`},
			wantStatus: 201, wantBody: []byte(`{"id":"1"}`),
			wantHeader: map[string]string{"Content-Type": "application/json", "Etag": `"4"`, "Location": "/v1/x/1"},
		},
		{
			name:       "base64 body is decoded",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"content-type": "image/png"}, Body: base64.StdEncoding.EncodeToString(png), IsBase64Encoded: true},
			wantStatus: 200, wantBody: png, wantHeader: map[string]string{"Content-Type": "image/png"},
		},
		{
			name:       "cookies become Set-Cookie headers",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 204, Cookies: []string{"a=1; Path=/; HttpOnly", "b=2; Secure"}},
			wantStatus: 204, wantBody: []byte{}, wantCookie: []string{"a=1; Path=/; HttpOnly", "b=2; Secure"},
		},
		{
			name:       "no content-type means application/json",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"a":1}`},
			wantStatus: 200, wantBody: []byte(`{"a":1}`), wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "multiValueHeaders are ignored as in format 2.0",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "x", MultiValueHeaders: map[string][]string{"X-Ignored": {"a", "b"}}},
			wantStatus: 200, wantBody: []byte("x"), wantHeader: map[string]string{"X-Ignored": ""},
		},
		{
			name:       "statusCode left at 0 is a malformed response",
			resp:       events.APIGatewayV2HTTPResponse{Body: "hello"},
			wantStatus: 500, wantBody: []byte(`{"message":"Internal Server Error"}`),
		},
		{
			name:       "a function error is 500",
			err:        errors.New("boom"),
			wantStatus: 500, wantBody: []byte(`{"message":"Internal Server Error"}`),
			wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:       "bad base64 body is 500",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "%%%", IsBase64Encoded: true},
			wantStatus: 500, wantBody: []byte(`{"message":"Internal Server Error"}`),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc.mu.Lock()
			rc.respond = func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) { return tc.resp, tc.err }
			rc.mu.Unlock()
			resp, body := h.do(t, "GET", "/r", nil, nil)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.wantStatus, body)
			}
			if !bytes.Equal([]byte(body), tc.wantBody) {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.wantCookie != nil && !reflect.DeepEqual(resp.Header.Values("Set-Cookie"), tc.wantCookie) {
				t.Errorf("Set-Cookie %q, want %q", resp.Header.Values("Set-Cookie"), tc.wantCookie)
			}
			if resp.Header.Get("Apigw-Requestid") == "" {
				t.Error("no apigw-requestid header")
			}
		})
	}
}

func TestHandlerPanicIs500AndTheServerKeepsServing(t *testing.T) {
	h := newHarness(t, []Route{{Method: "GET", Path: "/p", Function: "p", Public: true}})
	var calls atomic.Int32
	h.fns["p"].respond = func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if calls.Add(1) == 1 {
			panic("nil map write")
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "fine"}, nil
	}
	resp, body := h.do(t, "GET", "/p", nil, nil)
	if resp.StatusCode != 500 || body != `{"message":"Internal Server Error"}` {
		t.Fatalf("first request: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do(t, "GET", "/p", nil, nil)
	if resp.StatusCode != 200 || body != "fine" {
		t.Fatalf("second request: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(logText(h), "nil map write") {
		t.Error("the panic was not logged")
	}
}

func TestHandlerTimeoutIs500(t *testing.T) {
	h := newHarness(t, []Route{{Method: "GET", Path: "/slow", Function: "slow", Public: true, Timeout: 100 * time.Millisecond}})
	h.fns["slow"].respond = func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		time.Sleep(400 * time.Millisecond)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}
	start := time.Now()
	resp, body := h.do(t, "GET", "/slow", nil, nil)
	if resp.StatusCode != 500 || body != `{"message":"Internal Server Error"}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 350*time.Millisecond {
		t.Errorf("answered after %s, want at the 100ms deadline", d)
	}
	if !strings.Contains(logText(h), "Task timed out after 0.10 seconds") {
		t.Error("the timeout was not logged")
	}
}

func TestFunctionIsBuiltOnceAndRetriedWhenBuildingFails(t *testing.T) {
	var builds atomic.Int32
	gw, err := New([]Route{{Method: "GET", Path: "/x", Function: "x", Public: true}}, Authorizer{},
		func(string) (lambdas.HTTPHandler, error) {
			if builds.Add(1) == 1 {
				return nil, errors.New("TABLE_NAME not set")
			}
			return func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
			}, nil
		}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{500, 200, 200, 200} {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		if rec.Code != want {
			t.Fatalf("request %d: %d, want %d", i, rec.Code, want)
		}
	}
	if n := builds.Load(); n != 2 {
		t.Fatalf("built %d times, want 2", n)
	}
}

func TestOneJSONLogLinePerRequest(t *testing.T) {
	h := newHarness(t, []Route{{Method: "GET", Path: "/v1/distributors/{id}", Function: "get", Public: true}})
	h.do(t, "GET", "/v1/distributors/d-1", nil, nil)
	h.do(t, "GET", "/nope", nil, nil)
	var reqLines []map[string]any
	for _, l := range h.logs.lines() {
		if l["msg"] == "http request" {
			reqLines = append(reqLines, l)
		}
	}
	if len(reqLines) != 2 {
		t.Fatalf("%d request lines: %v", len(reqLines), reqLines)
	}
	first := reqLines[0]
	for k, want := range map[string]any{"method": "GET", "path": "/v1/distributors/d-1", "route": "GET /v1/distributors/{id}", "function": "get", "status": float64(200)} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v", k, first[k], want)
		}
	}
	if _, ok := first["latency_ms"].(float64); !ok {
		t.Errorf("no latency_ms in %v", first)
	}
	if reqLines[1]["status"] != float64(404) {
		t.Errorf("second line %v", reqLines[1])
	}
}

func logText(h *harness) string {
	h.logs.mu.Lock()
	defer h.logs.mu.Unlock()
	return h.logs.b.String()
}
