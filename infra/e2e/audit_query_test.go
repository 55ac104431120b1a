package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// TestAuditLogRefusesBadTimeRanges: a fuzzer found that a range ending before it
// starts reached DynamoDB (BETWEEN with its bounds swapped) and came back a 500. Every
// bad time is the caller's 400, naming the field.
func TestAuditLogRefusesBadTimeRanges(t *testing.T) {
	tok := admin(t)
	cases := []struct {
		name, query, field string
	}{
		{"from after to", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"},
		{"from after to by one second, across offsets", "from=2026-01-01T00:00:01Z&to=2026-01-01T01:00:00%2B01:00", "from"},
		{"from after to with a cursor", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z&limit=1", "from"},
		{"a to that is not a time", "to=2026-02-30T00:00:00Z", "to"},
		{"a from before year 1 in UTC", "from=0001-01-01T00:00:00%2B01:00", "from"},
		{"a time without its zone", "from=2026-01-01T00:00:00", "from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			do(t, req{method: "GET", path: "/v1/audit-logs?" + c.query, token: tok}).problem(t, 400, "validation").field(t, c.field)
		})
	}
	t.Run("from equal to to is a range, not an error", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/audit-logs?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", token: tok}).expect(t, 200)
	})
}

type auditPageOf struct {
	Items        []auditEntry `json:"items"`
	NextCursor   *string      `json:"nextCursor"`
	StoppedEarly bool         `json:"stoppedEarly"`
}

// auditPages reads every page of the log query as token; the pages in order.
func auditPages(t *testing.T, token, query string) []auditPageOf {
	t.Helper()
	var pages []auditPageOf
	q := query
	for range 100 {
		res := do(t, req{method: "GET", path: "/v1/audit-logs?" + q, token: token})
		var p auditPageOf
		res.json(t, &p)
		pages = append(pages, p)
		if p.NextCursor == nil {
			return pages
		}
		q = query + "&cursor=" + urlq(*p.NextCursor)
	}
	t.Fatalf("more than 100 pages of %s", query)
	return nil
}

func entriesOf(pages []auditPageOf) []auditEntry {
	var out []auditEntry
	for _, p := range pages {
		out = append(out, p.Items...)
	}
	return out
}

// seedAudit writes n audit entries straight into node's audit partition, as the
// audit writer stores them (audit.Items), newest last: entry i is made by entry(i).
// Making thousands through the API would take minutes and measure nothing more.
func seedAudit(t testing.TB, node string, n int, entry func(i int) audit.Entry) {
	t.Helper()
	base := time.Now().UTC().Add(-time.Hour)
	var reqs []types.WriteRequest
	flush := func() {
		if err := batchWrite(reqs); err != nil {
			t.Fatal(err)
		}
		reqs = nil
	}
	// The entries go to the node's partition only (not its ancestors', to keep the
	// seed small), but a target's history carries the node's whole lineage as its
	// scope, as the audit writer gives it, so that every admin above sees it.
	var lineage types.AttributeValue
	if it, err := nodes.Get(t0(), st, node); err == nil {
		if lineage, err = attributevalue.Marshal(it.Node().Lineage()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		e := entry(i)
		e.ID = fmt.Sprintf("SEED%022d", i)
		e.At = base.Add(time.Duration(i) * time.Millisecond).Format(audit.TimeFormat)
		if e.Changes == nil {
			e.Changes = []audit.FieldChange{}
		}
		items, err := audit.Items(e, []string{node}, audit.DefaultEntryRetention)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := items[len(items)-1]["scope"]; ok && lineage != nil {
			items[len(items)-1]["scope"] = lineage
		}
		for _, it := range items {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
			if len(reqs) == 25 {
				flush()
			}
		}
	}
	if len(reqs) > 0 {
		flush()
	}
}

// TestAuditLogOfAnyBranch: a distributor admin reads the log of any node below them,
// and nothing of a sibling distributor's.
func TestAuditLogOfAnyBranch(t *testing.T) {
	root := admin(t)
	start := time.Now().Add(-time.Second)
	d1 := createDistributor(t, root, unique("Branch D1"))
	d2 := createDistributor(t, root, unique("Branch D2"))
	p := createPartner(t, root, d1.ID, unique("Branch P"))
	org := createOrganization(t, root, p.ID, unique("Branch Org"))
	org2 := createOrganization(t, root, p.ID, unique("Branch Org Two"))
	d1Admin, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d1.ID))
	from := "&from=" + urlq(start.UTC().Format(time.RFC3339))

	targets := func(es []auditEntry) map[string]bool {
		out := map[string]bool{}
		for _, e := range es {
			out[e.Action+" "+e.Target.ID] = true
		}
		return out
	}
	eventually(t, 10*time.Second, func() error {
		got := targets(entriesOf(auditPages(t, d1Admin, "limit=100&nodeId="+p.ID+from)))
		for _, want := range []string{"partner.created " + p.ID, "organization.created " + org.ID, "organization.created " + org2.ID} {
			if !got[want] {
				return fmt.Errorf("the partner's log lacks %s: %v", want, got)
			}
		}
		return nil
	})
	t.Run("an organization's log holds its subtree only", func(t *testing.T) {
		got := targets(entriesOf(auditPages(t, d1Admin, "limit=100&nodeId="+org.ID+from)))
		if !got["organization.created "+org.ID] || got["organization.created "+org2.ID] || got["partner.created "+p.ID] {
			t.Fatalf("organization's log %v", got)
		}
	})
	t.Run("the default is the caller's own node", func(t *testing.T) {
		own := targets(entriesOf(auditPages(t, d1Admin, "limit=100"+from)))
		named := targets(entriesOf(auditPages(t, d1Admin, "limit=100&nodeId="+d1.ID+from)))
		if !own["partner.created "+p.ID] || len(own) != len(named) {
			t.Fatalf("own %v, named %v", own, named)
		}
	})
	t.Run("a sibling distributor's log is a 404 like a missing node's", func(t *testing.T) {
		foreign := do(t, req{method: "GET", path: "/v1/audit-logs?nodeId=" + d2.ID, token: d1Admin})
		missing := do(t, req{method: "GET", path: "/v1/audit-logs?nodeId=dst_01jabcdefghjkmnpqrstvwxyz0", token: d1Admin})
		sameAnswer(t, foreign, missing, 404, "not-found")
	})
	t.Run("an ancestor's log is a 404 too", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/audit-logs?nodeId=platform", token: d1Admin}).problem(t, 404, "not-found")
	})
	t.Run("a malformed node id is a 400", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/audit-logs?nodeId=usr_x", token: d1Admin}).problem(t, 400, "validation").field(t, "nodeId")
	})
}

// TestAuditLogOfOneThing: targetId gives an organization's whole history, newest
// first, also after it is deleted; to those whose branch held it only.
func TestAuditLogOfOneThing(t *testing.T) {
	root := admin(t)
	d1 := createDistributor(t, root, unique("History D1"))
	d2 := createDistributor(t, root, unique("History D2"))
	p := createPartner(t, root, d1.ID, unique("History P"))
	org := createOrganization(t, root, p.ID, unique("History Org"))
	path := "/v1/organizations/" + org.ID
	do(t, req{method: "PATCH", path: path, token: root, body: map[string]string{"name": unique("History Org Renamed")}}).expect(t, 200)
	do(t, req{method: "POST", path: path + "/deactivate", token: root}).expect(t, 200)
	do(t, req{method: "DELETE", path: path, token: root}).expect(t, 204)
	pAdmin, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p.ID))
	d2Admin, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d2.ID))

	want := "organization.deleted,organization.deactivated,organization.updated,organization.created"
	eventually(t, 10*time.Second, func() error {
		if got := actions(entriesOf(auditPages(t, pAdmin, "targetId="+org.ID))); got != want {
			return fmt.Errorf("history %q, want %q", got, want)
		}
		return nil
	})
	t.Run("one page per Query: a page of one at a time walks the same history", func(t *testing.T) {
		pages := auditPages(t, pAdmin, "limit=1&targetId="+org.ID)
		if got := actions(entriesOf(pages)); got != want || len(pages) != 4 {
			t.Fatalf("%d pages: %q", len(pages), got)
		}
	})
	t.Run("with nodeId of the branch and an action filter", func(t *testing.T) {
		got := actions(entriesOf(auditPages(t, root, "targetId="+org.ID+"&nodeId="+d1.ID+"&action=organization.updated")))
		if got != "organization.updated" {
			t.Fatalf("history %q", got)
		}
	})
	t.Run("another branch sees an empty history, with no cursor", func(t *testing.T) {
		for _, q := range []string{"targetId=" + org.ID, "limit=1&targetId=" + org.ID, "targetId=" + org.ID + "&action=organization."} {
			pages := auditPages(t, d2Admin, q)
			if len(pages) != 1 || len(pages[0].Items) != 0 {
				t.Fatalf("%s: %+v", q, pages)
			}
		}
		pages := auditPages(t, root, "targetId="+org.ID+"&nodeId="+d2.ID)
		if len(pages) != 1 || len(pages[0].Items) != 0 {
			t.Fatalf("nodeId of another branch: %+v", pages)
		}
	})
}

// TestAuditLogFiltersFillPages: over a log where the filtered action is rare, every
// page is full or says it stopped early, and paging on finds every match once.
func TestAuditLogFiltersFillPages(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Rare Actions"))
	// 3,000 entries; every 600th is the rare action, every 3rd made through a login-as
	// session by "impersonator-1", every 10th about a company.
	seedAudit(t, d.ID, 3000, func(i int) audit.Entry {
		e := audit.Entry{Action: "distributor.updated", Target: audit.Target{Type: "distributor", ID: d.ID},
			Actor: audit.Actor{UserID: fmt.Sprintf("user-%d", i%7), Role: "platform_admin"}}
		if i%600 == 0 {
			e.Action = "test.rare"
		}
		if i%3 == 0 {
			e.Actor.Impersonator = &audit.Impersonator{UserID: "impersonator-1", Role: "platform_admin"}
		}
		if i%10 == 0 {
			e.Target.Type = "company"
		}
		return e
	})
	scope := "&nodeId=" + d.ID
	cases := []struct {
		name, query string
		want        int
	}{
		{"a rare action", "limit=25&action=test.rare", 5},
		{"a rare action, pages of 2", "limit=2&action=test.rare", 5},
		{"an action prefix", "limit=100&action=test.", 5},
		{"a target type", "limit=100&targetType=company", 300},
		{"an impersonator as the actor", "limit=100&actorId=impersonator-1", 1000},
		{"an acting user", "limit=100&actorId=user-3", 429},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pages := auditPages(t, root, c.query+scope)
			limit := 25
			fmt.Sscanf(c.query, "limit=%d", &limit)
			ids := map[string]bool{}
			for i, p := range pages {
				last := i == len(pages)-1
				switch {
				case last && (p.StoppedEarly || p.NextCursor != nil):
					t.Fatalf("the last page says it stopped early")
				case !last && len(p.Items) < limit && !p.StoppedEarly:
					t.Fatalf("page %d holds %d of %d entries and does not say it stopped early", i, len(p.Items), limit)
				case p.StoppedEarly && len(p.Items) >= limit:
					t.Fatalf("page %d is full and says it stopped early", i)
				}
				for _, e := range p.Items {
					ids[e.ID] = true
				}
			}
			if len(ids) != c.want {
				t.Fatalf("%d distinct entries over %d pages, want %d", len(ids), len(pages), c.want)
			}
		})
	}
	t.Run("a common filter fills its first page", func(t *testing.T) {
		var p auditPageOf
		do(t, req{method: "GET", path: "/v1/audit-logs?limit=50&actorId=impersonator-1" + scope, token: root}).json(t, &p)
		if len(p.Items) != 50 || p.StoppedEarly || p.NextCursor == nil {
			t.Fatalf("%d entries, stoppedEarly %v", len(p.Items), p.StoppedEarly)
		}
	})
	t.Run("filters combine with a time range", func(t *testing.T) {
		all := entriesOf(auditPages(t, root, "limit=100&action=test.rare"+scope))
		// The three oldest rare entries: from the oldest to the third.
		q := "limit=100&action=test.rare&from=" + urlq(all[4].At) + "&to=" + urlq(all[2].At) + scope
		got := entriesOf(auditPages(t, root, q))
		if len(got) != 3 || got[0].ID != all[2].ID || got[2].ID != all[4].ID {
			t.Fatalf("range gave %d entries", len(got))
		}
	})
}
