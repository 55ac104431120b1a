package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// sendRaw sends a request whose headers are set exactly as given, an empty value
// included (req's header map deletes a header given as "").
func sendRaw(t *testing.T, method, path, token, body string, header http.Header) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	hr, err := http.NewRequest(method, sys.APIURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		hr.Header[k] = vs
	}
	res, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// TestControlCharactersInPathsAreNotServerErrors replays, through the local gateway, the
// paths with which a fuzzer made the functions fail ("Could not convert proxy event to
// request: net/url: invalid control character in URL"). API Gateway HTTP APIs hand
// the function the percent-decoded path, as the local gateway does; the handler now
// answers them like any unknown id.
func TestControlCharactersInPathsAreNotServerErrors(t *testing.T) {
	tok := admin(t)
	signup := `{"organizationName":"Ctl Org","firstName":"A","lastName":"B","email":"ctl@example.com"}`
	cases := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"an end user's id with control characters", "POST", "/v1/end-users/%01%11%7F%1B/deactivate", tok, "", 404},
		{"an end user's id that is a newline", "GET", "/v1/end-users/%0A", tok, "", 404},
		{"a signup partner id with a newline", "POST", "/v1/signup/%0A%0D", "", signup, 404},
		{"a signup partner id with a percent sign", "POST", "/v1/signup/%25zz", "", signup, 404},
		{"a docs path with a control character", "GET", "/docs/%19", "", "", 404},
		{"a docs path with a question mark and a hash", "GET", "/docs/a%3Fb%23c", "", "", 404},
		{"a distributor id with NUL", "PATCH", "/v1/distributors/%00", tok, `{"name":"X Y"}`, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := sendRaw(t, c.method, c.path, c.token, c.body, nil)
			if res.Status != c.status {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, res.Status, res.Body, c.status)
			}
		})
	}
}

// TestHeadersSentEmptyOrGarbledAreRefused: an If-Match or Idempotency-Key that is
// present is never taken for an absent one, and a null body is not an object.
func TestHeadersSentEmptyOrGarbledAreRefused(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("Robust Headers"))
	t.Cleanup(func() { do(t, req{method: "DELETE", path: "/v1/distributors/" + d.ID, token: tok}) })
	id := "/v1/distributors/" + d.ID
	cases := []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		slug, field              string
	}{
		{"update: an empty If-Match", "PATCH", id, `{"name":"Changed Name"}`, http.Header{"If-Match": {""}}, 400, "invalid-if-match", "If-Match"},
		{"update: a garbled If-Match", "PATCH", id, `{"name":"Changed Name"}`, http.Header{"If-Match": {",s<"}}, 400, "invalid-if-match", "If-Match"},
		{"update: two ETags", "PATCH", id, `{"name":"Changed Name"}`, http.Header{"If-Match": {`"1", "2"`}}, 400, "invalid-if-match", "If-Match"},
		{"suspend: an empty If-Match", "POST", id + "/suspend", "", http.Header{"If-Match": {""}}, 400, "invalid-if-match", "If-Match"},
		{"delete: an empty If-Match", "DELETE", id, "", http.Header{"If-Match": {""}}, 400, "invalid-if-match", "If-Match"},
		{"update: a null body", "PATCH", id, `null`, nil, 400, "malformed-json", "body"},
		{"create: a null body", "POST", "/v1/distributors", `null`, nil, 400, "malformed-json", "body"},
		{"create: an empty Idempotency-Key", "POST", "/v1/distributors", `{"name":"Robust Empty Key"}`, http.Header{"Idempotency-Key": {""}}, 400, "validation", "Idempotency-Key"},
		// The fuzzer's finding: a body off the schema with a stale If-Match was a 412; the
		// body is judged first, so the client learns what is wrong with its request.
		{"update: a body off the schema and a stale If-Match", "PATCH", id, `{"name":7}`, http.Header{"If-Match": {`"99"`}}, 400, "validation", "name"},
		{"update: an unknown field and a stale If-Match", "PATCH", id, `{"colour":"red"}`, http.Header{"If-Match": {`"99"`}}, 400, "validation", "colour"},
		{"update: a valid body and a stale If-Match", "PATCH", id, `{"name":"Changed Name"}`, http.Header{"If-Match": {`"99"`}}, 412, "stale", ""},
		{"create: an Idempotency-Key with a comma is one key", "POST", "/v1/distributors", `{"name":"Robust Comma Key"}`, http.Header{"Idempotency-Key": {"a,<"}}, 201, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := sendRaw(t, c.method, c.path, tok, c.body, c.header)
			if c.status == 201 {
				res.expect(t, 201)
				var n node
				res.json(t, &n)
				do(t, req{method: "DELETE", path: "/v1/distributors/" + n.ID, token: tok})
				return
			}
			p := res.problem(t, c.status, c.slug)
			if c.field != "" {
				p.field(t, c.field)
			}
		})
	}
	t.Run("the distributor is unchanged", func(t *testing.T) {
		var got distributor
		do(t, req{method: "GET", path: id, token: tok}).json(t, &got)
		if got != d {
			t.Fatalf("changed: %+v -> %+v", d, got)
		}
	})
}

// TestInviteEndUserAnswersAsDocumented: a bad Idempotency-Key is a documented 400
// validation and a key reused for another record a documented 422.
func TestInviteEndUserAnswersAsDocumented(t *testing.T) {
	tok := admin(t)
	dist := createDistributor(t, tok, unique("Robust Invite"))
	p := createPartner(t, tok, dist.ID, unique("Robust Invite P"))
	o := createOrganization(t, tok, p.ID, unique("Robust Invite O"))
	c := createCompany(t, tok, o.ID, unique("Robust Invite C"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + dist.ID + "?cascade=true", token: tok})
	})
	stamp := strings.ReplaceAll(strings.ToLower(unique("r")), " ", "")
	e1 := createEndUser(t, tok, c.ID, "inv1-"+stamp+"@example.com")
	e2 := createEndUser(t, tok, c.ID, "inv2-"+stamp+"@example.com")
	key := "robust-invite-" + stamp
	sendRaw(t, "POST", "/v1/end-users/"+e1.ID+"/invite", tok, "", http.Header{"Idempotency-Key": {"has space"}}).
		problem(t, 400, "validation").field(t, "Idempotency-Key")
	sendRaw(t, "POST", "/v1/end-users/"+e1.ID+"/invite", tok, "", http.Header{"Idempotency-Key": {key}}).expect(t, 201)
	sendRaw(t, "POST", "/v1/end-users/"+e2.ID+"/invite", tok, "", http.Header{"Idempotency-Key": {key}}).
		problem(t, 422, "idempotency-key-reused").field(t, "Idempotency-Key")
}

// TestEndUserEmailsAreSignInNames replays the fuzzer's 500: an end-user record took an
// address net/mail accepts and Cognito refuses as a user name, and its invitation then
// failed in Cognito. One email rule now serves both (identity.ValidEmail), and the
// invitation signs the end user in by the lower-cased address.
func TestEndUserEmailsAreSignInNames(t *testing.T) {
	tok := admin(t)
	dist := createDistributor(t, tok, unique("Robust Email"))
	p := createPartner(t, tok, dist.ID, unique("Robust Email P"))
	o := createOrganization(t, tok, p.ID, unique("Robust Email O"))
	c := createCompany(t, tok, o.ID, unique("Robust Email C"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + dist.ID + "?cascade=true", token: tok})
	})
	for _, bad := range []string{"a!b@example.com", "ops@localhost", "ü@example.com", "a..b@example.com"} {
		t.Run("refused: "+bad, func(t *testing.T) {
			do(t, req{method: "POST", path: "/v1/end-users", token: tok,
				body: map[string]any{"companyId": c.ID, "email": bad, "firstName": "E", "lastName": "U"}}).
				problem(t, 400, "validation").field(t, "email")
		})
	}
	t.Run("a mixed-case address is invited lower-cased", func(t *testing.T) {
		stamp := strings.ReplaceAll(strings.ToLower(unique("m")), " ", "")
		e := createEndUser(t, tok, c.ID, " Mixed.Case-"+stamp+"@Example.COM ")
		res := do(t, req{method: "POST", path: "/v1/end-users/" + e.ID + "/invite", token: tok})
		res.expect(t, 201)
		var u struct{ Email string }
		res.json(t, &u)
		if want := "mixed.case-" + stamp + "@example.com"; u.Email != want {
			t.Fatalf("invited as %q, want %q", u.Email, want)
		}
	})
}
