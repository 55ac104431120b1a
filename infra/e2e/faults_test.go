package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"opsconsole/infra/local"
	"opsconsole/shared/counts"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
)

// faultRate and faultSeed are the faults of TestUnderInjectedFaults: 10% of the
// functions' DynamoDB calls, the same sequence every run (FAULT_TEST_SEED replays
// another).
const (
	faultRate = 0.10
	faultSeed = 20260108
)

// faultRun is the client side of TestUnderInjectedFaults: it sends requests, retries
// those answered 503 (after their Retry-After, with the same Idempotency-Key), and
// counts what it saw.
type faultRun struct {
	t     *testing.T
	token string

	mu        sync.Mutex
	requests  int
	byStatus  map[int]int
	retried   int // requests sent again after a 503
	readFails int // reads answered 503
}

// send makes r until it is answered with something other than a 503 (at most 8
// times), checking every 503 on the way: problem unavailable, with Retry-After. Any
// 500, or a 503 that is not that, fails the test. It returns the last answer.
func (f *faultRun) send(r req) response {
	r.token = f.token
	var res response
	for attempt := 1; ; attempt++ {
		var err error
		res, err = send(r)
		if err != nil {
			f.t.Errorf("%s %s: %v", r.method, r.path, err)
			return res
		}
		f.mu.Lock()
		f.requests++
		f.byStatus[res.Status]++
		if res.Status == http.StatusServiceUnavailable && r.method == http.MethodGet {
			f.readFails++
		}
		f.mu.Unlock()
		if res.Status >= 500 && res.Status != http.StatusServiceUnavailable {
			f.t.Errorf("%s %s answered %d under faults: %s", r.method, r.path, res.Status, res.Body)
			return res
		}
		if res.Status != http.StatusServiceUnavailable {
			return res
		}
		var p problemBody
		_ = json.Unmarshal(res.Body, &p)
		wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if p.Type != "urn:opsconsole:problem:unavailable" || err != nil || wait < 1 {
			f.t.Errorf("%s %s: 503 without problem unavailable and Retry-After (%q): %s",
				r.method, r.path, res.Header.Get("Retry-After"), res.Body)
			return res
		}
		if attempt == 8 {
			f.t.Errorf("%s %s: still 503 after %d attempts", r.method, r.path, attempt)
			return res
		}
		f.mu.Lock()
		f.retried++
		f.mu.Unlock()
		time.Sleep(time.Duration(wait) * time.Second)
	}
}

// must sends r (see send) and fails the test unless the final answer has status want;
// it decodes a 2xx body into out when out is not nil.
func (f *faultRun) must(r req, want int, out any) response {
	res := f.send(r)
	if res.Status != want {
		f.t.Errorf("%s %s: %d, want %d: %s", r.method, r.path, res.Status, want, res.Body)
		return res
	}
	if out != nil {
		if err := json.Unmarshal(res.Body, out); err != nil {
			f.t.Errorf("%s %s: decode %s: %v", r.method, r.path, res.Body, err)
		}
	}
	return res
}

// parallel runs fn(i) for i in [0, n) on at most 6 goroutines.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// restoreFaults puts back the faults the suite runs with: none, unless
// DDB_FAULT_RATE asks for them (local.FaultsFromEnv).
func restoreFaults() {
	f, _ := local.FaultsFromEnv()
	sys.Services.SetFaults(f)
}

// model is what the workload changed, to compare with the table afterwards.
type model struct {
	mu sync.Mutex
	// nodes are the live nodes the workload made: id → resource, parent, name, status.
	nodes map[string]*modelNode
	// gone are the nodes deleted (a 204, or below a cascade's root).
	gone []string
	// actions are the audit actions expected per target, in any order.
	actions map[string][]string
	// users are the invited console users: id → node they were invited at;
	// goneUsers those the sweeper removes with their node.
	users     map[string]string
	goneUsers []string
}

type modelNode struct {
	resource, kind, parent, name, status string
}

func (m *model) add(id string, n *modelNode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[id] = n
	m.actions[id] = append(m.actions[id], n.kind+".created")
}

func (m *model) did(id, action string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.actions[id] = append(m.actions[id], action)
}

// TestUnderInjectedFaults runs a workload of creates (with Idempotency-Key), renames,
// status changes, deletes, a cascading delete, invitations and reads while the
// DynamoDB proxy answers 10% of the functions' calls with throttling or a 500
// (fixed seed). It asserts that no answer is a 500 and every answer that is not the
// expected one is 503 unavailable with Retry-After (whose retry then succeeds); then,
// faults off, that the table is whole: every thing made is readable as last changed,
// the deleted ones and the cascade's subtree are gone, the children counters and the
// stream-kept counts match the lists, and every change is audited exactly once. The
// figures go to the log (docs/robustness.md).
func TestUnderInjectedFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tok := admin(t)
	seed := uint64(faultSeed)
	if v := os.Getenv("FAULT_TEST_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULT_TEST_SEED: %v", err)
		}
		seed = s
	}
	f := &faultRun{t: t, token: tok, byStatus: map[int]int{}}
	m := &model{nodes: map[string]*modelNode{}, actions: map[string][]string{}, users: map[string]string{}}
	began := time.Now()

	sys.Services.SetFaults(local.Faults{Rate: faultRate, Seed: seed})
	defer restoreFaults()
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)

	// Creates: 4 distributors, 6 partners each, 2 organizations under each partner
	// of the first two, with an Idempotency-Key each (a retry after a 503 uses it
	// again).
	create := func(resource, kind, parentField, parent, name string) string {
		body := map[string]string{"name": name}
		if parentField != "" {
			body[parentField] = parent
		}
		var v struct{ ID, Status string }
		res := f.must(req{method: "POST", path: "/v1/" + resource, body: body,
			header: map[string]string{"Idempotency-Key": strings.ReplaceAll("faults-"+name, " ", "-")}}, http.StatusCreated, &v)
		if res.Status != http.StatusCreated {
			return ""
		}
		m.add(v.ID, &modelNode{resource: resource, kind: kind, parent: parent, name: name, status: v.Status})
		return v.ID
	}
	dists := make([]string, 4)
	parallel(len(dists), func(i int) {
		dists[i] = create("distributors", "distributor", "", "", fmt.Sprintf("Faulty %s D%d", tag, i))
	})
	partners := make([][]string, len(dists))
	for i := range partners {
		partners[i] = make([]string, 6)
	}
	parallel(len(dists)*6, func(k int) {
		i, j := k/6, k%6
		partners[i][j] = create("partners", "partner", "distributorId", dists[i], fmt.Sprintf("Faulty %s P%d.%d", tag, i, j))
	})
	var orgs []string
	var orgMu sync.Mutex
	parallel(2*6*2, func(k int) {
		i, j, n := k/12, (k/2)%6, k%2
		id := create("organizations", "organization", "partnerId", partners[i][j], fmt.Sprintf("Faulty %s O%d.%d.%d", tag, i, j, n))
		orgMu.Lock()
		orgs = append(orgs, id)
		orgMu.Unlock()
	})
	if t.Failed() {
		t.FailNow()
	}

	// Changes: renames, status changes, invitations.
	parallel(6, func(j int) {
		id := partners[0][j]
		name := m.nodes[id].name + " renamed"
		f.must(req{method: "PATCH", path: "/v1/partners/" + id, body: map[string]string{"name": name}}, http.StatusOK, nil)
		m.mu.Lock()
		m.nodes[id].name = name
		m.mu.Unlock()
		m.did(id, "partner.updated")
	})
	parallel(4, func(j int) {
		id := partners[2][j]
		f.must(req{method: "POST", path: "/v1/partners/" + id + "/suspend"}, http.StatusOK, nil)
		m.did(id, "partner.suspended")
		status := "suspended"
		if j == 0 {
			f.must(req{method: "POST", path: "/v1/partners/" + id + "/enable"}, http.StatusOK, nil)
			m.did(id, "partner.enabled")
			status = "active"
		}
		m.mu.Lock()
		m.nodes[id].status = status
		m.mu.Unlock()
	})
	parallel(8, func(k int) {
		id := orgs[k]
		if k >= 4 {
			name := m.nodes[id].name + " renamed"
			f.must(req{method: "PATCH", path: "/v1/organizations/" + id, body: map[string]string{"name": name}}, http.StatusOK, nil)
			m.mu.Lock()
			m.nodes[id].name = name
			m.mu.Unlock()
			m.did(id, "organization.updated")
			return
		}
		f.must(req{method: "POST", path: "/v1/organizations/" + id + "/deactivate"}, http.StatusOK, nil)
		m.mu.Lock()
		m.nodes[id].status = "deactivated"
		m.mu.Unlock()
		m.did(id, "organization.deactivated")
	})
	// Invitations at partners of the first distributor (kept) and of the second
	// (cascade-deleted below: the sweeper then removes them).
	invitedAt := []string{partners[0][0], partners[0][1], partners[0][2], partners[0][3], partners[1][0]}
	parallel(len(invitedAt), func(k int) {
		var u struct{ ID, Status string }
		email := fmt.Sprintf("faulty-%s-%d@example.com", tag, k)
		res := f.must(req{method: "POST", path: "/v1/users", header: map[string]string{"Idempotency-Key": "faults-" + email},
			body: map[string]string{"email": email, "firstName": "Faulty", "lastName": "User", "role": "partner_admin", "nodeId": invitedAt[k]}},
			http.StatusCreated, &u)
		if res.Status == http.StatusCreated {
			m.mu.Lock()
			m.users[u.ID] = invitedAt[k]
			m.mu.Unlock()
			m.did(u.ID, "user.invited")
		}
	})

	// Churn: each partner of the fourth distributor renamed again and again (each
	// rename read back), and organizations deactivated and reactivated in turn, so
	// that the counter follows many status changes made under faults.
	const renames, cycles = 40, 10
	parallel(6, func(j int) {
		id := partners[3][j]
		for k := range renames {
			name := fmt.Sprintf("%s v%d", m.nodes[id].name, k)
			f.must(req{method: "PATCH", path: "/v1/partners/" + id, body: map[string]string{"name": name}}, http.StatusOK, nil)
			m.did(id, "partner.updated")
			f.must(req{method: "GET", path: "/v1/partners/" + id}, http.StatusOK, nil)
			if k == renames-1 {
				m.mu.Lock()
				m.nodes[id].name = name
				m.mu.Unlock()
			}
		}
	})
	parallel(4, func(k int) {
		id := orgs[8+k]
		for range cycles {
			f.must(req{method: "POST", path: "/v1/organizations/" + id + "/deactivate"}, http.StatusOK, nil)
			f.must(req{method: "POST", path: "/v1/organizations/" + id + "/reactivate"}, http.StatusOK, nil)
			m.did(id, "organization.deactivated")
			m.did(id, "organization.reactivated")
		}
	})

	// Deletes: a childless partner (204), and the second distributor with its
	// partners and organizations (202: the tree-deleter removes the subtree).
	leaf := partners[2][5]
	f.must(req{method: "DELETE", path: "/v1/partners/" + leaf}, http.StatusNoContent, nil)
	m.did(leaf, "partner.deleted")
	doomed := dists[1]
	f.must(req{method: "DELETE", path: "/v1/distributors/" + doomed + "?cascade=true"}, http.StatusAccepted, nil)
	m.did(doomed, "distributor.deletion-started")
	m.mu.Lock()
	for id, n := range m.nodes {
		if id == leaf || id == doomed || n.parent == doomed || (n.parent != "" && m.nodes[n.parent] != nil && m.nodes[n.parent].parent == doomed) {
			m.gone = append(m.gone, id)
			if id != leaf {
				m.actions[id] = append(m.actions[id], n.kind+".deleted")
			}
		}
	}
	for _, id := range m.gone {
		delete(m.nodes, id)
	}
	for id, at := range m.users {
		if m.nodes[at] == nil {
			m.goneUsers = append(m.goneUsers, id)
			m.actions[id] = append(m.actions[id], "user.deleted")
			delete(m.users, id)
		}
	}
	m.mu.Unlock()

	// Reads while the faults last: each node and each list of partners, answered
	// 200, or 503 and then 200.
	var live []string
	for id := range m.nodes {
		live = append(live, id)
	}
	sort.Strings(live)
	parallel(len(live), func(k int) {
		n := m.nodes[live[k]]
		f.must(req{method: "GET", path: "/v1/" + n.resource + "/" + live[k]}, http.StatusOK, nil)
	})
	kept := []string{dists[0], dists[2], dists[3]}
	parallel(len(kept), func(i int) {
		f.must(req{method: "GET", path: "/v1/partners?limit=100&distributorId=" + kept[i]}, http.StatusOK, nil)
	})

	// The stream consumers (audit, counts, the tree-deleter, the sweeper) work
	// under the faults too: they stay on until the cascade's end is audited.
	dwell := time.Now()
	deadline := dwell.Add(60 * time.Second)
	for {
		var p auditPage
		res := f.send(req{method: "GET", path: "/v1/audit-logs?limit=100&targetId=" + doomed})
		_ = json.Unmarshal(res.Body, &p)
		if slices.ContainsFunc(p.Items, func(e auditEntry) bool { return e.Action == "distributor.deleted" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Logf("the cascade's end is not audited yet: %d %s", res.Status, res.Body)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("the cascade's end was audited %s after its start was answered", time.Since(dwell).Round(time.Millisecond))

	stats := sys.Services.FaultStats()
	sys.Services.SetFaults(local.Faults{})
	underFaults := time.Since(began)
	t.Logf("under %.0f%% faults (seed %d, %s): %d API requests (%d answered 503 and sent again, %d of them reads); "+
		"statuses %v; DynamoDB: %d data-plane calls, %d faults injected %v, %d SDK retries, %d faults on a last attempt (surfaced to the code)",
		faultRate*100, seed, underFaults.Round(time.Millisecond), f.requests, f.retried, f.readFails, f.byStatus,
		stats.Requests, stats.Total(), stats.Injected, stats.Retries, stats.LastAttempt)
	if stats.Total() == 0 {
		t.Fatal("no fault was injected")
	}
	if t.Failed() {
		t.FailNow()
	}

	// Faults off: the table is whole once the stream consumers have caught up.
	t.Run("every thing made is readable as last changed", func(t *testing.T) {
		for _, id := range live {
			n := m.nodes[id]
			var v struct{ Name, Status string }
			do(t, req{method: "GET", path: "/v1/" + n.resource + "/" + id, token: tok}).json(t, &v)
			if v.Name != n.name || v.Status != n.status {
				t.Errorf("%s is %q %s, want %q %s", id, v.Name, v.Status, n.name, n.status)
			}
		}
		for id, node := range m.users {
			var u struct{ NodeID, Status string }
			do(t, req{method: "GET", path: "/v1/users/" + id, token: tok}).json(t, &u)
			if u.NodeID != node || u.Status != "invited" {
				t.Errorf("user %s: %+v, want invited at %s", id, u, node)
			}
		}
	})
	t.Run("the deleted things and the cascade's subtree are gone", func(t *testing.T) {
		eventually(t, 60*time.Second, func() error {
			var left []string
			for _, id := range m.gone {
				if _, err := nodes.Get(t0(), st, id); err == nil {
					left = append(left, id)
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			if len(left) > 0 {
				return fmt.Errorf("%d of %d deleted nodes still there: %v", len(left), len(m.gone), left)
			}
			for _, id := range m.goneUsers {
				if res := do(t, req{method: "GET", path: "/v1/users/" + id, token: tok}); res.Status != http.StatusNotFound {
					return fmt.Errorf("user %s of a deleted node: %d", id, res.Status)
				}
			}
			return nil
		})
	})
	t.Run("children counters and counts match the lists", func(t *testing.T) {
		// The expected children of each live parent, by kind and status.
		want := map[string]counts.Counts{}
		children := map[string]int{}
		for _, n := range m.nodes {
			if n.parent == "" {
				continue
			}
			if want[n.parent] == nil {
				want[n.parent] = counts.Counts{}
			}
			if want[n.parent][n.kind] == nil {
				want[n.parent][n.kind] = map[string]int{}
			}
			want[n.parent][n.kind][n.status]++
			children[n.parent]++
		}
		for id, n := range m.nodes {
			if n.kind == "organization" {
				continue // no children made below organizations
			}
			it, err := nodes.Get(t0(), st, id)
			if err != nil {
				t.Fatal(err)
			}
			if it.Children != children[id] {
				t.Errorf("%s: children counter %d, want %d", id, it.Children, children[id])
			}
			w := want[id]
			if w == nil {
				w = counts.Counts{}
			}
			eventually(t, 30*time.Second, func() error {
				got, err := counts.Get(t0(), st, id)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(got, w) {
					return fmt.Errorf("counts of %s = %v, want %v", id, got, w)
				}
				return nil
			})
		}
		// And the lists say the same (the partners of each live distributor).
		for _, d := range kept {
			eventually(t, 30*time.Second, func() error {
				var p partnerPage
				res := do(t, req{method: "GET", path: "/v1/partners?limit=100&distributorId=" + d, token: tok})
				res.json(t, &p)
				listed := map[string]int{}
				for _, it := range p.Items {
					listed[it.Status]++
				}
				if !reflect.DeepEqual(counts.Counts{"partner": listed}, want[d]) {
					return fmt.Errorf("partners of %s listed %v, counted %v", d, listed, want[d])
				}
				return nil
			})
		}
	})
	t.Run("every change is audited exactly once", func(t *testing.T) {
		for id, wantActions := range m.actions {
			w := append([]string(nil), wantActions...)
			sort.Strings(w)
			eventually(t, 30*time.Second, func() error {
				var got []string
				query := "limit=100&targetId=" + urlq(id)
				for {
					res := do(t, req{method: "GET", path: "/v1/audit-logs?" + query, token: tok})
					var p auditPage
					res.json(t, &p)
					for _, e := range p.Items {
						got = append(got, e.Action)
					}
					if p.NextCursor == nil {
						break
					}
					query = "limit=100&targetId=" + urlq(id) + "&cursor=" + urlq(*p.NextCursor)
				}
				sort.Strings(got)
				if strings.Join(got, ",") != strings.Join(w, ",") {
					return fmt.Errorf("audit of %s: %v, want %v", id, got, w)
				}
				return nil
			})
		}
	})
}

// TestUnavailableWriteIsRetrySafe makes every transaction fail (throttled or 500, past
// the SDK's 3 attempts): a create is answered 503 unavailable with Retry-After and
// leaves nothing behind, neither the thing, nor its audit entry, nor a claim on its
// Idempotency-Key; the same request, faults off, then creates it once.
func TestUnavailableWriteIsRetrySafe(t *testing.T) {
	tok := admin(t)
	name := unique("Unavailable")
	key := strings.ReplaceAll("unavailable-"+name, " ", "-")
	create := req{method: "POST", path: "/v1/distributors", token: tok, body: map[string]string{"name": name},
		header: map[string]string{"Idempotency-Key": key}}

	sys.Services.SetFaults(local.Faults{Rate: 1, Seed: faultSeed, Ops: []string{"TransactWriteItems"}})
	defer restoreFaults()
	res := do(t, create)
	stats := sys.Services.FaultStats()
	sys.Services.SetFaults(local.Faults{})
	res.problem(t, http.StatusServiceUnavailable, "unavailable")
	if res.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", res.Header.Get("Retry-After"))
	}
	// At least the create's 3 attempts: a stream consumer's transaction (the tree
	// counter's) that runs at the same moment is faulted too, and retried by its poller.
	if stats.Total() < 3 || stats.LastAttempt < 1 {
		t.Errorf("faults %+v, want at least the transaction's 3 attempts faulted", stats)
	}
	var list distributorPage
	do(t, req{method: "GET", path: "/v1/distributors?q=" + urlq(name), token: tok}).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("the refused create left %+v", list.Items)
	}

	res = do(t, create)
	res.expect(t, http.StatusCreated)
	if res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the retry was answered from a stored 503")
	}
	var d distributor
	res.json(t, &d)
	again := do(t, create)
	again.expect(t, http.StatusCreated)
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Error("the repeat of the created request was not replayed")
	}
	eventually(t, 10*time.Second, func() error {
		var p auditPage
		do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + d.ID, token: tok}).json(t, &p)
		if got := actions(p.Items); got != "distributor.created" {
			return fmt.Errorf("audit of %s: %s, want distributor.created once", d.ID, got)
		}
		return nil
	})
}
