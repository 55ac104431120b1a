package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"opsconsole/shared/api"
	"opsconsole/shared/tree"
)

// usersMeter collects, for the requests of one route, the DynamoDB round trips and
// capacity the middleware logs ("request") and the Cognito calls shared/users logs
// ("cognito"), matched by request id.
type usersMeter struct {
	route string
	mu    sync.Mutex
	// per request id
	ddb     map[string]int64
	cognito map[string]int64
	rcu     map[string]float64
	wcu     map[string]float64
	ours    map[string]bool
}

func newUsersMeter(route string) *usersMeter {
	return &usersMeter{route: route, ddb: map[string]int64{}, cognito: map[string]int64{},
		rcu: map[string]float64{}, wcu: map[string]float64{}, ours: map[string]bool{}}
}

func (m *usersMeter) Enabled(context.Context, slog.Level) bool { return true }
func (m *usersMeter) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m *usersMeter) WithGroup(string) slog.Handler            { return m }
func (m *usersMeter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" && r.Message != "cognito" {
		return nil
	}
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value; return true })
	id := attrs["requestId"].String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Message == "cognito" {
		m.cognito[id] += attrs["cognitoCalls"].Int64()
		return nil
	}
	if attrs["route"].String() != m.route {
		return nil
	}
	m.ours[id] = true
	m.ddb[id] += attrs["dynamodbCalls"].Int64()
	m.rcu[id] += attrs["readUnits"].Float64()
	m.wcu[id] += attrs["writeUnits"].Float64()
	return nil
}

// measureUsersRoute runs op b.N times (op may make other requests to prepare, which are not
// counted) and reports the cost of route's requests per request.
func measureUsersRoute(b *testing.B, route string, op func(b *testing.B)) {
	m := newUsersMeter(route)
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
	if len(m.ours) == 0 {
		b.Fatalf("no %s request was metered", route)
	}
	var ddb, cog int64
	var rcu, wcu float64
	for id := range m.ours {
		ddb, cog, rcu, wcu = ddb+m.ddb[id], cog+m.cognito[id], rcu+m.rcu[id], wcu+m.wcu[id]
	}
	n := float64(len(m.ours))
	b.ReportMetric(float64(ddb)/n, "ddb-calls/op")
	b.ReportMetric(float64(cog)/n, "cognito-calls/op")
	b.ReportMetric(rcu/n, "RCU/op")
	b.ReportMetric(wcu/n, "WCU/op")
}

// BenchmarkConsoleUsers measures the console users' operations: DynamoDB round trips
// and capacity, and Cognito calls, per request (as a partner admin, so that the
// caller's lineage is read as on most requests). Run with -benchtime=20x: each
// activation reads its link from the mail server.
func BenchmarkConsoleUsers(b *testing.B) {
	tok := admin(b)
	dist := createDistributor(b, tok, unique("Bench Users Dist"))
	part := createPartner(b, tok, dist.ID, unique("Bench Users Partner"))
	ptok, _ := userAt(b, tree.RolePartnerAdmin, nodeOf(b, part.ID))
	n := 0
	invite := func(b *testing.B) string {
		n++
		email := fmt.Sprintf("bench-user-%d-%s@example.com", n, unique("")[1:])
		res := do(b, req{method: "POST", path: "/v1/users", token: ptok, body: map[string]string{
			"email": email, "firstName": "Bench", "lastName": "User", "role": "partner_admin", "nodeId": part.ID,
		}})
		if res.Status != 201 {
			b.Fatalf("invite: %d %s", res.Status, res.Body)
		}
		return email
	}
	b.Run("invite", func(b *testing.B) {
		measureUsersRoute(b, "POST /v1/users", func(b *testing.B) { invite(b) })
	})
	b.Run("activate", func(b *testing.B) {
		measureUsersRoute(b, "POST /v1/auth/activate", func(b *testing.B) {
			email := invite(b)
			token := activationToken(b, email)
			if res := do(b, req{method: "POST", path: "/v1/auth/activate", body: map[string]string{"token": token, "password": newPassword}}); res.Status != 204 {
				b.Fatalf("activate: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("list page of 25", func(b *testing.B) {
		measureUsersRoute(b, "GET /v1/users", func(b *testing.B) {
			if res := do(b, req{method: "GET", path: "/v1/users?limit=25&nodeId=" + part.ID, token: ptok}); res.Status != 200 {
				b.Fatalf("list: %d %s", res.Status, res.Body)
			}
		})
	})
	b.Run("forgot password", func(b *testing.B) {
		measureUsersRoute(b, "POST /v1/auth/password/forgot", func(b *testing.B) {
			if res := do(b, req{method: "POST", path: "/v1/auth/password/forgot", body: map[string]string{"email": fmt.Sprintf("nobody-%d@example.com", n)}}); res.Status != 202 {
				b.Fatalf("forgot: %d %s", res.Status, res.Body)
			}
			n++
		})
	})
}
