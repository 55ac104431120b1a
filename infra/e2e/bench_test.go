package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"opsconsole/shared/api"
	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// costMeter collects the cost the middleware logs for each request: DynamoDB round
// trips and the capacity units DynamoDB reported as consumed.
type costMeter struct {
	mu                 sync.Mutex
	requests           int
	calls              int64
	readUnits, wrUnits float64
}

func (m *costMeter) Enabled(context.Context, slog.Level) bool { return true }
func (m *costMeter) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m *costMeter) WithGroup(string) slog.Handler            { return m }
func (m *costMeter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "dynamodbCalls":
			m.calls += a.Value.Int64()
		case "readUnits":
			m.readUnits += a.Value.Float64()
		case "writeUnits":
			m.wrUnits += a.Value.Float64()
		}
		return true
	})
	return nil
}

// measure runs op b.N times and reports its DynamoDB cost per operation.
func measure(b *testing.B, op func(b *testing.B)) {
	m := &costMeter{}
	saved := api.Logger
	api.Logger = slog.New(m)
	defer func() { api.Logger = saved }()
	b.ResetTimer()
	for range b.N {
		op(b)
	}
	b.StopTimer()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests == 0 {
		b.Fatal("no request was metered")
	}
	n := float64(m.requests)
	b.ReportMetric(float64(m.calls)/n, "ddb-calls/op")
	b.ReportMetric(m.readUnits/n, "RCU/op")
	b.ReportMetric(m.wrUnits/n, "WCU/op")
}

func BenchmarkDistributorOperations(b *testing.B) {
	tok := admin(b)
	seed := createDistributor(b, tok, unique("Bench Seed"))
	path := "/v1/distributors/" + seed.ID
	for i := range 30 {
		createDistributor(b, tok, fmt.Sprintf("Bench List %02d %s", i, unique("")))
	}
	b.Run("create", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			if res := do(b, req{method: "POST", path: "/v1/distributors", token: tok, body: map[string]string{"name": unique("Bench Create")}}); res.Status != 201 {
				b.Fatalf("create: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("create with an Idempotency-Key", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			name := unique("Bench Idem")
			if res := do(b, req{method: "POST", path: "/v1/distributors", token: tok, body: map[string]string{"name": name},
				header: map[string]string{"Idempotency-Key": strings.ReplaceAll(name, " ", "-")}}); res.Status != 201 {
				b.Fatalf("create: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("get", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			if res := do(b, req{method: "GET", path: path, token: tok}); res.Status != 200 {
				b.Fatalf("get: %d", res.Status)
			}
		})
	})
	b.Run("update", func(b *testing.B) {
		n := 0
		measure(b, func(b *testing.B) {
			n++ // a new value each time, so every call really writes
			if res := do(b, req{method: "PATCH", path: path, token: tok, body: map[string]string{"contactEmail": fmt.Sprintf("c%d-%d@example.com", b.N, n)}}); res.Status != 200 {
				b.Fatalf("update: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("list page of 25", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			if res := do(b, req{method: "GET", path: "/v1/distributors?limit=25&q=bench%20list", token: tok}); res.Status != 200 {
				b.Fatalf("list: %d", res.Status)
			}
		})
	})
	b.Run("audit page of 25", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			if res := do(b, req{method: "GET", path: "/v1/audit-logs?limit=25", token: tok}); res.Status != 200 {
				b.Fatalf("audit: %d", res.Status)
			}
		})
	})
	distNode, err := nodes.Get(t0(), st, seed.ID)
	if err != nil {
		b.Fatal(err)
	}
	distAdmin, _ := userAt(b, tree.RoleDistributorAdmin, distNode)
	b.Run("me as a distributor admin", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			if res := do(b, req{method: "GET", path: "/v1/me", token: distAdmin}); res.Status != 200 {
				b.Fatalf("me: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("me", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			if res := do(b, req{method: "GET", path: "/v1/me", token: tok}); res.Status != 200 {
				b.Fatalf("me: %d", res.Status)
			}
		})
	})
}
