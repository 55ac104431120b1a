package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

type auditEntry struct {
	ID    string `json:"id"`
	At    string `json:"at"`
	Actor struct {
		UserID string `json:"userId"`
		Email  string `json:"email"`
		Role   string `json:"role"`
	} `json:"actor"`
	Action string `json:"action"`
	Target struct {
		Type, ID, Name string
	} `json:"target"`
	Changes []struct {
		Field  string `json:"field"`
		Before any    `json:"before"`
		After  any    `json:"after"`
	} `json:"changes"`
	RequestID string `json:"requestId"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

type auditPage struct {
	Items      []auditEntry `json:"items"`
	NextCursor *string      `json:"nextCursor"`
}

// auditOf lists the caller's audit log since from and keeps the entries about target.
func auditOf(t *testing.T, token, target string, from time.Time) []auditEntry {
	t.Helper()
	var out []auditEntry
	query := "limit=100&from=" + urlq(from.UTC().Format(time.RFC3339))
	for {
		res := do(t, req{method: "GET", path: "/v1/audit-logs?" + query, token: token})
		if res.Status != 200 {
			t.Fatalf("audit: %d %s", res.Status, res.Body)
		}
		var p auditPage
		res.json(t, &p)
		for _, e := range p.Items {
			if e.Target.ID == target {
				out = append(out, e)
			}
		}
		if p.NextCursor == nil {
			return out
		}
		query = "limit=100&from=" + urlq(from.UTC().Format(time.RFC3339)) + "&cursor=" + urlq(*p.NextCursor)
	}
}

func actions(es []auditEntry) string {
	var a []string
	for _, e := range es {
		a = append(a, e.Action)
	}
	return strings.Join(a, ",")
}

func TestAuditLogRecordsEveryChange(t *testing.T) {
	tok := admin(t)
	start := time.Now().Add(-time.Second)
	name := unique("Audited")
	d := createDistributor(t, tok, name)
	path := "/v1/distributors/" + d.ID
	do(t, req{method: "PATCH", path: path, token: tok, body: map[string]string{"name": name + " Two", "contactEmail": "a@audited.example"}})
	do(t, req{method: "POST", path: path + "/suspend", token: tok})
	do(t, req{method: "POST", path: path + "/enable", token: tok})
	do(t, req{method: "DELETE", path: path, token: tok})

	want := "distributor.deleted,distributor.enabled,distributor.suspended,distributor.updated,distributor.created"
	var entries []auditEntry
	eventually(t, 10*time.Second, func() error {
		entries = auditOf(t, tok, d.ID, start)
		if got := actions(entries); got != want {
			return fmt.Errorf("actions %q, want %q", got, want)
		}
		return nil
	})
	t.Run("entries say who acted, from where", func(t *testing.T) {
		for _, e := range entries {
			if e.Actor.Email != adminEmail || e.Actor.Role != "platform_admin" || e.Actor.UserID == "" {
				t.Fatalf("actor %+v", e.Actor)
			}
			if e.RequestID == "" || e.SourceIP == "" || e.UserAgent == "" || e.Target.Type != "distributor" {
				t.Fatalf("entry %+v", e)
			}
		}
	})
	t.Run("entries are newest first", func(t *testing.T) {
		for i := 1; i < len(entries); i++ {
			if entries[i-1].At < entries[i].At {
				t.Fatalf("%s before %s", entries[i-1].At, entries[i].At)
			}
		}
	})
	t.Run("the update shows before and after of the changed fields only", func(t *testing.T) {
		u := entries[3]
		got := fmt.Sprint(u.Changes)
		wantChanges := fmt.Sprintf("[{contactEmail <nil> a@audited.example} {name %s %s Two}]", name, name)
		if got != wantChanges {
			t.Fatalf("changes %s, want %s", got, wantChanges)
		}
	})
	t.Run("the suspension shows the status change", func(t *testing.T) {
		if got := fmt.Sprint(entries[2].Changes); got != "[{status active suspended}]" {
			t.Fatalf("changes %s", got)
		}
	})
	t.Run("the deletion shows what was removed", func(t *testing.T) {
		if len(entries[0].Changes) != 3 || entries[0].Changes[0].After != nil {
			t.Fatalf("changes %+v", entries[0].Changes)
		}
	})
}

func TestAuditLogIsScopedToTheCallersSubtree(t *testing.T) {
	tok := admin(t)
	start := time.Now().Add(-time.Second)
	mine := createDistributor(t, tok, unique("Scope Mine"))
	other := createDistributor(t, tok, unique("Scope Other"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + mine.ID, token: tok})
		do(t, req{method: "DELETE", path: "/v1/distributors/" + other.ID, token: tok})
	})
	node, err := nodes.Get(t0(), st, mine.ID)
	if err != nil {
		t.Fatal(err)
	}
	distAdmin, _ := userAt(t, tree.RoleDistributorAdmin, node)
	eventually(t, 10*time.Second, func() error {
		if n := len(auditOf(t, tok, other.ID, start)); n != 1 {
			return fmt.Errorf("platform sees %d entries of the other distributor", n)
		}
		if n := len(auditOf(t, distAdmin, mine.ID, start)); n != 1 {
			return fmt.Errorf("the distributor admin sees %d entries of their own distributor", n)
		}
		return nil
	})
	if n := len(auditOf(t, distAdmin, other.ID, start)); n != 0 {
		t.Fatalf("the distributor admin sees %d entries of another distributor", n)
	}
	t.Run("an audit cursor is bound to its caller", func(t *testing.T) {
		res := do(t, req{method: "GET", path: "/v1/audit-logs?limit=1", token: tok})
		if res.Status != 200 {
			t.Fatalf("audit: %d %s", res.Status, res.Body)
		}
		var p auditPage
		res.json(t, &p)
		if p.NextCursor == nil {
			t.Fatal("expected more than one entry")
		}
		do(t, req{method: "GET", path: "/v1/audit-logs?limit=1&cursor=" + urlq(*p.NextCursor), token: distAdmin}).problem(t, 400, "invalid-cursor")
	})
}
