package e2e

import (
	"fmt"
	"testing"

	"opsconsole/shared/audit"
)

// BenchmarkAuditLogPages gives the cost of one page of the audit log per filter, over
// a node whose log holds 10,000 entries: unfiltered and by time range (key
// conditions: one Query of the page), a thing's history (one Query of its own
// partition), and the read filters, a common one and an action that is rare (10 in
// 10,000), where a page reads on up to the budget (audit.ReadBudget entries). The
// node is a distributor, whose log is sharded (audit.LogShards partitions and the
// unsharded one of before, read in parallel: ddb-sequential/op counts the round trips
// one after another); a partner under it holds the same 10,000 entries in one
// partition, for comparison, and the platform admin's own log (no nodeId, so no read
// of the node) is sharded too.
func BenchmarkAuditLogPages(b *testing.B) {
	root := admin(b)
	d := createDistributor(b, root, unique("Bench Audit"))
	p := createPartner(b, root, d.ID, unique("Bench Audit P"))
	target := "bench_" + d.ID
	entry := func(target string) func(i int) audit.Entry {
		return func(i int) audit.Entry {
			e := audit.Entry{Action: "distributor.updated", Target: audit.Target{Type: "distributor", ID: target, Name: "Bench"},
				Actor:     audit.Actor{UserID: fmt.Sprintf("user-%d", i%4), Email: "bench@example.com", Role: "platform_admin"},
				Changes:   []audit.FieldChange{{Field: "name", Before: "Old name", After: "New name"}},
				RequestID: "req-bench", SourceIP: "127.0.0.1", UserAgent: "bench"}
			if i%1000 == 0 {
				e.Action = "test.rare"
			}
			return e
		}
	}
	seedAudit(b, d.ID, 10000, entry(target))
	seedAudit(b, p.ID, 10000, entry("bench_"+p.ID))
	scope := "&nodeId=" + d.ID
	var first auditPageOf
	do(b, req{method: "GET", path: "/v1/audit-logs?limit=25" + scope, token: root}).json(b, &first)
	if first.NextCursor == nil {
		b.Fatal("no second page")
	}
	pages := []struct{ name, query string }{
		{"unfiltered", "limit=25" + scope},
		{"unfiltered, page 2 by cursor", "limit=25" + scope + "&cursor=" + urlq(*first.NextCursor)},
		{"unfiltered, one partition (a partner's log)", "limit=25&nodeId=" + p.ID},
		{"unfiltered, the caller's own log (the platform's, sharded)", "limit=25"},
		{"time range", "limit=25&from=2026-01-01T00:00:00Z&to=2099-01-01T00:00:00Z" + scope},
		{"targetId history", "limit=25&targetId=" + target},
		{"actorId one in four", "limit=25&actorId=user-1" + scope},
		{"action prefix, every entry", "limit=25&action=distributor." + scope},
		{"rare action (10 in 10,000), first page", "limit=25&action=test.rare" + scope},
		{"rare action (10 in 10,000), first page, one partition", "limit=25&action=test.rare&nodeId=" + p.ID},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var got auditPageOf
			meter(b, "audit page", func(key string) bool { return key == "GET /v1/audit-logs 200" }, func(b *testing.B) {
				res := do(b, req{method: "GET", path: "/v1/audit-logs?" + p.query, token: root})
				res.json(b, &got)
			})
			b.ReportMetric(float64(len(got.Items)), "entries/page")
		})
	}
	b.Run("rare action, every page to the end", func(b *testing.B) {
		var n, entries int
		meter(b, "audit page", func(key string) bool { return key == "GET /v1/audit-logs 200" }, func(b *testing.B) {
			q := "limit=25&action=test.rare" + scope
			for {
				var got auditPageOf
				do(b, req{method: "GET", path: "/v1/audit-logs?" + q, token: root}).json(b, &got)
				n++
				entries += len(got.Items)
				if got.NextCursor == nil {
					break
				}
				q = "limit=25&action=test.rare" + scope + "&cursor=" + urlq(*got.NextCursor)
			}
		})
		b.ReportMetric(float64(n)/float64(b.N), "pages/walk")
		b.ReportMetric(float64(entries)/float64(b.N), "entries/walk")
	})
}

// BenchmarkAuditExport gives an export's throughput end to end (POST, the queue, the
// job reading 10,000 entries and streaming them to S3, the GET that sees it done),
// per format. Each run counts against the node's allowance of exports (10 an hour):
// run it with -benchtime 3x.
func BenchmarkAuditExport(b *testing.B) {
	const n = 10000
	root := admin(b)
	d := createDistributor(b, root, unique("Bench Export"))
	seedAudit(b, d.ID, n, func(i int) audit.Entry {
		return audit.Entry{Action: "distributor.updated", Target: audit.Target{Type: "distributor", ID: d.ID, Name: "Bench"},
			Actor:     audit.Actor{UserID: fmt.Sprintf("user-%d", i%4), Email: "bench@example.com", Role: "platform_admin"},
			Changes:   []audit.FieldChange{{Field: "name", Before: "Old name", After: "New name"}},
			RequestID: "req-bench", SourceIP: "127.0.0.1", UserAgent: "bench"}
	})
	for _, format := range []string{"ndjson", "csv"} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				// The seeded entries only, not the node's creation nor the exports' own records.
				ex, file := runExport(b, root, map[string]any{"nodeId": d.ID, "format": format, "action": "distributor.updated"})
				if ex.Count != n {
					b.Fatalf("count %d, want %d", ex.Count, n)
				}
				b.SetBytes(int64(len(file)))
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
