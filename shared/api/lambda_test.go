package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/problem"
)

// event is the payload format 2.0 event an HTTP API sends for method and a decoded
// path (API Gateway percent-decodes rawPath and requestContext.http.path).
func event(method, decodedPath string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + decodedPath, RawPath: decodedPath, Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "abc.execute-api.us-east-1.amazonaws.com", RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: decodedPath},
		},
	}
}

// TestLambdaTakesDecodedPaths replays the paths a fuzzer found: each used to fail in the
// adapter ("Could not convert proxy event to request: net/url: invalid control
// character in URL", a 500 from API Gateway); now the handler sees the decoded path
// and answers it like any unknown id.
func TestLambdaTakesDecodedPaths(t *testing.T) {
	var seen string
	h := Lambda(Serve(Operation{Method: "POST", Path: "/v1/end-users/{id}/deactivate", Handle: func(w http.ResponseWriter, r *http.Request) error {
		seen = r.PathValue("id")
		return problem.NotFound("end user")
	}}, Operation{Method: "POST", Path: "/v1/signup/{partnerId}", Handle: func(w http.ResponseWriter, r *http.Request) error {
		seen = r.PathValue("partnerId")
		return problem.NotFound("partner")
	}}, Operation{Method: "GET", Path: "/docs/{proxy+}", Handle: func(w http.ResponseWriter, r *http.Request) error {
		seen = r.PathValue("proxy")
		return problem.NotFound("page")
	}}))
	cases := []struct {
		name, method, path, want string
	}{
		{"control characters in an end user's id", "POST", "/v1/end-users/\x01\x11\x7f/deactivate", "\x01\x11\x7f"},
		{"a newline in a partner id", "POST", "/v1/signup/\n\r", "\n\r"},
		{"a control character under /docs", "GET", "/docs/\x19", "\x19"},
		{"a percent sign", "POST", "/v1/signup/%zz", "%zz"},
		{"a question mark and a hash", "POST", "/v1/signup/a?b#c", "a?b#c"},
		{"a space and non-ASCII", "POST", "/v1/signup/a b\u00e9", "a b\u00e9"},
		{"invalid UTF-8", "GET", "/docs/\xff\xfe", "\xff\xfe"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen = ""
			res, err := h(context.Background(), event(c.method, c.path, nil))
			if err != nil {
				t.Fatalf("invocation failed: %v", err)
			}
			if res.StatusCode != http.StatusNotFound {
				t.Fatalf("status %d, want 404: %s", res.StatusCode, res.Body)
			}
			if seen != c.want {
				t.Fatalf("the handler saw %q, want %q", seen, c.want)
			}
		})
	}
}

// TestLambdaKeepsHeaderValues checks that a header reaches the handler as the one
// value API Gateway sent, commas included: the adapter splits on commas, which made
// If-Match ",s<" look absent.
func TestLambdaKeepsHeaderValues(t *testing.T) {
	cases := []struct {
		name, ifMatch string
		want          int
	}{
		{"garbage with a leading comma", ",s<", http.StatusBadRequest},
		{"empty", "", http.StatusBadRequest},
		{"two ETags", `"1", "2"`, http.StatusBadRequest},
		{"one ETag", `"2"`, http.StatusNoContent},
	}
	h := Lambda(Serve(Operation{Method: "PATCH", Path: "/v1/things/{id}", Handle: func(w http.ResponseWriter, r *http.Request) error {
		if err := CheckVersion(r, 2); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}}))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := h(context.Background(), event("PATCH", "/v1/things/x", map[string]string{"if-match": c.ifMatch}))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.want {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.want, res.Body)
			}
			if c.want == http.StatusBadRequest {
				var p problem.Problem
				if err := json.Unmarshal([]byte(res.Body), &p); err != nil || p.Type != problem.TypePrefix+"invalid-if-match" {
					t.Fatalf("body %s, want invalid-if-match", res.Body)
				}
			}
		})
	}
}

func TestEscapeDecodedPath(t *testing.T) {
	for _, p := range []string{"/v1/x", "/v1/\x01\x11", "/a b/%/?/#", "/\xff", "/a;b,c=d@e:f+g$h&i"} {
		got := EscapeDecodedPath(p)
		r, err := http.NewRequest("GET", "https://h"+got, nil)
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", p, got, err)
		}
		if r.URL.Path != p {
			t.Fatalf("%q -> %q parses back as %q", p, got, r.URL.Path)
		}
	}
}
