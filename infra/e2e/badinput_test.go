package e2e

import (
	"strings"
	"testing"
)

// TestBadInputIsRefusedAndWritesNothing sends every kind of bad input to every route
// of the slice and checks the problem answer, then that none of it reached the table.
func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	tok := admin(t)
	d := createDistributor(t, tok, unique("Bad Input Target"))
	t.Cleanup(func() { do(t, req{method: "DELETE", path: "/v1/distributors/" + d.ID, token: tok}) })
	id := "/v1/distributors/" + d.ID
	huge := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name   string
		r      req
		status int
		slug   string
		field  string
	}{
		{"create: malformed JSON", req{method: "POST", path: "/v1/distributors", body: `{"name":`}, 400, "malformed-json", "body"},
		{"create: an array body", req{method: "POST", path: "/v1/distributors", body: `[]`}, 400, "malformed-json", "body"},
		{"create: an unknown field", req{method: "POST", path: "/v1/distributors", body: `{"name":"Ok Name","owner":"me"}`}, 400, "validation", "owner"},
		{"create: a number for the name", req{method: "POST", path: "/v1/distributors", body: `{"name":42}`}, 400, "validation", "name"},
		{"create: no name", req{method: "POST", path: "/v1/distributors", body: `{}`}, 400, "validation", "name"},
		{"create: an empty name", req{method: "POST", path: "/v1/distributors", body: `{"name":"   "}`}, 400, "validation", "name"},
		{"create: an over-long name", req{method: "POST", path: "/v1/distributors", body: `{"name":"` + strings.Repeat("n", 101) + `"}`}, 400, "validation", "name"},
		{"create: a bad contact email", req{method: "POST", path: "/v1/distributors", body: `{"name":"Ok Name","contactEmail":"nope"}`}, 400, "validation", "contactEmail"},
		{"create: an oversized body", req{method: "POST", path: "/v1/distributors", body: huge}, 413, "too-large", "body"},
		{"create: a text body", req{method: "POST", path: "/v1/distributors", body: `name=x`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported-media-type", "Content-Type"},
		{"update: malformed JSON", req{method: "PATCH", path: id, body: `{"name"`}, 400, "malformed-json", "body"},
		{"update: an empty object", req{method: "PATCH", path: id, body: `{}`}, 400, "validation", "body"},
		{"update: an unknown field", req{method: "PATCH", path: id, body: `{"status":"suspended"}`}, 400, "validation", "status"},
		{"update: a boolean for the name", req{method: "PATCH", path: id, body: `{"name":true}`}, 400, "validation", "name"},
		{"update: an empty name", req{method: "PATCH", path: id, body: `{"name":""}`}, 400, "validation", "name"},
		{"update: an oversized body", req{method: "PATCH", path: id, body: huge}, 413, "too-large", "body"},
		{"update: a malformed If-Match", req{method: "PATCH", path: id, body: `{"name":"X"}`, header: map[string]string{"If-Match": "1"}}, 400, "invalid-if-match", "If-Match"},
		{"suspend: a malformed If-Match", req{method: "POST", path: id + "/suspend", header: map[string]string{"If-Match": `"abc"`}}, 400, "invalid-if-match", "If-Match"},
		{"delete: a malformed If-Match", req{method: "DELETE", path: id, header: map[string]string{"If-Match": `W/x`}}, 400, "invalid-if-match", "If-Match"},
		{"list: limit 0", req{method: "GET", path: "/v1/distributors?limit=0"}, 400, "validation", "limit"},
		{"list: limit 101", req{method: "GET", path: "/v1/distributors?limit=101"}, 400, "validation", "limit"},
		{"list: an unknown status", req{method: "GET", path: "/v1/distributors?status=gone"}, 400, "validation", "status"},
		{"list: an unknown parameter", req{method: "GET", path: "/v1/distributors?sort=name"}, 400, "validation", "sort"},
		{"list: an over-long search", req{method: "GET", path: "/v1/distributors?q=" + strings.Repeat("q", 101)}, 400, "validation", "q"},
		{"list: a forged cursor", req{method: "GET", path: "/v1/distributors?cursor=eyJQSyI6Ik5PREUjeCJ9.AAAA"}, 400, "invalid-cursor", "cursor"},
		{"get: an id of another kind", req{method: "GET", path: "/v1/distributors/prt_01jabcdefghjkmnpqrstvwxyz0"}, 404, "not-found", ""},
		{"audit: a bad time", req{method: "GET", path: "/v1/audit-logs?from=yesterday"}, 400, "validation", "from"},
		{"audit: a bad limit", req{method: "GET", path: "/v1/audit-logs?limit=-1"}, 400, "validation", "limit"},
		{"audit: a forged cursor", req{method: "GET", path: "/v1/audit-logs?cursor=abc.def"}, 400, "invalid-cursor", "cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.r.token = tok
			p := do(t, c.r).problem(t, c.status, c.slug)
			if c.field != "" {
				p.field(t, c.field)
			}
			if strings.Contains(p.Detail, "json:") || strings.Contains(p.Detail, "dynamodb") {
				t.Fatalf("the answer leaks an internal message: %s", p.Detail)
			}
		})
	}
	t.Run("the target is unchanged and nothing else was created", func(t *testing.T) {
		res := do(t, req{method: "GET", path: id, token: tok})
		var got distributor
		res.json(t, &got)
		if got != d {
			t.Fatalf("changed: %+v -> %+v", d, got)
		}
		res = do(t, req{method: "GET", path: "/v1/distributors?q=ok%20name", token: tok})
		var p distributorPage
		res.json(t, &p)
		if len(p.Items) != 0 {
			t.Fatalf("bad requests created %+v", p.Items)
		}
	})
}
