package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"opsconsole/shared/tree"
)

// These tests cover the load's book-keeping without the local system (which only
// `make load` starts): the PATCH pool that keeps every If-Match current, and the
// labels of the report.

const base = "http://load.test"

func testLoad() *load {
	l := newLoad()
	b := &branch{index: 0, partner: "prt_1", organization: "org_1", cmp: "cmp_1", tokens: map[tree.Role]string{}}
	for _, r := range roles {
		b.tokens[r] = "token-" + string(r)
	}
	l.branches = []*branch{b}
	l.add(&thing{id: "eu_1", kind: endUsers, parent: "cmp_1", version: 1, seeded: true})
	return l
}

func TestUpdateTakesTheThingOutUntilItsAnswer(t *testing.T) {
	l := testLoad()
	s := slot{0, tree.RoleCompanyAdmin}
	l.mu.Lock()
	r, ok := update(l, l.branches[0], s)
	l.mu.Unlock()
	if !ok || r.method != http.MethodPatch || r.path != "/v1/end-users/eu_1" || r.header.Get("If-Match") != `"1"` {
		t.Fatalf("update = %+v, %v", r, ok)
	}
	if _, ok := update(l, l.branches[0], s); ok || len(l.idle[s]) != 0 {
		t.Fatal("a thing in flight was offered again")
	}
	l.observe(&vegeta.Result{Method: http.MethodPatch, URL: base + r.path, Code: 200, Body: []byte(`{"id":"eu_1","version":2}`)}, l.parents())
	if th := l.things["eu_1"]; th.version != 2 || th.updates != 1 || len(l.idle[s]) != 1 {
		t.Fatalf("after a 200: %+v, idle %v", th, l.idle[s])
	}
	r, _ = update(l, l.branches[0], s)
	if r.header.Get("If-Match") != `"2"` {
		t.Fatalf("If-Match %q after the 200, want \"2\"", r.header.Get("If-Match"))
	}
	l.observe(&vegeta.Result{Method: http.MethodPatch, URL: base + r.path, Code: 412}, l.parents())
	if th := l.things["eu_1"]; !th.uncertain || len(l.idle[s]) != 0 {
		t.Fatalf("after a 412: %+v, idle %v", th, l.idle[s])
	}
}

func TestCreatedThingsJoinTheirOwnersPools(t *testing.T) {
	l := testLoad()
	res := &vegeta.Result{
		Method: http.MethodPost, URL: base + "/v1/companies", Code: 201,
		Headers: http.Header{"Location": {"/v1/companies/cmp_2"}},
		Body:    []byte(`{"id":"cmp_2","organizationId":"org_1","version":1}`),
	}
	l.observe(res, l.parents())
	owner := slot{0, tree.RoleOrganizationAdmin}
	if th := l.things["cmp_2"]; th == nil || th.parent != "org_1" || len(l.idle[owner]) != 1 || len(l.readable[owner]) != 1 {
		t.Fatalf("created company: %+v, pools %v %v", th, l.idle, l.readable)
	}
	if len(l.problems) != 0 {
		t.Fatal(l.problems)
	}
	res.Headers.Set("Location", "/v1/companies/other")
	res.Body = []byte(`{"id":"cmp_3","organizationId":"org_1","version":1}`)
	l.observe(res, l.parents())
	if len(l.problems) != 1 {
		t.Fatalf("a wrong Location was not noted: %v", l.problems)
	}
}

func TestTargeterSendsEveryRolesRequestsAsThatRole(t *testing.T) {
	l := testLoad()
	tr := l.targeter(base)
	for range 500 {
		var tgt vegeta.Target
		if err := tr(&tgt); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tgt.URL, base+"/v1/") || !strings.HasPrefix(tgt.Header.Get("Authorization"), "Bearer token-") {
			t.Fatalf("target %+v", tgt)
		}
		if tgt.Body != nil && !json.Valid(tgt.Body) {
			t.Fatalf("body %s", tgt.Body)
		}
		if tgt.Method == http.MethodPatch {
			// Answer it, so that the pool refills as the attack's results do.
			id := tgt.URL[strings.LastIndex(tgt.URL, "/")+1:]
			v := l.things[id].version + 1
			l.observe(&vegeta.Result{Method: tgt.Method, URL: tgt.URL, Code: 200, Body: fmt.Appendf(nil, `{"id":%q,"version":%d}`, id, v)}, l.parents())
		}
	}
	if len(l.problems) != 0 {
		t.Fatal(l.problems)
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		base + "/v1/organizations?limit=25&partnerId=prt_x": "GET /v1/organizations?partnerId",
		base + "/v1/end-users/eu_01abc":                     "GET /v1/end-users/{id}",
		base + "/v1/audit-logs?limit=25":                    "GET /v1/audit-logs",
	} {
		if got := label(http.MethodGet, in); got != want {
			t.Errorf("label(%s) = %q, want %q", in, got, want)
		}
	}
}
