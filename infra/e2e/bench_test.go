package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// costMeter collects, per request, the cost the middleware logs ("request": DynamoDB
// round trips and the capacity DynamoDB reported), the Cognito calls package users
// logs ("cognito", matched by request id), and the pre-authentication trigger's
// DynamoDB cost ("pre-authentication"). Each request is keyed by its route and status
// ("POST /v1/auth/login 200"; "pre-authentication <outcome>" for the trigger).
type costMeter struct {
	mu      sync.Mutex
	reqs    map[string]*requestCost // by request id
	cognito map[string]int64        // by request id
	order   int
}

type requestCost struct {
	key string
	// calls are the DynamoDB calls; sequential those made one after another (a
	// sharded list's parallel Queries count once).
	calls, sequential int64
	read, write       float64
}

func (m *costMeter) Enabled(context.Context, slog.Level) bool { return true }
func (m *costMeter) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m *costMeter) WithGroup(string) slog.Handler            { return m }
func (m *costMeter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" && r.Message != "cognito" && r.Message != "pre-authentication" {
		return nil
	}
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value; return true })
	m.mu.Lock()
	defer m.mu.Unlock()
	id := attrs["requestId"].String()
	if r.Message == "cognito" {
		m.cognito[id] += int64(number(attrs["cognitoCalls"]))
		return nil
	}
	key := attrs["route"].String() + " " + attrs["status"].String()
	if r.Message == "pre-authentication" {
		// The trigger has no request id of the API's; each invocation counts alone.
		m.order++
		id, key = fmt.Sprintf("trigger-%d", m.order), "pre-authentication "+attrs["outcome"].String()
	}
	seq, ok := attrs["dynamodbSequential"]
	if !ok {
		seq = attrs["dynamodbCalls"] // the trigger's log has no parallel calls
	}
	m.reqs[id] = &requestCost{key: key, calls: int64(number(attrs["dynamodbCalls"])), sequential: int64(number(seq)),
		read: number(attrs["readUnits"]), write: number(attrs["writeUnits"])}
	return nil
}

// benchLogs is where the local system's log lines also go while a benchmark meters
// them (meter): the functions log through the system's logger, which tees to it.
var benchLogs = &teeHandler{}

// teeHandler hands every record to the costMeter it holds, if any.
type teeHandler struct{ to atomic.Pointer[costMeter] }

func (h *teeHandler) Enabled(context.Context, slog.Level) bool { return h.to.Load() != nil }
func (h *teeHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *teeHandler) WithGroup(string) slog.Handler            { return h }
func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if m := h.to.Load(); m != nil {
		return m.Handle(ctx, r)
	}
	return nil
}

// number reads a logged count or capacity; an attribute a log line lacks is zero.
func number(v slog.Value) float64 {
	switch v.Kind() {
	case slog.KindInt64:
		return float64(v.Int64())
	case slog.KindUint64:
		return float64(v.Uint64())
	case slog.KindFloat64:
		return v.Float64()
	}
	return 0
}

// meter runs op b.N times and reports the average cost of the requests whose key
// passes match (op may make other requests to prepare, which are not counted).
func meter(b *testing.B, what string, match func(key string) bool, op func(b *testing.B)) {
	b.Helper()
	m := &costMeter{reqs: map[string]*requestCost{}, cognito: map[string]int64{}}
	benchLogs.to.Store(m)
	defer benchLogs.to.Store(nil)
	b.ResetTimer()
	for range b.N {
		op(b)
	}
	b.StopTimer()
	m.mu.Lock()
	defer m.mu.Unlock()
	var n, calls, sequential, cognitoCalls int64
	var read, write float64
	for id, c := range m.reqs {
		if !match(c.key) {
			continue
		}
		n, calls, sequential, read, write, cognitoCalls = n+1, calls+c.calls, sequential+c.sequential, read+c.read, write+c.write, cognitoCalls+m.cognito[id]
	}
	if n == 0 {
		b.Fatalf("no %s was metered", what)
	}
	b.ReportMetric(float64(calls)/float64(n), "ddb-calls/op")
	if sequential != calls {
		b.ReportMetric(float64(sequential)/float64(n), "ddb-sequential/op")
	}
	b.ReportMetric(read/float64(n), "RCU/op")
	b.ReportMetric(write/float64(n), "WCU/op")
	if cognitoCalls > 0 {
		b.ReportMetric(float64(cognitoCalls)/float64(n), "cognito-calls/op")
	}
}

// measure reports the cost of every request op makes.
func measure(b *testing.B, op func(b *testing.B)) {
	b.Helper()
	meter(b, "request", func(string) bool { return true }, op)
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
