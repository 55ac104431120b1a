package e2e

import (
	"fmt"
	"testing"
	"time"

	"opsconsole/shared/clientservices"
	"opsconsole/shared/tree"
)

type configurationsView struct {
	Items []struct {
		Key     string `json:"key"`
		Type    string `json:"type"`
		Value   any    `json:"value"`
		Default any    `json:"default"`
		IsSet   bool   `json:"isSet"`
	} `json:"items"`
}

// value is the setting key's value and whether it is set.
func (c configurationsView) value(t *testing.T, key string) (any, bool) {
	t.Helper()
	for _, it := range c.Items {
		if it.Key == key {
			return it.Value, it.IsSet
		}
	}
	t.Fatalf("no setting %s in %+v", key, c)
	return nil, false
}

// TestClientServiceConfigurations: a partner admin reads the configurations and gets
// 403 on a change; a platform admin changes one, a wrong type is a 400 naming every
// bad key, null restores the default, and the audit entry shows before and after.
func TestClientServiceConfigurations(t *testing.T) {
	root := admin(t)
	start := time.Now().Add(-time.Second)
	_, part := partnerTree(t)
	org := createOrganization(t, root, part.ID, unique("Config Org"))
	partnerTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	svc := createClientService(t, root, map[string]any{"organizationId": org.ID, "alias": unique("Configured"), "language": "en"})
	path := "/v1/client-services/" + svc.ID + "/configurations"

	var got configurationsView
	do(t, req{method: "GET", path: path, token: partnerTok}).json(t, &got)
	if len(got.Items) != len(clientservices.Catalog) {
		t.Fatalf("%d settings, want the catalog's %d", len(got.Items), len(clientservices.Catalog))
	}
	if v, set := got.value(t, "sessionTimeoutMinutes"); v != float64(60) || set {
		t.Fatalf("sessionTimeoutMinutes = %v (set %v) before any change", v, set)
	}
	do(t, req{method: "PATCH", path: path, token: partnerTok, body: map[string]any{"sessionTimeoutMinutes": 30}}).problem(t, 403, "forbidden")

	bad := do(t, req{method: "PATCH", path: path, token: root, body: map[string]any{
		"sessionTimeoutMinutes": "thirty", "mfaRequired": 1, "nope": true}}).problem(t, 400, "validation")
	for _, f := range []string{"mfaRequired", "nope", "sessionTimeoutMinutes"} {
		bad.field(t, f)
	}

	res := do(t, req{method: "PATCH", path: path, token: root, body: map[string]any{"sessionTimeoutMinutes": 30}})
	res.expect(t, 200)
	res.json(t, &got)
	if v, set := got.value(t, "sessionTimeoutMinutes"); v != float64(30) || !set {
		t.Fatalf("after the change sessionTimeoutMinutes = %v (set %v)", v, set)
	}
	// The partner admin reads the change.
	do(t, req{method: "GET", path: path, token: partnerTok}).json(t, &got)
	if v, _ := got.value(t, "sessionTimeoutMinutes"); v != float64(30) {
		t.Fatalf("the partner admin reads %v", v)
	}

	res = do(t, req{method: "PATCH", path: path, token: root, body: map[string]any{"sessionTimeoutMinutes": nil}})
	res.expect(t, 200)
	res.json(t, &got)
	if v, set := got.value(t, "sessionTimeoutMinutes"); v != float64(60) || set {
		t.Fatalf("after null sessionTimeoutMinutes = %v (set %v), want the default", v, set)
	}

	eventually(t, 20*time.Second, func() error {
		var befores, afters []string
		for _, e := range auditOf(t, root, svc.ID, start) {
			if e.Action != "client-service.configured" {
				continue
			}
			for _, c := range e.Changes {
				if c.Field == "sessionTimeoutMinutes" {
					befores, afters = append(befores, fmt.Sprint(c.Before)), append(afters, fmt.Sprint(c.After))
				}
			}
		}
		if len(befores) != 2 {
			return fmt.Errorf("configured entries changing sessionTimeoutMinutes: before %v after %v", befores, afters)
		}
		if !(sameSet(befores, []string{"60", "30"}) && sameSet(afters, []string{"30", "60"})) {
			t.Fatalf("the entries show before %v and after %v, want 60→30 and 30→60", befores, afters)
		}
		return nil
	})
}
