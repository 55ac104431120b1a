package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"opsconsole/shared/tree"
)

// roles are the three signed-in users of every branch, each at its own node.
var roles = []tree.Role{tree.RolePartnerAdmin, tree.RoleOrganizationAdmin, tree.RoleCompanyAdmin}

// A kind of thing the load creates, reads and updates.
type kind struct {
	tree.Kind
	resource    string    // the collection, /v1/<resource>
	parentField string    // the create body's (and view's) field naming the parent
	owner       tree.Role // who updates and reads it in the load
}

var (
	organizations = &kind{tree.KindOrganization, "organizations", "partnerId", tree.RolePartnerAdmin}
	companies     = &kind{tree.KindCompany, "companies", "organizationId", tree.RoleOrganizationAdmin}
	endUsers      = &kind{tree.KindEndUser, "end-users", "companyId", tree.RoleCompanyAdmin}
	kinds         = []*kind{organizations, companies, endUsers}
)

// thing is a node the load knows it created (during the seeding or the attack), with
// what the API must show of it afterwards.
type thing struct {
	id     string
	kind   *kind
	parent string
	branch int
	// version is the version the last answer about it showed; updates counts the
	// PATCHes answered 200 with a new version, each of which must be audited.
	version, updates int
	// uncertain is set when a PATCH got no answer (or an unexpected one), so its
	// version is not known any more: it leaves the PATCH pool and its version is not
	// checked.
	uncertain bool
	seeded    bool
}

// branch is one distributor's line of nodes and its three users.
type branch struct {
	index                                   int
	distributor, partner, organization, cmp string
	tokens                                  map[tree.Role]string
}

// slot is one user: a role in a branch.
type slot struct {
	branch int
	role   tree.Role
}

// load is the attack's state, shared by vegeta's workers (through the targeter) and
// the goroutine reading the results; mu guards all of it.
type load struct {
	mu       sync.Mutex
	rng      *rand.Rand
	seq      int
	branches []*branch
	// admin is the platform admin's token, for the checks that read across branches.
	admin  string
	things map[string]*thing
	// readable holds, per user, the ids of the things they read one by one; idle the
	// ones they may update now: a thing is taken out while its PATCH is in flight and
	// put back with the version the 200 shows, so every If-Match names the current
	// version and a 412 means the load lost track, never a race of its own making.
	readable map[slot][]string
	idle     map[slot][]string
	// problems are inconsistencies seen in the answers during the attack.
	problems []string
}

func newLoad() *load {
	return &load{
		rng:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8)),
		things:   map[string]*thing{},
		readable: map[slot][]string{},
		idle:     map[slot][]string{},
	}
}

// add records a created thing and offers it to its owner in its branch; mu held.
func (l *load) add(t *thing) {
	l.things[t.id] = t
	s := slot{t.branch, t.kind.owner}
	l.readable[s] = append(l.readable[s], t.id)
	l.idle[s] = append(l.idle[s], t.id)
}

// problem notes an inconsistency (the first 50, then only their number); mu held.
func (l *load) problem(format string, args ...any) {
	if len(l.problems) < 50 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	} else if len(l.problems) == 50 {
		l.problems = append(l.problems, "… (more)")
	}
}

// request is one request of the mix.
type request struct {
	method, path string
	body         any
	header       http.Header
}

// op is one kind of request a role sends, with its weight in that role's mix. build
// returns false when it cannot be made now (no thing idle to update), and the role's
// first op (a list) is sent instead.
type op struct {
	weight int
	build  func(l *load, b *branch, s slot) (request, bool)
}

func list(path func(b *branch) string) func(*load, *branch, slot) (request, bool) {
	return func(_ *load, b *branch, _ slot) (request, bool) {
		return request{method: http.MethodGet, path: path(b)}, true
	}
}

// getOne reads a random thing of the user's own (seeded or created).
func getOne(l *load, _ *branch, s slot) (request, bool) {
	ids := l.readable[s]
	if len(ids) == 0 {
		return request{}, false
	}
	t := l.things[ids[l.rng.IntN(len(ids))]]
	return request{method: http.MethodGet, path: "/v1/" + t.kind.resource + "/" + t.id}, true
}

// getNode reads one of the branch's seeded nodes.
func getNode(resource string, id func(b *branch) string) func(*load, *branch, slot) (request, bool) {
	return func(_ *load, b *branch, _ slot) (request, bool) {
		return request{method: http.MethodGet, path: "/v1/" + resource + "/" + id(b)}, true
	}
}

// create makes a thing of k under the branch's seeded parent, named uniquely (the
// name carries the role and the branch, for whoever reads the table afterwards).
func create(k *kind, parent func(b *branch) string) func(*load, *branch, slot) (request, bool) {
	return func(l *load, b *branch, s slot) (request, bool) {
		l.seq++
		body := map[string]any{k.parentField: parent(b)}
		if k == endUsers {
			body["email"] = fmt.Sprintf("load-%s-b%d-%d@example.com", strings.ReplaceAll(string(s.role), "_", "-"), b.index, l.seq)
			body["firstName"], body["lastName"] = "Load", "User"
		} else {
			body["name"] = fmt.Sprintf("Load %s %s b%d n%d", k.Kind, s.role, b.index, l.seq)
		}
		return request{method: http.MethodPost, path: "/v1/" + k.resource, body: body}, true
	}
}

// update changes one field of an idle thing of the user's, at its known version; the
// field always changes, so every 200 is a new version with its own audit entry.
func update(l *load, _ *branch, s slot) (request, bool) {
	ids := l.idle[s]
	if len(ids) == 0 {
		return request{}, false
	}
	i := l.rng.IntN(len(ids))
	t := l.things[ids[i]]
	ids[i] = ids[len(ids)-1]
	l.idle[s] = ids[:len(ids)-1]
	l.seq++
	var body map[string]any
	if t.kind == endUsers {
		body = map[string]any{"lastName": fmt.Sprintf("Updated %d", l.seq)}
	} else {
		body = map[string]any{"name": fmt.Sprintf("Load %s renamed n%d", t.kind.Kind, l.seq)}
	}
	return request{
		method: http.MethodPatch, path: "/v1/" + t.kind.resource + "/" + t.id, body: body,
		header: http.Header{"If-Match": {fmt.Sprintf("%q", fmt.Sprint(t.version))}},
	}, true
}

func orgOf(b *branch) string     { return b.organization }
func companyOf(b *branch) string { return b.cmp }
func partnerOf(b *branch) string { return b.partner }

// mix is each role's requests: about two thirds reads (lists of its own level and the
// one below, its users, its audit log, single nodes) and one third writes (creates at
// its own level and below, under the branch's seeded nodes, so that the three users
// of a branch create concurrently under the same parents; updates of its own level's
// things). Invitations, cascades and signups are left out: they have allowances per
// node (README, limits) that a minute of load would exhaust.
var mix = map[tree.Role][]op{
	tree.RolePartnerAdmin: {
		{10, list(func(b *branch) string { return "/v1/organizations?limit=25&partnerId=" + b.partner })},
		{5, list(func(b *branch) string { return "/v1/companies?limit=25&organizationId=" + b.organization })},
		{4, list(func(b *branch) string { return "/v1/users?limit=25&nodeId=" + b.partner })},
		{4, list(func(*branch) string { return "/v1/audit-logs?limit=25" })},
		{10, getOne},
		{5, create(organizations, partnerOf)},
		{3, create(companies, orgOf)},
		{2, create(endUsers, companyOf)},
		{7, update},
	},
	tree.RoleOrganizationAdmin: {
		{10, list(func(b *branch) string { return "/v1/companies?limit=25&organizationId=" + b.organization })},
		{5, list(func(b *branch) string { return "/v1/end-users?limit=25&companyId=" + b.cmp })},
		{4, list(func(b *branch) string { return "/v1/users?limit=25&nodeId=" + b.organization })},
		{4, list(func(*branch) string { return "/v1/audit-logs?limit=25" })},
		{7, getOne},
		{3, getNode("organizations", orgOf)},
		{6, create(companies, orgOf)},
		{4, create(endUsers, companyOf)},
		{7, update},
	},
	tree.RoleCompanyAdmin: {
		{12, list(func(b *branch) string { return "/v1/end-users?limit=25&companyId=" + b.cmp })},
		{4, list(func(b *branch) string { return "/v1/users?limit=25&nodeId=" + b.cmp })},
		{4, list(func(*branch) string { return "/v1/audit-logs?limit=25" })},
		{10, getOne},
		{3, getNode("companies", companyOf)},
		{10, create(endUsers, companyOf)},
		{7, update},
	},
}

// targeter is the attack's vegeta.Targeter: a random user, then a request from their
// role's mix by weight. It never blocks (vegeta counts the targeter's time in the
// latency), and it is safe for vegeta's concurrent workers.
func (l *load) targeter(base string) vegeta.Targeter {
	return func(tgt *vegeta.Target) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		b := l.branches[l.rng.IntN(len(l.branches))]
		s := slot{b.index, roles[l.rng.IntN(len(roles))]}
		ops := mix[s.role]
		total := 0
		for _, o := range ops {
			total += o.weight
		}
		n := l.rng.IntN(total)
		chosen := ops[0]
		for _, o := range ops {
			if n < o.weight {
				chosen = o
				break
			}
			n -= o.weight
		}
		r, ok := chosen.build(l, b, s)
		if !ok {
			r, _ = ops[0].build(l, b, s)
		}
		tgt.Method, tgt.URL = r.method, base+r.path
		tgt.Header = http.Header{"Authorization": {"Bearer " + b.tokens[s.role]}}
		for k, v := range r.header {
			tgt.Header[k] = v
		}
		tgt.Body = nil
		if r.body != nil {
			raw, err := json.Marshal(r.body)
			if err != nil {
				return err
			}
			tgt.Body = raw
			tgt.Header.Set("Content-Type", "application/json")
		}
		return nil
	}
}

// view is what the load reads of a node's JSON.
type view struct {
	ID             string `json:"id"`
	Version        int    `json:"version"`
	PartnerID      string `json:"partnerId"`
	OrganizationID string `json:"organizationId"`
	CompanyID      string `json:"companyId"`
}

func (v view) parent(k *kind) string {
	switch k {
	case organizations:
		return v.PartnerID
	case companies:
		return v.OrganizationID
	default:
		return v.CompanyID
	}
}

// kindOf is the kind of a collection path ("/v1/companies").
func kindOf(path string) *kind {
	for _, k := range kinds {
		if path == "/v1/"+k.resource {
			return k
		}
	}
	return nil
}

// observe takes one result into the load's state: a 201 is a new thing (in the branch
// of its parent), a PATCH's answer its thing's new version. It runs on the one
// goroutine that reads the results.
func (l *load) observe(r *vegeta.Result, parentBranch map[string]int) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		k := kindOf(u.Path)
		if k == nil || r.Code != http.StatusCreated {
			return
		}
		var v view
		if err := json.Unmarshal(r.Body, &v); err != nil || v.ID == "" {
			l.problem("POST %s: 201 without an id: %s", u.Path, r.Body)
			return
		}
		if loc := r.Headers.Get("Location"); loc != u.Path+"/"+v.ID {
			l.problem("POST %s: 201 of %s with Location %q", u.Path, v.ID, loc)
		}
		b, ok := parentBranch[v.parent(k)]
		if !ok {
			l.problem("POST %s: %s created under %q, not a parent of the load", u.Path, v.ID, v.parent(k))
			return
		}
		if v.Version != 1 {
			l.problem("POST %s: %s created at version %d", u.Path, v.ID, v.Version)
		}
		l.add(&thing{id: v.ID, kind: k, parent: v.parent(k), branch: b, version: v.Version})
	case http.MethodPatch:
		id := u.Path[strings.LastIndex(u.Path, "/")+1:]
		t := l.things[id]
		if t == nil {
			l.problem("PATCH %s: not a thing of the load", u.Path)
			return
		}
		if r.Code != http.StatusOK {
			// Its version is unknown now (no answer, or a refusal the mix never
			// provokes): keep it out of the pool; the status check reports the answer.
			t.uncertain = true
			return
		}
		var v view
		if err := json.Unmarshal(r.Body, &v); err != nil || v.Version != t.version+1 {
			l.problem("PATCH %s at version %d: answered %s", u.Path, t.version, r.Body)
			t.uncertain = true
			return
		}
		t.version, t.updates = v.Version, t.updates+1
		s := slot{t.branch, t.kind.owner}
		l.idle[s] = append(l.idle[s], id)
	}
}

// label names a request's operation: its method, its path with ids as {id}, and the
// names of its filters.
func label(method, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return method + " ?"
	}
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		if strings.Contains(s, "_") {
			segs[i] = "{id}"
		}
	}
	l := method + " " + strings.Join(segs, "/")
	var keys []string
	for k := range u.Query() {
		if k != "limit" && k != "cursor" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > 0 {
		l += "?" + strings.Join(keys, "&")
	}
	return l
}
