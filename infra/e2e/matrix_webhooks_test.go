package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/tree"
)

// The matrix's cells of the webhook routes, written from issue #14 ("managed by that
// node's admins and above"): distributor, partner and organization admins manage the
// endpoints of their subtree's distributors, partners and organizations; company staff
// and end users have none. One endpoint is registered at every partner and
// organization of the fixture, on a loopback receiver that answers its challenge
// wrongly (so it stays pending and receives nothing). Allowed cells fail harmlessly:
// a stale If-Match (412), an empty URL (400), a query string on an action that takes
// none (400), a recovery without since (400).

var (
	matrixHooksMu sync.Mutex
	matrixHooks   map[string]string
	matrixHookSrv *httptest.Server
)

// webhookEndpointsAt registers the fixture's endpoints (once per run), by label.
func (w *matrixWorld) webhookEndpointsAt() map[string]string {
	matrixHooksMu.Lock()
	defer matrixHooksMu.Unlock()
	if matrixHooks != nil {
		return matrixHooks
	}
	// Never closed: the endpoints outlive the cells; the process's end closes it.
	matrixHookSrv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusOK) // no challenge echoed: the endpoints stay pending
	}))
	out := map[string]string{}
	for _, n := range w.all {
		if n.kind != tree.KindOrganization && n.kind != tree.KindPartner {
			continue
		}
		res, err := send(req{method: "POST", path: "/v1/webhook-endpoints", token: w.token[tree.RolePlatformAdmin],
			body: map[string]any{"nodeId": n.id, "url": matrixHookSrv.URL + "/" + n.label, "eventTypes": []string{"*"}}})
		if err != nil || res.Status != 201 {
			panic(fmt.Sprintf("webhook endpoint at %s: %v %d %s", n.label, err, res.Status, res.Body))
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(res.Body, &v); err != nil {
			panic(err)
		}
		out[n.label] = v.ID
	}
	matrixHooks = out
	return out
}

// webhookCells adds, through cell, the cells of one webhook route.
func (w *matrixWorld) webhookCells(rt lambdas.Route, cell cellFunc) {
	const res = "/v1/webhook-endpoints"
	stale := map[string]string{"If-Match": `"999"`}
	expect := func(role tree.Role, resource, verb string, p placed, ok int, roleFirst bool) (int, bool) {
		may := roleMay(role, resource, verb)
		switch {
		case roleFirst && !may:
			return 403, false
		case !inside(p.position):
			return 404, false
		case !may:
			return 403, false
		}
		return ok, true
	}
	holders := []tree.Kind{tree.KindDistributor, tree.KindPartner, tree.KindOrganization}
	switch route := rt.Method + " " + rt.Path; route {
	case "GET /v1/webhook-event-types":
		for _, role := range tree.Roles {
			want, ok := 403, false
			if roleMay(role, "webhook-event-types", "list") {
				want, ok = 200, true
			}
			cell("webhook-event-types.list", role, placed{posOwn, w.at[role]}, req{method: "GET", path: "/v1/webhook-event-types"}, want, ok)
		}
	case "POST " + res:
		for _, role := range tree.Roles {
			for _, kind := range holders {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, "webhook-endpoints", "create", p, 400, true)
					cell("webhook-endpoints.create", role, p, req{method: "POST", path: res,
						body: map[string]any{"nodeId": p.node.id, "url": "", "eventTypes": []string{"*"}}}, want, ok)
				}
			}
		}
	case "GET " + res:
		for _, role := range tree.Roles {
			for _, kind := range holders {
				for _, p := range w.positions(w.at[role], kind) {
					want, ok := expect(role, "webhook-endpoints", "list", p, 200, true)
					cell("webhook-endpoints.list", role, p, req{method: "GET", path: res + "?limit=1&nodeId=" + p.node.id}, want, ok)
				}
			}
		}
	default:
		seg := strings.Split(strings.TrimPrefix(rt.Path, res+"/{id}"), "/")
		sub := strings.Join(seg, "/")
		resource, verb, ok := "webhook-endpoints", "", 412
		var build func(id string) req
		switch {
		case sub == "" && rt.Method == "GET":
			verb, ok = "get", 200
			build = func(id string) req { return req{method: "GET", path: res + "/" + id} }
		case sub == "" && rt.Method == "PATCH":
			verb = "update"
			build = func(id string) req {
				return req{method: "PATCH", path: res + "/" + id, body: map[string]any{"description": "never written"}, header: stale}
			}
		case sub == "" && rt.Method == "DELETE":
			verb = "delete"
			build = func(id string) req { return req{method: "DELETE", path: res + "/" + id, header: stale} }
		case sub == "/rotate-secret" || sub == "/enable":
			verb = strings.TrimPrefix(sub, "/")
			build = func(id string) req { return req{method: "POST", path: res + "/" + id + sub, header: stale} }
		case sub == "/verify" || sub == "/test":
			verb, ok = strings.TrimPrefix(sub, "/"), 400
			build = func(id string) req { return req{method: "POST", path: res + "/" + id + sub + "?x=1"} }
		case sub == "/recover":
			verb, ok = "recover", 400
			build = func(id string) req { return req{method: "POST", path: res + "/" + id + sub, body: map[string]any{}} }
		case sub == "/deliveries" && rt.Method == "GET":
			resource, verb, ok = "webhook-deliveries", "list", 200
			build = func(id string) req { return req{method: "GET", path: res + "/" + id + "/deliveries?limit=1"} }
		case sub == "/deliveries/{deliveryId}/redeliver":
			resource, verb, ok = "webhook-deliveries", "redeliver", 400
			build = func(id string) req {
				return req{method: "POST", path: res + "/" + id + "/deliveries/dlv_00000000000000000000000000/redeliver?x=1"}
			}
		default:
			return
		}
		held := w.webhookEndpointsAt()
		for _, role := range tree.Roles {
			for _, kind := range []tree.Kind{tree.KindPartner, tree.KindOrganization} {
				for _, p := range w.positions(w.at[role], kind) {
					want, allowed := expect(role, resource, verb, p, ok, false)
					cell(resource+"."+verb, role, p, build(held[p.node.label]), want, allowed)
				}
			}
		}
	}
}
