package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/impersonation"
	"opsconsole/shared/tree"
)

// session is a login-as session as the API shows it.
type session struct {
	ID             string `json:"id"`
	ImpersonatorID string `json:"impersonatorId"`
	Target         struct {
		Kind, ID, Name string
	} `json:"target"`
	ActingAs struct {
		Role   string `json:"role"`
		NodeID string `json:"nodeId"`
	} `json:"actingAs"`
	Status    string  `json:"status"`
	ExpiresAt string  `json:"expiresAt"`
	EndedAt   *string `json:"endedAt"`
}

// actedEntry is an audit entry with the impersonator.
type actedEntry struct {
	Action string `json:"action"`
	Actor  struct {
		UserID       string `json:"userId"`
		Email        string `json:"email"`
		Role         string `json:"role"`
		Impersonator *struct {
			UserID    string `json:"userId"`
			Email     string `json:"email"`
			Role      string `json:"role"`
			SessionID string `json:"sessionId"`
		} `json:"impersonator"`
	} `json:"actor"`
	Target struct {
		Type, ID, Name string
	} `json:"target"`
}

// auditEntriesOf waits for the caller's audit log to hold an entry about target with
// action, and returns it.
func auditEntryOf(t *testing.T, token, target, action string, from time.Time) actedEntry {
	t.Helper()
	var found actedEntry
	eventually(t, 15*time.Second, func() error {
		var p struct {
			Items []actedEntry `json:"items"`
		}
		res := do(t, req{method: "GET", token: token,
			path: "/v1/audit-logs?limit=100&action=" + urlq(action) + "&from=" + urlq(from.UTC().Format(time.RFC3339))})
		res.json(t, &p)
		for _, e := range p.Items {
			if e.Target.ID == target {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s entry about %s yet", action, target)
	})
	return found
}

func startSession(t *testing.T, token string, body map[string]any) session {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/impersonations", token: token, body: body})
	if res.Status != 201 {
		t.Fatalf("start a session %v: %d %s", body, res.Status, res.Body)
	}
	var s session
	res.json(t, &s)
	if loc := res.Header.Get("Location"); loc != "/v1/impersonations/"+s.ID {
		t.Fatalf("Location %q, want /v1/impersonations/%s", loc, s.ID)
	}
	return s
}

func actAs(id string) map[string]string { return map[string]string{"X-Impersonation-Id": id} }

// TestImpersonation: a distributor admin enters one of its partners (login-as), sees and
// does what that partner's admin may, no more, nowhere else, with both identities in
// the audit log; the session ends on demand or at expiry.
func TestImpersonation(t *testing.T) {
	root := admin(t)
	start := time.Now().Add(-2 * time.Second)
	dA := createDistributor(t, root, unique("Imp Dist A"))
	dB := createDistributor(t, root, unique("Imp Dist B"))
	pA := create(t, root, "partners", map[string]any{"distributorId": dA.ID, "name": unique("Imp Partner A")})
	pA2 := create(t, root, "partners", map[string]any{"distributorId": dA.ID, "name": unique("Imp Partner A2")})
	pB := create(t, root, "partners", map[string]any{"distributorId": dB.ID, "name": unique("Imp Partner B")})
	oA := createOrganization(t, root, pA.ID, unique("Imp Org A"))
	oA2 := createOrganization(t, root, pA2.ID, unique("Imp Org A2"))
	oB := createOrganization(t, root, pB.ID, unique("Imp Org B"))
	dAdmin, dAdminID := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, dA.ID))
	pAdmin, pAdminID := userAt(t, tree.RolePartnerAdmin, nodeOf(t, pA.ID))

	s := startSession(t, dAdmin, map[string]any{"nodeId": pA.ID})
	t.Run("the session acts as the partner's admin for 30 minutes", func(t *testing.T) {
		if s.ImpersonatorID != dAdminID || s.Target.Kind != "node" || s.Target.ID != pA.ID ||
			s.ActingAs.Role != string(tree.RolePartnerAdmin) || s.ActingAs.NodeID != pA.ID || s.Status != "active" {
			t.Fatalf("session %+v", s)
		}
		exp, err := time.Parse(time.RFC3339, s.ExpiresAt)
		if err != nil || exp.Sub(time.Now()) < 29*time.Minute || exp.Sub(time.Now()) > 31*time.Minute {
			t.Fatalf("expiresAt %s, want about 30 minutes from now", s.ExpiresAt)
		}
		var got session
		do(t, req{method: "GET", path: "/v1/impersonations/" + s.ID, token: dAdmin}).json(t, &got)
		if got.ID != s.ID || got.Status != "active" {
			t.Fatalf("GET %+v", got)
		}
	})

	t.Run("lists without a scope are the partner's view", func(t *testing.T) {
		own := ids(listNodes(t, dAdmin, "/v1/organizations?limit=100"))
		if !slices.Contains(own, oA.ID) || !slices.Contains(own, oA2.ID) {
			t.Fatalf("the distributor admin's own view %v lacks %s or %s", own, oA.ID, oA2.ID)
		}
		var page nodePage
		do(t, req{method: "GET", path: "/v1/organizations?limit=100", token: dAdmin, header: actAs(s.ID)}).json(t, &page)
		if got := ids(page.Items); !slices.Equal(got, []string{oA.ID}) {
			t.Fatalf("acting as the partner: %v, want only %s", got, oA.ID)
		}
	})

	var created node
	t.Run("a change made while acting names both people in the audit log", func(t *testing.T) {
		res := do(t, req{method: "POST", path: "/v1/organizations", token: dAdmin, header: actAs(s.ID),
			body: map[string]any{"partnerId": pA.ID, "name": unique("Imp Created")}})
		res.expect(t, 201)
		res.json(t, &created)
		e := auditEntryOf(t, dAdmin, created.ID, "organization.created", start)
		if e.Actor.Role != string(tree.RolePartnerAdmin) || e.Actor.UserID != dAdminID {
			t.Fatalf("actor %+v, want the distributor admin acting as partner_admin", e.Actor)
		}
		if i := e.Actor.Impersonator; i == nil || i.UserID != dAdminID || i.Role != string(tree.RoleDistributorAdmin) ||
			i.SessionID != s.ID || i.Email == "" {
			t.Fatalf("impersonator %+v, want the distributor admin and the session", i)
		}
		// The partner's own admin sees it too, in the partner's log.
		auditEntryOf(t, pAdmin, created.ID, "organization.created", start)
		st := auditEntryOf(t, dAdmin, s.ID, "impersonation.started", start)
		if st.Actor.UserID != dAdminID || st.Actor.Impersonator != nil || st.Target.Type != "impersonation" {
			t.Fatalf("impersonation.started %+v", st)
		}
	})

	t.Run("it cannot reach outside the impersonator's branch", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/impersonations", token: dAdmin, body: map[string]any{"nodeId": pB.ID}}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/impersonations", token: dAdmin, body: map[string]any{"nodeId": oB.ID}}).problem(t, 404, "not-found")
		// With the session: another distributor's organization, and the sibling
		// partner's, which the impersonator could see but the partner cannot.
		do(t, req{method: "GET", path: "/v1/organizations/" + oB.ID, token: dAdmin, header: actAs(s.ID)}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/organizations/" + oA2.ID, token: dAdmin, header: actAs(s.ID)}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/organizations/" + oA2.ID, token: dAdmin}).expect(t, 200)
	})

	t.Run("it cannot exceed a partner admin's rights", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/partners/" + pA.ID + "/suspend", token: dAdmin, header: actAs(s.ID)}).problem(t, 403, "forbidden")
		do(t, req{method: "GET", path: "/v1/partners?distributorId=" + dA.ID, token: dAdmin, header: actAs(s.ID)}).problem(t, 403, "forbidden")
	})

	t.Run("no nesting: a session cannot start another", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/impersonations", token: dAdmin, header: actAs(s.ID),
			body: map[string]any{"nodeId": oA.ID}}).problem(t, 403, "forbidden")
	})

	t.Run("a partner admin cannot impersonate its distributor or itself", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/impersonations", token: pAdmin, body: map[string]any{"nodeId": dA.ID}}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/impersonations", token: pAdmin, body: map[string]any{"nodeId": pA.ID}}).problem(t, 403, "forbidden")
		do(t, req{method: "POST", path: "/v1/impersonations", token: pAdmin, body: map[string]any{"userId": dAdminID}}).problem(t, 404, "not-found")
		do(t, req{method: "POST", path: "/v1/impersonations", token: pAdmin, body: map[string]any{"userId": pAdminID}}).problem(t, 403, "forbidden")
	})

	t.Run("someone else's session is refused", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: pAdmin, header: actAs(s.ID)}).problem(t, 403, "impersonation-ended")
		do(t, req{method: "GET", path: "/v1/impersonations/" + s.ID, token: pAdmin}).problem(t, 404, "not-found")
		do(t, req{method: "DELETE", path: "/v1/impersonations/" + s.ID, token: pAdmin}).problem(t, 404, "not-found")
		// An unknown id reads the same.
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(impersonation.NewID())}).problem(t, 403, "impersonation-ended")
	})

	t.Run("an invalid header is a 400", func(t *testing.T) {
		for _, h := range []string{"nope", "imp_X", strings.ToUpper(s.ID), s.ID + "0"} {
			p := do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(h)}).problem(t, 400, "validation")
			p.field(t, "X-Impersonation-Id")
		}
	})

	t.Run("acting as a console user takes their role and node, and names them", func(t *testing.T) {
		us := startSession(t, dAdmin, map[string]any{"userId": pAdminID, "minutes": 5})
		if us.Target.Kind != "user" || us.Target.ID != pAdminID || us.ActingAs.Role != string(tree.RolePartnerAdmin) || us.ActingAs.NodeID != pA.ID {
			t.Fatalf("user session %+v", us)
		}
		var o node
		do(t, req{method: "POST", path: "/v1/organizations", token: dAdmin, header: actAs(us.ID),
			body: map[string]any{"partnerId": pA.ID, "name": unique("Imp By User")}}).json(t, &o)
		e := auditEntryOf(t, dAdmin, o.ID, "organization.created", start)
		if e.Actor.UserID != pAdminID || e.Actor.Impersonator == nil || e.Actor.Impersonator.UserID != dAdminID {
			t.Fatalf("actor %+v, want the partner admin with the distributor admin as impersonator", e.Actor)
		}
		do(t, req{method: "DELETE", path: "/v1/impersonations/" + us.ID, token: dAdmin}).expect(t, 204)
	})

	t.Run("it ends on DELETE", func(t *testing.T) {
		// The header is ignored by the login-as routes themselves.
		do(t, req{method: "DELETE", path: "/v1/impersonations/" + s.ID, token: dAdmin, header: actAs(s.ID)}).expect(t, 204)
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(s.ID)}).problem(t, 403, "impersonation-ended")
		var got session
		do(t, req{method: "GET", path: "/v1/impersonations/" + s.ID, token: dAdmin}).json(t, &got)
		if got.Status != "ended" || got.EndedAt == nil {
			t.Fatalf("after DELETE: %+v", got)
		}
		do(t, req{method: "DELETE", path: "/v1/impersonations/" + s.ID, token: dAdmin}).expect(t, 204)
		e := auditEntryOf(t, dAdmin, s.ID, "impersonation.ended", start)
		if e.Actor.UserID != dAdminID {
			t.Fatalf("impersonation.ended by %+v", e.Actor)
		}
		// Without the header the admin is themselves again.
		do(t, req{method: "GET", path: "/v1/organizations/" + oA2.ID, token: dAdmin}).expect(t, 200)
	})

	t.Run("it ends at expiry, whatever TTL does", func(t *testing.T) {
		write := func(validUntil time.Time) string {
			it := impersonation.Item{
				ID: impersonation.NewID(), Type: "impersonation",
				ImpersonatorID: dAdminID, ImpersonatorRole: tree.RoleDistributorAdmin, ImpersonatorNodeID: dA.ID,
				TargetKind: impersonation.TargetNode, TargetID: pA.ID,
				Role: tree.RolePartnerAdmin, NodeID: pA.ID, NodeKind: tree.KindPartner, NodePath: []string{tree.PlatformID, dA.ID},
				ValidUntil: validUntil.Unix(), CreatedAt: time.Now().UTC().Format(time.RFC3339), Version: 1,
				ExpiresAt: validUntil.Add(impersonation.Cleanup).Unix(),
			}
			it.PK, it.SK = "IMPERSONATION#"+it.ID, "IMPERSONATION"
			if err := st.PutIf(t0(), it, nil); err != nil {
				t.Fatal(err)
			}
			return it.ID
		}
		live, expired := write(time.Now().Add(time.Minute)), write(time.Now().Add(-time.Second))
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(live)}).expect(t, 200)
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(expired)}).problem(t, 403, "impersonation-ended")
		var got session
		do(t, req{method: "GET", path: "/v1/impersonations/" + expired, token: dAdmin}).json(t, &got)
		if got.Status != "expired" {
			t.Fatalf("status %q, want expired", got.Status)
		}
	})

	t.Run("a suspended target refuses the session", func(t *testing.T) {
		s2 := startSession(t, dAdmin, map[string]any{"nodeId": pA2.ID, "minutes": 1})
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(s2.ID)}).expect(t, 200)
		do(t, req{method: "POST", path: "/v1/partners/" + pA2.ID + "/suspend", token: dAdmin}).expect(t, 200)
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(s2.ID)}).problem(t, 403, "branch-suspended")
		// The impersonator, as themselves, is not blocked and can enable it again.
		do(t, req{method: "POST", path: "/v1/partners/" + pA2.ID + "/enable", token: dAdmin}).expect(t, 200)
		do(t, req{method: "GET", path: "/v1/organizations?limit=1", token: dAdmin, header: actAs(s2.ID)}).expect(t, 200)
	})
}
