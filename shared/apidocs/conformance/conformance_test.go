package conformance_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"opsconsole/shared/apidocs/conformance"
)

func load(t *testing.T) *conformance.Checker {
	t.Helper()
	c, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonHeader(extra ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

func problemHeader() http.Header {
	return http.Header{"Content-Type": {"application/problem+json"}}
}

const (
	distributorID = "dst_01jh4m3k9v2c8x7r6t5y4w3q2p"
	distributor   = `{"id":"dst_01jh4m3k9v2c8x7r6t5y4w3q2p","name":"Acme","status":"active","contactEmail":"ops@acme.example","version":3,"createdAt":"2026-01-02T15:04:05Z","updatedAt":"2026-01-03T15:04:05Z"}`
)

const (
	organization = `{"id":"org_01jh4m7b2k5n8q1t4w7z0c3f6h","distributorId":"dst_01jh4m3k9v2c8x7r6t5y4w3q2p",` +
		`"partnerId":"prt_01jh4m5q7n3d9z8s6u4v2x1y0w","name":"Contoso","status":"approved","tier":"paid",` +
		`"mfaRequired":false,"overridePsps":true,"version":2,"createdAt":"2026-01-02T15:04:05Z","updatedAt":"2026-01-03T15:04:05Z"}`
	company = `{"id":"cmp_01jh4m8d5g7j9l1n3p5r7t9v1x","distributorId":"dst_01jh4m3k9v2c8x7r6t5y4w3q2p",` +
		`"partnerId":"prt_01jh4m5q7n3d9z8s6u4v2x1y0w","organizationId":"org_01jh4m7b2k5n8q1t4w7z0c3f6h","name":"Harbor",` +
		`"status":"active","contactEmail":"m@harbor.example","virtual":true,"version":1,` +
		`"createdAt":"2026-01-02T15:04:05Z","updatedAt":"2026-01-02T15:04:05Z"}`
	endUser = `{"id":"eu_01jh4m9f8h0k2m4p6s8u0w2y4a","distributorId":"dst_01jh4m3k9v2c8x7r6t5y4w3q2p",` +
		`"partnerId":"prt_01jh4m5q7n3d9z8s6u4v2x1y0w","organizationId":"org_01jh4m7b2k5n8q1t4w7z0c3f6h",` +
		`"companyId":"cmp_01jh4m8d5g7j9l1n3p5r7t9v1x","email":"jane.doe@example.com","firstName":"Jane","lastName":"Doe",` +
		`"status":"deactivated","version":2,"createdAt":"2026-01-02T15:04:05Z","updatedAt":"2026-01-03T15:04:05Z"}`
)

// hasChildren is a has-children problem with these children counts.
func hasChildren(children string) string {
	return `{"type":"urn:opsconsole:problem:has-children","title":"Conflict","status":409,"detail":"x",` +
		`"errors":[{"field":"id","message":"has children"}],"children":` + children + `}`
}

// wantOK and wantViolation run one Check and look at its outcome.
func wantOK(t *testing.T, c *conformance.Checker, method, path string, status int, h http.Header, body string) {
	t.Helper()
	if err := c.Check(method, path, status, h, []byte(body)); err != nil {
		t.Errorf("want conforming, got:\n%v", err)
	}
}

func wantViolation(t *testing.T, c *conformance.Checker, method, path string, status int, h http.Header, body string, says ...string) {
	t.Helper()
	err := c.Check(method, path, status, h, []byte(body))
	if err == nil {
		t.Errorf("%s %s %d: want a violation, got none", method, path, status)
		return
	}
	if _, ok := err.(*conformance.Violation); !ok {
		t.Errorf("error is a %T, want *conformance.Violation", err)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("violation does not say %q:\n%v", s, err)
		}
	}
}

func TestConformingResponses(t *testing.T) {
	c := load(t)
	get := "/v1/distributors/" + distributorID
	wantOK(t, c, "GET", get, 200, jsonHeader("ETag", `"3"`), distributor)
	// contactEmail is optional.
	wantOK(t, c, "GET", get, 200, jsonHeader("ETag", `"1"`),
		`{"id":"`+distributorID+`","name":"Acme","status":"suspended","version":1,"createdAt":"2026-01-02T15:04:05Z","updatedAt":"2026-01-02T15:04:05Z"}`)
	wantOK(t, c, "POST", "/v1/distributors", 201,
		jsonHeader("ETag", `"1"`, "Location", "/v1/distributors/"+distributorID), distributor)
	wantOK(t, c, "GET", "/v1/distributors?limit=2", 200, jsonHeader(), `{"items":[`+distributor+`],"nextCursor":"abc.def"}`)
	wantOK(t, c, "GET", "/v1/distributors", 200, jsonHeader(), `{"items":[],"nextCursor":null}`)
	wantOK(t, c, "DELETE", get, 204, http.Header{}, "")
	// Header maps that are not canonical, as a Lambda response's.
	wantOK(t, c, "GET", get, 200, http.Header{"content-type": {"application/json"}, "etag": {`"3"`}}, distributor)
	// API Gateway's default content type on an empty answer does not matter.
	wantOK(t, c, "DELETE", get, 204, jsonHeader(), "")
	wantOK(t, c, "GET", get, 404, problemHeader(),
		`{"type":"urn:opsconsole:problem:not-found","title":"Not found","status":404,"detail":"distributor not found"}`)
	wantOK(t, c, "PATCH", get, 412, problemHeader(),
		`{"type":"urn:opsconsole:problem:stale","title":"Precondition failed","status":412,"detail":"x"}`)
	wantOK(t, c, "POST", "/v1/distributors", 400, http.Header{"Content-Type": {"application/problem+json; charset=utf-8"}},
		`{"type":"urn:opsconsole:problem:validation","title":"Invalid request","status":400,"errors":[{"field":"name","message":"is required"}]}`)
	// Both shapes of 401: API Gateway's and ours.
	wantOK(t, c, "GET", "/v1/me", 401, jsonHeader(), `{"message":"Unauthorized"}`)
	wantOK(t, c, "GET", "/v1/me", 401, problemHeader(),
		`{"type":"urn:opsconsole:problem:unauthenticated","title":"Authentication required","status":401,"detail":"x"}`)
	wantOK(t, c, "GET", "/v1/audit-logs", 200, jsonHeader(), `{"items":[{"id":"01JH4M3K9V2C8X7R6T5Y4W3Q2P","at":"2026-01-02T15:04:05.123Z",
		"actor":{"userId":"u1","email":"a@example.com","role":"platform_admin"},"action":"distributor.updated",
		"target":{"type":"distributor","id":"`+distributorID+`","name":"Acme"},
		"changes":[{"field":"contactEmail","before":null,"after":"ops@acme.example"},{"field":"n","before":1,"after":[true,{"a":"b"}]}],
		"requestId":"r1","sourceIp":"127.0.0.1","userAgent":"test"}],"nextCursor":null,"stoppedEarly":false}`)
	wantOK(t, c, "POST", "/v1/auth/login", 200, jsonHeader(),
		`{"accessToken":"a","idToken":"i","refreshToken":"r","expiresIn":3600,"tokenType":"Bearer"}`)
	wantOK(t, c, "POST", "/v1/auth/login", 200, jsonHeader(), `{"challenge":"SOFTWARE_TOKEN_MFA","session":"s"}`)
	// The new levels carry the ids of all their ancestors; has-children counts children.
	org := "/v1/organizations/org_01jh4m7b2k5n8q1t4w7z0c3f6h"
	wantOK(t, c, "GET", org, 200, jsonHeader("ETag", `"2"`), organization)
	wantOK(t, c, "POST", "/v1/organizations", 201,
		jsonHeader("ETag", `"1"`, "Location", org, "Idempotent-Replayed", "true"), organization)
	wantOK(t, c, "GET", "/v1/companies/cmp_01jh4m8d5g7j9l1n3p5r7t9v1x", 200, jsonHeader("ETag", `"1"`), company)
	wantOK(t, c, "GET", "/v1/end-users?companyId=cmp_01jh4m8d5g7j9l1n3p5r7t9v1x", 200, jsonHeader(),
		`{"items":[`+endUser+`],"nextCursor":null}`)
	wantOK(t, c, "POST", "/v1/end-users/eu_01jh4m9f8h0k2m4p6s8u0w2y4a/deactivate", 200, jsonHeader("ETag", `"2"`), endUser)
	wantOK(t, c, "DELETE", org, 409, problemHeader(), hasChildren(`{"company":{"active":2}}`))
	wantOK(t, c, "DELETE", "/v1/distributors/"+distributorID, 409, problemHeader(), hasChildren(`{}`))
	// The greedy /docs/{proxy} matches several segments.
	wantOK(t, c, "GET", "/docs/a/b/swagger-ui.css", 200,
		http.Header{"Content-Type": {"text/css; charset=utf-8"}, "Etag": {`"x"`}, "Cache-Control": {"public"}}, "body{}")
}

func TestViolations(t *testing.T) {
	c := load(t)
	get := "/v1/distributors/" + distributorID

	t.Run("extra field", func(t *testing.T) {
		body := strings.Replace(distributor, `"version":3`, `"version":3,"internalKey":"NODE#x"`, 1)
		wantViolation(t, c, "GET", get, 200, jsonHeader("ETag", `"3"`), body,
			"#/components/schemas/Distributor", "internalKey", "not allowed")
	})
	t.Run("missing required field", func(t *testing.T) {
		body := strings.Replace(distributor, `"status":"active",`, ``, 1)
		wantViolation(t, c, "GET", get, 200, jsonHeader("ETag", `"3"`), body, "missing property 'status'")
	})
	t.Run("wrong type and format", func(t *testing.T) {
		body := strings.Replace(distributor, `"createdAt":"2026-01-02T15:04:05Z"`, `"createdAt":"yesterday"`, 1)
		wantViolation(t, c, "GET", get, 200, jsonHeader("ETag", `"3"`), body, "/createdAt", "date-time")
	})
	t.Run("undocumented status", func(t *testing.T) {
		wantViolation(t, c, "GET", get, 409, problemHeader(),
			`{"type":"urn:opsconsole:problem:name-taken","title":"Conflict","status":409}`,
			"status 409 is not documented", "documented: 200, 401, 403, 404, 500")
	})
	t.Run("wrong content type", func(t *testing.T) {
		h := jsonHeader("ETag", `"3"`)
		h.Set("Content-Type", "text/plain")
		wantViolation(t, c, "GET", get, 200, h, distributor, `Content-Type "text/plain" is not documented`)
		wantViolation(t, c, "GET", get, 200, http.Header{"Etag": {`"3"`}}, distributor, "Content-Type is missing")
		// A problem must not be sent as plain JSON.
		wantViolation(t, c, "GET", get, 404, jsonHeader(),
			`{"type":"urn:opsconsole:problem:not-found","title":"Not found","status":404}`, "application/json")
	})
	t.Run("missing or bad header", func(t *testing.T) {
		wantViolation(t, c, "GET", get, 200, jsonHeader(), distributor, "required header ETag is missing")
		wantViolation(t, c, "GET", get, 200, jsonHeader("ETag", "3"), distributor, "header ETag", "does not conform")
		wantViolation(t, c, "POST", "/v1/distributors", 201, jsonHeader("ETag", `"1"`), distributor, "Location is missing")
	})
	t.Run("new levels", func(t *testing.T) {
		org := "/v1/organizations/org_01jh4m7b2k5n8q1t4w7z0c3f6h"
		wantViolation(t, c, "GET", org, 200, jsonHeader("ETag", `"2"`),
			strings.Replace(organization, `"partnerId":"prt_01jh4m5q7n3d9z8s6u4v2x1y0w",`, ``, 1), "missing property 'partnerId'")
		wantViolation(t, c, "GET", org, 200, jsonHeader("ETag", `"2"`),
			strings.Replace(organization, `"tier":"paid"`, `"tier":"gold"`, 1), "/tier")
		wantViolation(t, c, "GET", "/v1/end-users/eu_01jh4m9f8h0k2m4p6s8u0w2y4a", 200, jsonHeader("ETag", `"2"`),
			strings.Replace(endUser, `"email":"jane.doe@example.com",`, `"name":"Jane",`, 1), "name")
		// children is required on has-children, and counts only known kinds, above zero.
		wantViolation(t, c, "DELETE", org, 409, problemHeader(),
			`{"type":"urn:opsconsole:problem:has-children","title":"Conflict","status":409}`, "children")
		wantViolation(t, c, "DELETE", org, 409, problemHeader(), hasChildren(`{"company":{"active":0}}`), "/children")
		wantViolation(t, c, "DELETE", org, 409, problemHeader(), hasChildren(`{"companies":{"active":1}}`), "companies", "end_user")
		// End users have no children.
		wantViolation(t, c, "DELETE", "/v1/end-users/eu_01jh4m9f8h0k2m4p6s8u0w2y4a", 409, problemHeader(),
			hasChildren(`{}`), "status 409 is not documented")
	})
	t.Run("problem type and status", func(t *testing.T) {
		wantViolation(t, c, "GET", get, 404, problemHeader(),
			`{"type":"urn:opsconsole:problem:nope","title":"Not found","status":404}`, "/type")
		wantViolation(t, c, "GET", get, 404, problemHeader(),
			`{"type":"urn:opsconsole:problem:not-found","title":"Not found","status":400}`, "/status")
		wantViolation(t, c, "GET", "/v1/me", 401, jsonHeader(), `{"message":"Forbidden"}`, "/message")
	})
	t.Run("body", func(t *testing.T) {
		wantViolation(t, c, "DELETE", get, 204, jsonHeader(), `{}`, "no content for status 204")
		wantViolation(t, c, "GET", get, 200, jsonHeader("ETag", `"3"`), ``, "body is empty")
		wantViolation(t, c, "GET", get, 200, jsonHeader("ETag", `"3"`), `{"id":`, "not JSON")
		wantViolation(t, c, "GET", "/v1/distributors", 200, jsonHeader(), `{"items":[]}`, "nextCursor")
	})
	t.Run("unknown path or method", func(t *testing.T) {
		wantViolation(t, c, "GET", "/v1/webhooks", 200, jsonHeader(), `{}`, "no path of the document matches /v1/webhooks")
		wantViolation(t, c, "GET", "/v1/distributors/", 200, jsonHeader(), `{}`, "no path")
		wantViolation(t, c, "PUT", get, 200, jsonHeader(), `{}`, "no PUT operation", "GET /v1/distributors/{id}")
	})
}

func TestOperationMatching(t *testing.T) {
	c := load(t)
	for _, tc := range []struct{ method, path, template, id string }{
		{"GET", "/v1/distributors", "/v1/distributors", "listDistributors"},
		{"post", "/v1/distributors", "/v1/distributors", "createDistributor"},
		{"PATCH", "/v1/distributors/x", "/v1/distributors/{id}", "updateDistributor"},
		{"POST", "/v1/distributors/x/suspend", "/v1/distributors/{id}/suspend", "suspendDistributor"},
		{"POST", "/v1/organizations/x/deactivate", "/v1/organizations/{id}/deactivate", "deactivateOrganization"},
		{"DELETE", "/v1/companies/x", "/v1/companies/{id}", "deleteCompany"},
		{"GET", "/v1/end-users?companyId=x", "/v1/end-users", "listEndUsers"},
		{"GET", "/docs", "/docs", "getDocsPage"},
		{"GET", "/docs/swagger-ui-bundle.js", "/docs/{proxy}", "getDocsAsset"},
		{"GET", "/docs/a/b", "/docs/{proxy}", "getDocsAsset"},
		{"GET", "/openapi.json?x=1", "/openapi.json", "getOpenAPIDocument"},
	} {
		tpl, id, err := c.Operation(tc.method, tc.path)
		if err != nil || tpl != tc.template || id != tc.id {
			t.Errorf("Operation(%s %s) = %q, %q, %v; want %q, %q", tc.method, tc.path, tpl, id, err, tc.template, tc.id)
		}
	}
	if _, _, err := c.Operation("GET", "/docs/"); err == nil {
		t.Error("/docs/ matched an operation; API Gateway routes it nowhere")
	}
}

func TestTransport(t *testing.T) {
	c := load(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/distributors/" + distributorID:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"3"`)
			_, _ = io.WriteString(w, distributor)
		case "/v1/me":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"u"}`)
		case "/docs/x.css":
			// Gzip sent to a client that asked for it itself.
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("ETag", `"e"`)
			w.Header().Set("Cache-Control", "public")
			zw := gzip.NewWriter(w)
			_, _ = io.WriteString(zw, "body{}")
			_ = zw.Close()
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"Not Found"}`)
		}
	}))
	defer srv.Close()
	client := &http.Client{Transport: c.Transport(nil)}

	resp, err := client.Get(srv.URL + "/v1/distributors/" + distributorID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != distributor {
		t.Errorf("the body was not restored: %q", b)
	}
	if resp, err = client.Get(srv.URL + "/v1/me"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/docs/x.css", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err = client.Get(srv.URL + "/v1/nowhere"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	v := c.Violations()
	if len(v) != 2 || !strings.Contains(v[0], "GET /v1/me") || !strings.Contains(v[0], "missing properties") ||
		!strings.Contains(v[1], "/v1/nowhere") {
		t.Errorf("violations = %q", v)
	}
	seen := c.Seen()
	want := []conformance.Exercise{
		{Method: "GET", Path: "/docs/{proxy}", Status: 200},
		{Method: "GET", Path: "/v1/distributors/{id}", Status: 200},
		{Method: "GET", Path: "/v1/me", Status: 200},
	}
	if len(seen) != len(want) {
		t.Fatalf("seen = %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("seen[%d] = %v, want %v", i, seen[i], want[i])
		}
	}
	unex := c.Unexercised()
	for _, e := range unex {
		if e == want[1] {
			t.Errorf("Unexercised lists %v, which was seen", e)
		}
	}
	if len(unex) != len(c.Documented())-3 {
		t.Errorf("Unexercised has %d of %d documented", len(unex), len(c.Documented()))
	}
	c.Reset()
	if len(c.Violations()) != 0 || len(c.Seen()) != 0 {
		t.Error("Reset kept records")
	}
}

func TestLoadDocumentErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":     `{`,
		"no paths":     `{"openapi":"3.1.0"}`,
		"foreign ref":  `{"paths":{"/a":{"get":{"responses":{"200":{"$ref":"other.json#/x"}}}}}}`,
		"dangling ref": `{"paths":{"/a":{"get":{"responses":{"200":{"$ref":"#/components/responses/X"}}}}}}`,
		"bad schema":   `{"paths":{"/a":{"get":{"responses":{"200":{"description":"","content":{"application/json":{"schema":{"type":7}}}}}}}}}`,
	} {
		if _, err := conformance.LoadDocument([]byte(doc)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	var buf bytes.Buffer
	buf.WriteString(`{"paths":{"/a/{p}":{"get":{"parameters":[{"name":"p","in":"path","required":true,"x-greedy":true}],` +
		`"responses":{"2XX":{"description":"","content":{"text/*":{}}},"default":{"description":""}}}}}}`)
	c, err := conformance.LoadDocument(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check("GET", "/a/b/c", 201, http.Header{"Content-Type": {"text/plain"}}, []byte("x")); err != nil {
		t.Errorf("range status and media type range: %v", err)
	}
	if err := c.Check("GET", "/a/b", 503, http.Header{}, nil); err != nil {
		t.Errorf("default response: %v", err)
	}
}
