package e2e

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"opsconsole/shared/api"
	"opsconsole/shared/cascade"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// The allowances per node of the expensive routes (shared/throttle, nodelimit.go):
// each test spends one node's whole allowance, most of it with calls that pass
// authorization and then fail cheaply (every such call counts: no Cognito account or
// email is needed to reach the limit), checks that the next real call is a 429 with
// Retry-After, and that another node's call still passes.

// inOneWindow makes sure the rest of a test falls in one window of a's: when less than
// a minute of the current one is left, it waits for the next to begin. A node's count
// starts afresh with each window, so a test split across two would see the limit late.
// It returns a check that the test did not outlast the window after all.
func inOneWindow(t *testing.T, a api.Allowance) (check func()) {
	t.Helper()
	w := int64(a.Window / time.Second)
	window := func() int64 { return time.Now().Unix() / w * w }
	if left := time.Unix(window()+w, 0).Sub(time.Now()); left < time.Minute {
		t.Logf("waiting %s for the next %s window", left.Round(time.Second), a.Window)
		time.Sleep(left + 100*time.Millisecond)
	}
	start := window()
	return func() {
		t.Helper()
		if window() != start {
			t.Fatalf("the test took over a minute and crossed the edge of a %s window", a.Window)
		}
	}
}

// nodeThrottled asserts a 429 throttled, problem+json, whose Retry-After is whole
// seconds within a's window.
func nodeThrottled(t *testing.T, res response, a api.Allowance) {
	t.Helper()
	res.problem(t, 429, "throttled")
	s, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || s < 1 || s > int(a.Window/time.Second) {
		t.Fatalf("Retry-After %q, want whole seconds in 1..%d", res.Header.Get("Retry-After"), int(a.Window/time.Second))
	}
}

// spend makes n calls at once (a few in parallel, as a burst would come), each of
// which must answer want: the limiter counts a parallel burst exactly.
func spend(t *testing.T, n, want int, call func(i int) response) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if res := call(i); res.Status != want {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("call %d: %d %s", i, res.Status, res.Body))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d of %d calls did not answer %d, first: %s", len(bad), n, want, bad[0])
	}
}

// TestInvitationsLimitPerNode drives POST /v1/users at one node past its invitations
// allowance: the next invitation there, and a resending there, are 429; another
// node's invitation is still 201.
func TestInvitationsLimitPerNode(t *testing.T) {
	a := throttle.Invitations
	tok := admin(t)
	_, nodeA := partnerTree(t)
	_, nodeB := partnerTree(t)
	check := inOneWindow(t, a)

	invite := func(nodeID, email string) response {
		return do(t, req{method: "POST", path: "/v1/users", token: tok, body: map[string]string{
			"email": email, "firstName": "Jane", "lastName": "Doe", "role": string(tree.RolePartnerAdmin), "nodeId": nodeID,
		}})
	}
	// Two real invitations, then calls that pass authorization (the node exists and is
	// the caller's to invite to) and fail on the body: each counts.
	invited := inviteUser(t, tok, nodeA.ID, tree.RolePartnerAdmin, testEmail("limit-a"))
	inviteUser(t, tok, nodeA.ID, tree.RolePartnerAdmin, testEmail("limit-a"))
	spend(t, a.Max-2, 400, func(int) response {
		return do(t, req{method: "POST", path: "/v1/users", token: tok, body: map[string]string{"nodeId": nodeA.ID}})
	})

	nodeThrottled(t, invite(nodeA.ID, testEmail("limit-a-over")), a)
	// Resending an invitation at the node shares the allowance.
	nodeThrottled(t, do(t, req{method: "POST", path: "/v1/users/" + invited.ID + "/resend-invite", token: tok}), a)
	// Another node's allowance is untouched.
	invite(nodeB.ID, testEmail("limit-b")).expect(t, 201)
	// A call that fails authorization is not counted against the node: a stranger
	// cannot spend it (here: its own node is B's sibling, so A answers 404).
	stranger, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, nodeB.ID))
	do(t, req{method: "POST", path: "/v1/users", token: stranger, body: map[string]string{"nodeId": nodeA.ID}}).problem(t, 404, "not-found")
	check()
}

// TestCascadesLimitPerParent drives cascading deletes of partners of one distributor
// past the distributor's cascades allowance: the next cascade below it is 429, while a
// delete without children below it still goes through, and a cascade below another
// distributor is still 202.
func TestCascadesLimitPerParent(t *testing.T) {
	a := throttle.Cascades
	tok := admin(t)
	distA := createDistributor(t, tok, unique("Cascade Limit A"))
	distB := createDistributor(t, tok, unique("Cascade Limit B"))
	withChild := func(distID string) partner {
		p := createPartner(t, tok, distID, unique("Cascade Limit Partner"))
		createOrganization(t, tok, p.ID, unique("Cascade Limit Org"))
		return p
	}
	first, second := withChild(distA.ID), withChild(distA.ID)
	childless := createPartner(t, tok, distA.ID, unique("Cascade Limit Childless"))
	other := withChild(distB.ID)
	check := inOneWindow(t, a)

	cascadeDel := func(id string, version int) response {
		return do(t, req{method: "DELETE", path: "/v1/partners/" + id + "?cascade=true", token: tok,
			header: map[string]string{"If-Match": fmt.Sprintf(`"%d"`, version)}})
	}
	// One real cascade, then cascades refused as stale (If-Match): each counts.
	cascadeDel(first.ID, nodeOf(t, first.ID).Version).expect(t, 202)
	stale := nodeOf(t, second.ID).Version + 100
	spend(t, a.Max-1, 412, func(int) response { return cascadeDel(second.ID, stale) })

	nodeThrottled(t, cascadeDel(second.ID, nodeOf(t, second.ID).Version), a)
	var job cascade.Job
	if err := st.Get(t0(), cascade.JobKey(second.ID), &job); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused cascade began: job %+v, %v", job, err)
	}
	// cascade=true of a childless node is a single delete, never counted.
	cascadeDel(childless.ID, nodeOf(t, childless.ID).Version).expect(t, 204)
	// Below another distributor, cascades go on.
	cascadeDel(other.ID, nodeOf(t, other.ID).Version).expect(t, 202)
	check()
}

// TestSignupsLimitPerPartner drives one partner's public signups past its allowance:
// the next signup to it is 429 (and sends nothing), while another open partner's
// signup is still 202.
func TestSignupsLimitPerPartner(t *testing.T) {
	a := throttle.Signups
	tok := admin(t)
	_, partA := partnerTree(t)
	_, partB := partnerTree(t)
	for _, p := range []partner{partA, partB} {
		do(t, req{method: "PUT", path: "/v1/partners/" + p.ID + "/signup", token: tok, body: map[string]bool{"enabled": true}}).expect(t, 200)
	}
	taken := unique("Signup Limit Org")
	createOrganization(t, tok, partA.ID, taken)
	check := inOneWindow(t, a)

	// A fresh address, so the per-address limit (30 per 15 minutes) is this test's
	// alone and above the partner's; a fresh email per call for the per-email one.
	from := newAddress(t)
	signup := func(partnerID, name, email string) response {
		return from.post(t, "/v1/signup/"+partnerID, map[string]string{
			"organizationName": name, "firstName": "Ada", "lastName": "Lovelace", "email": email,
		})
	}
	// One real signup, then signups for a name the partner already has: each counts.
	signup(partA.ID, unique("Signup Limit New"), testEmail("signup-limit")).expect(t, 202)
	for i := range a.Max - 1 {
		signup(partA.ID, taken, testEmail(fmt.Sprintf("signup-limit-%d", i))).problem(t, 409, "name-taken")
	}
	over := testEmail("signup-limit-over")
	nodeThrottled(t, signup(partA.ID, unique("Signup Limit Over"), over), a)
	signup(partB.ID, unique("Signup Limit Other"), testEmail("signup-limit-b")).expect(t, 202)
	time.Sleep(300 * time.Millisecond)
	if n := mailsTo(t, over); n != 0 {
		t.Fatalf("the refused signup sent %d emails", n)
	}
	check()
}

// TestWebhookTestsAndRecoveriesLimitPerNode: a node's endpoints share one allowance of
// tests and one of recoveries, whoever calls: past either, the next call is 429 with
// Retry-After on each of the node's endpoints, while another node's endpoint is still
// served.
func TestWebhookTestsAndRecoveriesLimitPerNode(t *testing.T) {
	tok := admin(t)
	_, partA := partnerTree(t)
	_, partB := partnerTree(t)
	rcv := newReceiver(t)
	a1 := activeEndpoint(t, tok, partA.ID, rcv, "organization.created")
	a2 := activeEndpoint(t, tok, partA.ID, rcv, "organization.created")
	other := activeEndpoint(t, tok, partB.ID, rcv, "organization.created")
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name string
		a    api.Allowance
		call func(t *testing.T, endpointID string) response
	}{
		{"tests", throttle.WebhookTests, func(t *testing.T, id string) response {
			return do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + id + "/test", token: tok})
		}},
		{"recoveries", throttle.WebhookRecoveries, func(t *testing.T, id string) response {
			return do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + id + "/recover", token: tok, body: map[string]string{"since": since}})
		}},
	} {
		t.Run(c.name+" are counted per node across its endpoints", func(t *testing.T) {
			check := inOneWindow(t, c.a)
			mine := []string{a1.ID, a2.ID}
			spend(t, c.a.Max, 202, func(i int) response { return c.call(t, mine[i%2]) })
			for _, id := range mine {
				nodeThrottled(t, c.call(t, id), c.a)
			}
			c.call(t, other.ID).expect(t, 202)
			check()
		})
	}
}
