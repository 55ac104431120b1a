package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The matrix's cells of the API clients' routes (issue #10): a node's admins and every
// admin above manage its clients (company_admin and up); end users have none; an API
// client only reads them. One client is held at every distributor, partner,
// organization and company of the fixture; allowed cells on an id carry a stale
// If-Match (412), creates an empty name (400), so no cell changes anything.
//
// TestAuthorizationMatrixAsAPIClients then runs every route's cells again with an API
// client at each of the matrix's callers' places, with the caller's role: the same
// answers as the person's, except the routes of a person's own account (403) and the
// changes to API clients (403 inside the branch).

// apiClientKinds are the kinds of node the API client cells are placed at.
var apiClientKinds = []tree.Kind{tree.KindDistributor, tree.KindPartner, tree.KindOrganization, tree.KindCompany}

var (
	matrixClientsMu sync.Mutex
	// matrixClients maps a fixture node's label to the id of the API client it holds.
	matrixClients map[string]string
)

// roleAt is the role of a node's level that the fixture's clients hold.
func roleAt(kind tree.Kind) string {
	for _, r := range tree.Roles {
		if r.At(kind) {
			return string(r)
		}
	}
	return ""
}

// clientsAt creates one API client at every distributor, partner, organization and
// company of the fixture (once per run) and returns their ids by node label.
func (w *matrixWorld) clientsAt() map[string]string {
	matrixClientsMu.Lock()
	defer matrixClientsMu.Unlock()
	if matrixClients != nil {
		return matrixClients
	}
	out := map[string]string{}
	for _, n := range w.all {
		if !slices.Contains(apiClientKinds, n.kind) {
			continue
		}
		c := mustCreateClient(w.rootToken(), n.id, "Matrix "+n.label, roleAt(n.kind))
		out[n.label] = c.ID
	}
	matrixClients = out
	return out
}

// rootToken is the platform admin's own token (never a client's).
func (w *matrixWorld) rootToken() string {
	if w.person != nil {
		return w.person.token[tree.RolePlatformAdmin]
	}
	return w.token[tree.RolePlatformAdmin]
}

// mustCreateClient creates an API client; a failure panics (cellsFor has no *testing.T).
func mustCreateClient(token, nodeID, name, role string) apiClient {
	res, err := send(req{method: "POST", path: "/v1/api-clients", token: token,
		body: map[string]any{"nodeId": nodeID, "name": name, "role": role}})
	if err != nil || res.Status != 201 {
		panic(fmt.Sprintf("API client at %s: %v %d %s", nodeID, err, res.Status, res.Body))
	}
	var c apiClient
	if err := json.Unmarshal(res.Body, &c); err != nil {
		panic(err)
	}
	return c
}

// apiClientCells adds, through cell, the cells of one API client route.
func (w *matrixWorld) apiClientCells(rt lambdas.Route, cell cellFunc) {
	seg := strings.Split(strings.TrimPrefix(rt.Path, "/v1/"), "/")
	expect := func(role tree.Role, verb string, p placed, ok int, roleFirst bool) (int, bool) {
		may := roleMay(role, "api-clients", verb)
		change := verb != "get" && verb != "list"
		switch {
		case roleFirst && (!may || (w.clients && change)):
			return 403, false
		case !inside(p.position):
			return 404, false
		case !may || (w.clients && change):
			return 403, false
		}
		return ok, true
	}
	switch {
	case len(seg) == 1 && rt.Method == "POST":
		for _, role := range tree.Roles {
			for _, kind := range apiClientKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, "create", p, 400, true)
					cell("api-clients.create", role, p, req{method: "POST", path: "/v1/api-clients",
						body: map[string]any{"nodeId": p.node.id, "name": "", "role": roleAt(kind)}}, want, ok)
				}
			}
		}
	case len(seg) == 1 && rt.Method == "GET":
		for _, role := range tree.Roles {
			for _, kind := range append([]tree.Kind{tree.KindPlatform}, apiClientKinds...) {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, "list", p, 200, true)
					cell("api-clients.list", role, p, req{method: "GET", path: "/v1/api-clients?limit=1&nodeId=" + p.node.id}, want, ok)
				}
			}
		}
	case len(seg) >= 2 && seg[1] == "{id}":
		verb, ok, build := byIDCell("/v1/api-clients", seg, rt.Method, map[string]any{"name": "Never Written"}, nil)
		if verb == "" {
			return
		}
		held := w.clientsAt()
		for _, role := range tree.Roles {
			for _, kind := range apiClientKinds {
				for _, p := range w.positions(w.at[role], kind) {
					want, allowed := expect(role, verb, p, ok, false)
					cell("api-clients."+verb, role, p, build(held[p.node.label]), want, allowed)
				}
			}
		}
	}
}

// personOnly tells whether a route is about the caller as a person (their profile,
// MFA, login-as sessions): an API client is refused it (403 forbidden).
func personOnly(path string) bool {
	return path == "/v1/me" || strings.HasPrefix(path, "/v1/me/") || strings.HasPrefix(path, "/v1/impersonations")
}

// asAPIClients is the fixture with an API client in place of each matrix caller: at
// the caller's node, with the caller's role (made once per run by the platform admin).
func (w *matrixWorld) asAPIClients(t *testing.T) *matrixWorld {
	t.Helper()
	cw := *w
	cw.token = map[tree.Role]string{}
	cw.clients, cw.person = true, w
	for _, role := range tree.Roles {
		at := w.at[role]
		c := createClient(t, w.token[tree.RolePlatformAdmin], map[string]any{"nodeId": at.id, "name": "Matrix caller " + string(role), "role": string(role)})
		cw.token[role] = clientToken(t, c.ClientID, c.ClientSecret)
	}
	return &cw
}

// TestAuthorizationMatrixAsAPIClients runs the cells of every protected route with API
// clients as the callers: their tokens go through the same policy table, branch checks
// and 404s as a person's.
func TestAuthorizationMatrixAsAPIClients(t *testing.T) {
	w := matrixFixture(t)
	w.makeExports(t)
	cw := w.asAPIClients(t)
	var cells []*matrixCell
	for _, rt := range lambdas.Routes() {
		if rt.Public {
			continue
		}
		// The people's cells first: they make the fixture's targets (licenses,
		// sessions, invited users, …) as people, once per run.
		w.cellsFor(rt)
		if personOnly(rt.Path) {
			// Refused before anything is read, whatever the body or id.
			path := strings.ReplaceAll(rt.Path, "{id}", "imp_"+strings.Repeat("0", 26))
			for _, role := range tree.Roles {
				r := req{method: rt.Method, path: path, token: cw.token[role]}
				if rt.Method == "POST" || rt.Method == "PATCH" {
					r.body = map[string]any{}
				}
				cells = append(cells, &matrixCell{route: rt.Method + " " + rt.Path, op: rt.Method + " " + rt.Path, role: role,
					position: posOwn, target: cw.at[role].label, r: r, want: 403})
			}
			continue
		}
		got := cw.cellsFor(rt)
		if len(got) == 0 {
			t.Errorf("%s %s has no cells", rt.Method, rt.Path)
		}
		cells = append(cells, got...)
	}
	start := time.Now()
	jobs := make(chan *matrixCell)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				c.got, c.err = send(c.r)
			}
		}()
	}
	for _, c := range cells {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	allowed := 0
	for _, c := range cells {
		if c.allowed {
			allowed++
		}
		t.Run(c.name(), func(t *testing.T) {
			if c.err != nil {
				t.Fatal(c.err)
			}
			if c.got.Status != c.want {
				t.Fatalf("%s %s: status %d, want %d: %s", c.r.method, c.r.path, c.got.Status, c.want, c.got.Body)
			}
			if slug := slugOf(c.got); wantSlug[c.want] != "" && slug != wantSlug[c.want] {
				t.Fatalf("%s %s: problem %q, want %q: %s", c.r.method, c.r.path, slug, wantSlug[c.want], c.got.Body)
			}
		})
	}
	t.Logf("authorization matrix as API clients: %d cells, %d allow, %d refuse, sent in %s",
		len(cells), allowed, len(cells)-allowed, time.Since(start).Round(time.Millisecond))
}
