package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/tree"
)

// license is a license as the API shows it.
type license struct {
	ID         string `json:"id"`
	NodeID     string `json:"nodeId"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	ValidFrom  string `json:"validFrom"`
	ValidUntil string `json:"validUntil"`
	Seats      int    `json:"seats"`
	Key        string `json:"key"`
	Version    int    `json:"version"`
}

type licensePage struct {
	Items      []license `json:"items"`
	NextCursor *string   `json:"nextCursor"`
}

func createLicense(t testing.TB, token string, body map[string]any) license {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/licenses", token: token, body: body})
	if res.Status != http.StatusCreated {
		t.Fatalf("create license %v: %d %s", body, res.Status, res.Body)
	}
	var l license
	res.json(t, &l)
	return l
}

func getLicense(t *testing.T, token, id string) license {
	t.Helper()
	var l license
	do(t, req{method: "GET", path: "/v1/licenses/" + id, token: token}).json(t, &l)
	return l
}

// listedLicenses is every license of a list's query, following its cursors.
func listedLicenses(t *testing.T, token, query string) map[string]license {
	t.Helper()
	out := map[string]license{}
	cursor := ""
	for range 100 {
		path := "/v1/licenses?limit=100&" + query
		if cursor != "" {
			path += "&cursor=" + urlq(cursor)
		}
		res := do(t, req{method: "GET", path: path, token: token})
		res.expect(t, 200)
		var p licensePage
		res.json(t, &p)
		for _, l := range p.Items {
			out[l.ID] = l
		}
		if p.NextCursor == nil {
			return out
		}
		cursor = *p.NextCursor
	}
	t.Fatal("too many pages")
	return nil
}

var licenseKeyShape = regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){7}$`)

func TestLicenses(t *testing.T) {
	root := admin(t)
	dist, part := partnerTree(t)
	org := createOrganization(t, root, part.ID, unique("Lic Org"))
	sibling := createOrganization(t, root, part.ID, unique("Lic Sibling"))
	other := createPartner(t, root, createDistributor(t, root, unique("Lic Other Dist")).ID, unique("Lic Other"))
	partnerTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	orgTok, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, org.ID))

	own := createLicense(t, partnerTok, map[string]any{"nodeId": part.ID, "type": "partner_development", "name": "Dev licence"})
	if own.Status != "active" || own.Seats != 1 || !licenseKeyShape.MatchString(own.Key) || own.NodeID != part.ID || own.Version != 1 {
		t.Fatalf("created %+v", own)
	}
	past := createLicense(t, partnerTok, map[string]any{"nodeId": org.ID, "type": "agent", "name": "Old agent",
		"validFrom": "2020-01-01T00:00:00Z", "validUntil": "2021-01-01T00:00:00+01:00", "seats": 3})
	if past.Status != "expired" || past.ValidUntil != "2020-12-31T23:00:00Z" || past.Seats != 3 {
		t.Fatalf("a license created past its validUntil: %+v", past)
	}
	agent := createLicense(t, root, map[string]any{"nodeId": org.ID, "type": "agent", "name": "Agent"})
	foreign := createLicense(t, root, map[string]any{"nodeId": other.ID, "type": "partner_profile", "name": "Foreign"})
	sib := createLicense(t, root, map[string]any{"nodeId": sibling.ID, "type": "agent", "name": "Sibling agent"})
	distLic := createLicense(t, root, map[string]any{"nodeId": dist.ID, "type": "partner_profile", "name": "Distributor's"})

	t.Run("Idempotency-Key replays the create", func(t *testing.T) {
		body := map[string]any{"nodeId": part.ID, "type": "agent", "name": "Replayed"}
		key := map[string]string{"Idempotency-Key": fmt.Sprintf("lic-%d", time.Now().UnixNano())}
		first := do(t, req{method: "POST", path: "/v1/licenses", token: partnerTok, body: body, header: key})
		first.expect(t, 201)
		again := do(t, req{method: "POST", path: "/v1/licenses", token: partnerTok, body: body, header: key})
		again.expect(t, 201)
		var a, b license
		first.json(t, &a)
		again.json(t, &b)
		if a.ID != b.ID || a.Key != b.Key || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %+v / %+v (%v)", a, b, again.Header)
		}
		body["name"] = "Another"
		do(t, req{method: "POST", path: "/v1/licenses", token: partnerTok, body: body, header: key}).problem(t, 422, "idempotency-key-reused")
	})

	t.Run("an organization admin cannot create a license for its own organization", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/licenses", token: orgTok, body: map[string]any{"nodeId": org.ID, "type": "agent", "name": "Mine"}}).problem(t, 403, "forbidden")
	})

	t.Run("outside the branch is 404", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/licenses", token: partnerTok, body: map[string]any{"nodeId": dist.ID, "type": "agent", "name": "Up"}}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/licenses", token: partnerTok, body: map[string]any{"nodeId": other.ID, "type": "agent", "name": "Over"}}).problem(t, 404, "not-found")
		for _, id := range []string{foreign.ID, distLic.ID} {
			do(t, req{method: "GET", path: "/v1/licenses/" + id, token: partnerTok}).problem(t, 404, "not-found")
			do(t, req{method: "DELETE", path: "/v1/licenses/" + id, token: partnerTok}).problem(t, 404, "not-found")
		}
		for _, id := range []string{own.ID, sib.ID} {
			do(t, req{method: "GET", path: "/v1/licenses/" + id, token: orgTok}).problem(t, 404, "not-found")
		}
		do(t, req{method: "GET", path: "/v1/licenses?nodeId=" + part.ID, token: orgTok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/licenses?nodeId=" + dist.ID, token: partnerTok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/licenses/lic_00000000000000000000000000", token: root}).problem(t, 404, "not-found")
	})

	t.Run("the organization admin reads its organization's licenses, with their keys", func(t *testing.T) {
		if got := getLicense(t, orgTok, agent.ID); got.Key != agent.Key || got.Status != "active" {
			t.Fatalf("get %+v", got)
		}
		got := listedLicenses(t, orgTok, "")
		if len(got) != 2 || got[agent.ID].ID == "" || got[past.ID].Status != "expired" {
			t.Fatalf("the organization's list %v", got)
		}
		if got[agent.ID].Key != "" {
			t.Fatal("a list shows the key")
		}
		do(t, req{method: "PATCH", path: "/v1/licenses/" + agent.ID, token: orgTok, body: map[string]any{"seats": 2}}).problem(t, 403, "forbidden")
		do(t, req{method: "POST", path: "/v1/licenses/" + agent.ID + "/deactivate", token: orgTok}).problem(t, 403, "forbidden")
		do(t, req{method: "DELETE", path: "/v1/licenses/" + agent.ID, token: orgTok}).problem(t, 403, "forbidden")
	})

	t.Run("a list spans the branch and filters by type and status", func(t *testing.T) {
		all := listedLicenses(t, partnerTok, "")
		for _, l := range []license{own, past, agent, sib} {
			if _, ok := all[l.ID]; !ok {
				t.Errorf("%s (%s) missing from the partner's list", l.Name, l.ID)
			}
		}
		for _, l := range []license{foreign, distLic} {
			if _, ok := all[l.ID]; ok {
				t.Errorf("%s is listed outside its branch", l.Name)
			}
		}
		fromDist := listedLicenses(t, root, "nodeId="+dist.ID)
		if _, ok := fromDist[distLic.ID]; !ok || len(fromDist) < 5 {
			t.Errorf("the distributor's branch %d licenses", len(fromDist))
		}
		agents := listedLicenses(t, partnerTok, "type=agent")
		if _, ok := agents[own.ID]; ok || agents[agent.ID].ID == "" {
			t.Errorf("type=agent %v", agents)
		}
		expired := listedLicenses(t, partnerTok, "status=expired")
		if len(expired) != 1 || expired[past.ID].ID == "" {
			t.Errorf("status=expired %v", expired)
		}
		active := listedLicenses(t, partnerTok, "status=active&type=agent")
		if _, ok := active[past.ID]; ok || active[agent.ID].ID == "" {
			t.Errorf("status=active&type=agent %v", active)
		}
		// Pages of one, filtered, reach every match through their cursors.
		var ids []string
		cursor := ""
		for range 20 {
			path := "/v1/licenses?limit=1&type=agent"
			if cursor != "" {
				path += "&cursor=" + urlq(cursor)
			}
			var p licensePage
			do(t, req{method: "GET", path: path, token: partnerTok}).json(t, &p)
			for _, l := range p.Items {
				ids = append(ids, l.ID)
			}
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
		}
		if len(ids) != len(agents) {
			t.Errorf("paged %d agents, listed %d", len(ids), len(agents))
		}
		do(t, req{method: "GET", path: "/v1/licenses?status=gone", token: partnerTok}).problem(t, 400, "validation").field(t, "status")
		do(t, req{method: "GET", path: "/v1/licenses?nodeId=" + org.ID + "x", token: partnerTok}).problem(t, 400, "validation").field(t, "nodeId")
	})

	t.Run("PATCH checks the body, then If-Match", func(t *testing.T) {
		stale := map[string]string{"If-Match": `"9"`}
		path := "/v1/licenses/" + agent.ID
		do(t, req{method: "PATCH", path: path, token: partnerTok, body: map[string]any{"seats": 0}, header: stale}).problem(t, 400, "validation").field(t, "seats")
		do(t, req{method: "PATCH", path: path, token: partnerTok, body: map[string]any{"seats": 5}, header: stale}).problem(t, 412, "stale")
		do(t, req{method: "PATCH", path: path, token: partnerTok, body: map[string]any{"nodeId": part.ID}}).problem(t, 400, "validation").field(t, "nodeId")
		do(t, req{method: "PATCH", path: path, token: partnerTok, body: map[string]any{"validFrom": "2030-01-01T00:00:00Z", "validUntil": "2029-01-01T00:00:00Z"}}).problem(t, 400, "validation").field(t, "validUntil")
		res := do(t, req{method: "PATCH", path: path, token: partnerTok, body: map[string]any{"seats": 5, "name": "Agent renamed"}, header: map[string]string{"If-Match": `"1"`}})
		res.expect(t, 200)
		var l license
		res.json(t, &l)
		if l.Seats != 5 || l.Name != "Agent renamed" || l.Version != 2 || res.Header.Get("ETag") != `"2"` || l.Key != agent.Key {
			t.Fatalf("patched %+v", l)
		}
	})

	t.Run("activate and deactivate", func(t *testing.T) {
		path := "/v1/licenses/" + own.ID
		do(t, req{method: "POST", path: path + "/activate", token: partnerTok}).problem(t, 409, "invalid-transition")
		do(t, req{method: "POST", path: path + "/deactivate", token: partnerTok, header: map[string]string{"If-Match": `"7"`}}).problem(t, 412, "stale")
		do(t, req{method: "POST", path: path + "/deactivate", token: partnerTok}).expect(t, 200)
		if l := getLicense(t, partnerTok, own.ID); l.Status != "inactive" {
			t.Fatalf("deactivated: %+v", l)
		}
		if _, ok := listedLicenses(t, partnerTok, "status=inactive")[own.ID]; !ok {
			t.Error("status=inactive does not list the deactivated license")
		}
		do(t, req{method: "POST", path: path + "/deactivate", token: partnerTok}).problem(t, 409, "invalid-transition")
		do(t, req{method: "POST", path: path + "/activate", token: partnerTok}).expect(t, 200)
	})

	t.Run("a license past validUntil reads expired without any write", func(t *testing.T) {
		until := time.Now().UTC().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
		l := createLicense(t, partnerTok, map[string]any{"nodeId": org.ID, "type": "agent", "name": "Short", "validUntil": until.Format(time.RFC3339)})
		if l.Status != "active" {
			t.Fatalf("before its end: %+v", l)
		}
		time.Sleep(time.Until(until) + 100*time.Millisecond)
		got := getLicense(t, partnerTok, l.ID)
		if got.Status != "expired" || got.Version != l.Version {
			t.Fatalf("after its end: %+v (created %+v)", got, l)
		}
		if _, ok := listedLicenses(t, partnerTok, "status=expired&nodeId="+org.ID)[l.ID]; !ok {
			t.Error("status=expired does not list it")
		}
		if _, ok := listedLicenses(t, partnerTok, "status=active")[l.ID]; ok {
			t.Error("status=active still lists it")
		}
	})

	t.Run("delete, audited without the key", func(t *testing.T) {
		path := "/v1/licenses/" + sib.ID
		do(t, req{method: "DELETE", path: path, token: partnerTok, header: map[string]string{"If-Match": `"3"`}}).problem(t, 412, "stale")
		do(t, req{method: "DELETE", path: path, token: partnerTok}).expect(t, 204)
		do(t, req{method: "GET", path: path, token: partnerTok}).problem(t, 404, "not-found")
		eventually(t, 20*time.Second, func() error {
			res := do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + sib.ID, token: root})
			if !strings.Contains(string(res.Body), "license.deleted") || !strings.Contains(string(res.Body), "license.created") {
				return fmt.Errorf("audit %s", res.Body)
			}
			if strings.Contains(string(res.Body), sib.Key) {
				t.Fatalf("the audit log shows the key: %s", res.Body)
			}
			return nil
		})
	})
}

// TestLicensesGoWithTheirHolder: a node's delete (plain or cascading) removes the
// licenses it held, through the node sweeper, each with its audit entry.
func TestLicensesGoWithTheirHolder(t *testing.T) {
	root := admin(t)
	_, part := partnerTree(t)
	plain := createOrganization(t, root, part.ID, unique("Lic Plain"))
	held := createLicense(t, root, map[string]any{"nodeId": plain.ID, "type": "agent", "name": "Goes"})
	do(t, req{method: "DELETE", path: "/v1/organizations/" + plain.ID, token: root}).expect(t, 204)

	org := createOrganization(t, root, part.ID, unique("Lic Cascade"))
	below := createLicense(t, root, map[string]any{"nodeId": org.ID, "type": "agent", "name": "Below"})
	top := createLicense(t, root, map[string]any{"nodeId": part.ID, "type": "partner_profile", "name": "Top"})
	do(t, req{method: "DELETE", path: "/v1/partners/" + part.ID + "?cascade=true", token: root}).expect(t, 202)

	for _, l := range []license{held, below, top} {
		eventually(t, 60*time.Second, func() error {
			if res := do(t, req{method: "GET", path: "/v1/licenses/" + l.ID, token: root}); res.Status != 404 {
				return fmt.Errorf("license %s: %d", l.Name, res.Status)
			}
			return nil
		})
	}
	eventually(t, 20*time.Second, func() error {
		res := do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + below.ID, token: root})
		if !strings.Contains(string(res.Body), "license.deleted") {
			return fmt.Errorf("audit %s", res.Body)
		}
		return nil
	})
}
