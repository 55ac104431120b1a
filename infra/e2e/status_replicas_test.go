package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// replica is a distributor's status replica as the table holds it.
type replica struct {
	ID       string         `dynamodbav:"id"`
	Kind     tree.Kind      `dynamodbav:"kind"`
	Status   string         `dynamodbav:"status"`
	Version  int            `dynamodbav:"version"`
	Deleting map[string]any `dynamodbav:"deleting"`
}

// replicasOf reads every status replica of distributor id straight from the table;
// a missing one is absent from the answer.
func replicasOf(t *testing.T, id string) map[string]replica {
	t.Helper()
	items, err := st.BatchGet(t0(), nodes.StatusKeys(id))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]replica{}
	for _, raw := range items {
		var r replica
		if err := attributevalue.UnmarshalMap(raw, &r); err != nil {
			t.Fatal(err)
		}
		var key struct {
			PK string `dynamodbav:"PK"`
		}
		if err := attributevalue.UnmarshalMap(raw, &key); err != nil {
			t.Fatal(err)
		}
		out[key.PK] = r
	}
	return out
}

// replicasAgree fails unless every replica of distributor id is there and carries the
// node item's kind, status and version.
func replicasAgree(t *testing.T, id, status string) {
	t.Helper()
	n := nodeOf(t, id)
	if n.Status != status {
		t.Fatalf("the node is %s, want %s", n.Status, status)
	}
	got := replicasOf(t, id)
	if len(got) != nodes.StatusReplicas {
		t.Fatalf("%d replicas, want %d: %v", len(got), nodes.StatusReplicas, got)
	}
	for pk, r := range got {
		if r.ID != id || r.Kind != tree.KindDistributor || r.Status != n.Status || r.Version != n.Version || r.Deleting != nil {
			t.Errorf("%s holds %+v, the node %s v%d", pk, r, n.Status, n.Version)
		}
	}
}

// dropReplicas deletes every status replica of distributor id straight from the
// table, as a distributor written before replicas existed (or by a benchmark) has none.
func dropReplicas(t *testing.T, id string) {
	t.Helper()
	for _, k := range nodes.StatusKeys(id) {
		if err := st.DeleteIf(t0(), k, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDistributorStatusReplicas: the caller check reads a distributor through its
// status replicas (docs/scale.md, fix 2), and a suspension still refuses the very next
// call of anyone in its branch, the distributor's own admin and a partner's user
// below it; every change leaves every replica with the node's status and version.
func TestDistributorStatusReplicas(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Replica Dist"))
	p := createPartner(t, root, d.ID, unique("Replica Partner"))
	distTok, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d.ID))
	partTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p.ID))
	path := "/v1/distributors/" + d.ID
	// calls are what each of the branch's users answers for their next call.
	calls := func(t *testing.T, status int, slug string) {
		t.Helper()
		for who, tok := range map[string]string{"the distributor admin": distTok, "the partner admin": partTok} {
			res := do(t, req{method: "GET", path: "/v1/me", token: tok})
			if slug == "" {
				if res.Status != status {
					t.Errorf("%s: %d %s, want %d", who, res.Status, res.Body, status)
				}
				continue
			}
			res.problem(t, status, slug)
		}
	}
	action := func(t *testing.T, verb string) {
		t.Helper()
		do(t, req{method: "POST", path: path + "/" + verb, token: root}).expect(t, http.StatusOK)
	}

	t.Run("created: every replica active", func(t *testing.T) {
		replicasAgree(t, d.ID, "active")
		calls(t, http.StatusOK, "")
	})
	t.Run("suspended: the very next call is refused", func(t *testing.T) {
		action(t, "suspend")
		calls(t, http.StatusForbidden, "branch-suspended")
		replicasAgree(t, d.ID, "suspended")
	})
	t.Run("enabled: the very next call goes through", func(t *testing.T) {
		action(t, "enable")
		calls(t, http.StatusOK, "")
		replicasAgree(t, d.ID, "active")
	})
	t.Run("renamed: the replicas take the new version", func(t *testing.T) {
		v := nodeOf(t, d.ID).Version
		do(t, req{method: "PATCH", path: path, token: root, body: map[string]string{"name": unique("Replica Renamed")},
			header: map[string]string{"If-Match": fmt.Sprintf(`"%d"`, v)}}).expect(t, http.StatusOK)
		replicasAgree(t, d.ID, "active")
	})

	// A distributor without replicas is decided from its node item (the fallback).
	t.Run("replicas missing, active: let through", func(t *testing.T) {
		dropReplicas(t, d.ID)
		calls(t, http.StatusOK, "")
	})
	t.Run("replicas missing, suspended: refused", func(t *testing.T) {
		action(t, "suspend") // writes them again, whole
		replicasAgree(t, d.ID, "suspended")
		dropReplicas(t, d.ID)
		calls(t, http.StatusForbidden, "branch-suspended")
	})
	t.Run("enabled again: the replicas are back, whole", func(t *testing.T) {
		action(t, "enable")
		replicasAgree(t, d.ID, "active")
		calls(t, http.StatusOK, "")
	})
}

// TestDistributorCascadeBlocksAtOnce: a cascading delete of a distributor refuses its
// branch's next call from the moment the API answers 202, through the replicas' mark;
// once the tree deleter has removed the distributor its replicas are gone with it.
func TestDistributorCascadeBlocksAtOnce(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Replica Doomed"))
	p := createPartner(t, root, d.ID, unique("Replica Doomed Partner"))
	partTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p.ID))
	do(t, req{method: "GET", path: "/v1/me", token: partTok}).expect(t, http.StatusOK)
	replicasAgree(t, d.ID, "active")

	do(t, req{method: "DELETE", path: "/v1/distributors/" + d.ID + "?cascade=true", token: root}).expect(t, http.StatusAccepted)
	res := do(t, req{method: "GET", path: "/v1/me", token: partTok})
	left := replicasOf(t, d.ID)
	t.Logf("the next call: %d; %d replicas left", res.Status, len(left))
	// The tree deleter runs from the stream and may already have removed the
	// distributor (its replicas in the same transaction): then the partner is gone
	// too, or going, and the call is refused either way. While the replicas are
	// there, they carry the mark, and the call was refused for it.
	switch len(left) {
	case nodes.StatusReplicas:
		for pk, r := range left {
			if r.Deleting == nil {
				t.Errorf("%s has no deleting mark: %+v", pk, r)
			}
		}
		res.problem(t, http.StatusForbidden, "branch-suspended")
	case 0:
		if res.Status != http.StatusForbidden {
			t.Errorf("the next call: %d %s, want 403", res.Status, res.Body)
		}
	default:
		t.Fatalf("%d replicas left: %v", len(left), left)
	}
	eventually(t, 60*time.Second, func() error {
		if _, err := nodes.Get(t0(), st, d.ID); err == nil {
			return fmt.Errorf("the distributor is still there")
		}
		if n := len(replicasOf(t, d.ID)); n != 0 {
			return fmt.Errorf("%d replicas outlive the distributor", n)
		}
		return nil
	})
}

// TestCallerCheckRoundTrips counts the caller check's reads (store's meter, as the
// functions' request logs do): a partner-level caller's lineage is one BatchGetItem;
// a distributor whose replicas are missing costs one more, and only then.
func TestCallerCheckRoundTrips(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Replica Meter"))
	p := createPartner(t, root, d.ID, unique("Replica Meter Partner"))
	check := identity.Callers{Store: st}
	for _, c := range []struct {
		name  string
		drop  bool
		node  string
		path  []string
		calls int
	}{
		{name: "a partner's user, replicas there", node: p.ID, path: []string{tree.PlatformID, d.ID}, calls: 1},
		{name: "a distributor admin, replicas there", node: d.ID, path: []string{tree.PlatformID}, calls: 1},
		{name: "a partner's user, replicas missing", drop: true, node: p.ID, path: []string{tree.PlatformID, d.ID}, calls: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.drop {
				dropReplicas(t, d.ID)
			}
			ctx, m := store.WithMeter(t0())
			if _, err := check.CheckLineage(ctx, c.node, c.path); err != nil {
				t.Fatal(err)
			}
			if m.Calls["BatchGetItem"] != c.calls || m.RoundTrips() != c.calls {
				t.Errorf("calls %v, want %d BatchGetItem", m.Calls, c.calls)
			}
			read, _ := m.Units()
			t.Logf("%v, %.1f RCU", m.Calls, read)
		})
	}
}
