package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// counts is an in-memory Counter: a plain count per allowance and node, refusing past
// Max with a fixed wait.
type counts struct {
	mu   sync.Mutex
	n    map[string]int
	wait time.Duration
}

func (c *counts) Count(_ context.Context, a Allowance, node string) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[a.Name+"#"+node]++
	if c.n[a.Name+"#"+node] > a.Max {
		return c.wait, nil
	}
	return 0, nil
}

func TestNodeLimit(t *testing.T) {
	dist := tree.Node{ID: "dst_a", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}}
	other := tree.Node{ID: "dst_b", Kind: tree.KindDistributor, Path: []string{tree.PlatformID}}
	users := callers{
		"root": {UserID: "root", Role: tree.RolePlatformAdmin, Node: tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}},
		"dist": {UserID: "dist", Role: tree.RoleDistributorAdmin, Node: dist},
	}
	c := &counts{n: map[string]int{}, wait: 1500 * time.Millisecond}
	handled := 0
	op := Operation{
		ID: tree.OpDistributorsGet, Method: "GET", Path: "/v1/distributors/{id}", Kind: "distributor", Callers: users,
		Target: func(r *http.Request) (tree.Node, any, error) {
			for _, n := range []tree.Node{dist, other} {
				if r.PathValue("id") == n.ID {
					return n, n, nil
				}
			}
			return tree.Node{}, nil, problem.NotFound("distributor")
		},
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			handled++
			return WriteJSON(w, 200, map[string]string{})
		},
		NodeLimit: &NodeLimit{Allowance: Allowance{Name: "tests", Max: 2, Window: time.Hour}, Node: TargetNodeID, Counter: c},
	}
	for i, want := range []int{200, 200, 429, 429} {
		if status, body := invoke(t, op, "GET", "/v1/distributors/dst_a", "root"); status != want {
			t.Fatalf("call %d at dst_a: %d, want %d (%v)", i+1, status, want, body)
		} else if want == 429 && body["type"] != problem.TypePrefix+"throttled" {
			t.Fatalf("type %v", body["type"])
		}
	}
	if handled != 2 {
		t.Fatalf("the handler ran %d times, want 2: a refused call must not reach it", handled)
	}
	// Another node's allowance is its own.
	if status, _ := invoke(t, op, "GET", "/v1/distributors/dst_b", "root"); status != 200 {
		t.Fatalf("dst_b: %d", status)
	}
	// Calls the guard refuses are not counted: no one outside a node spends its allowance.
	before := c.n["tests#dst_b"]
	for _, call := range []struct{ path, sub string }{
		{"/v1/distributors/dst_b", "dist"}, // another branch: 404
		{"/v1/distributors/dst_b", ""},     // no subject: 401
		{"/v1/distributors/dst_z", "root"}, // no such node: 404
	} {
		if status, _ := invoke(t, op, "GET", call.path, call.sub); status == 200 || status == 429 {
			t.Fatalf("%v: %d", call, status)
		}
	}
	if c.n["tests#dst_b"] != before || c.n["tests#dst_z"] != 0 {
		t.Fatalf("refused calls were counted: %v", c.n)
	}
	// Node "" is the cheap variant: never counted.
	op.NodeLimit.Node = func(*http.Request) string { return "" }
	if status, _ := invoke(t, op, "GET", "/v1/distributors/dst_a", "root"); status != 200 {
		t.Fatalf("uncounted call: %d", status)
	}
	// A limit without a counter refuses rather than serving unbounded.
	op.NodeLimit = &NodeLimit{Allowance: op.NodeLimit.Allowance, Node: TargetNodeID}
	if status, _ := invoke(t, op, "GET", "/v1/distributors/dst_a", "root"); status != 500 {
		t.Fatalf("no counter: %d", status)
	}
}

func TestSetRetryAfter(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want string
	}{
		{time.Nanosecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{59*time.Minute + 59*time.Second + time.Millisecond, "3600"},
	} {
		w := httptest.NewRecorder()
		SetRetryAfter(w, c.wait)
		if got := w.Header().Get("Retry-After"); got != c.want {
			t.Errorf("%s: Retry-After %q, want %q", c.wait, got, c.want)
		}
	}
}
