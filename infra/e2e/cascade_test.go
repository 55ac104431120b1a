package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/cascade"
	"opsconsole/shared/counts"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// cascadeDelete asks for the cascading delete of a node through the API. Until the
// delete handler serves ?cascade=true (it answers 409 "has children" then), it begins
// the cascade the way the handler does, with cascade.Begin inside the API middleware,
// as the caller with Cognito subject sub, so the rest of the test is the same.
func cascadeDelete(t *testing.T, token, sub, resource string, it nodes.Item) response {
	t.Helper()
	res := do(t, req{method: "DELETE", path: "/v1/" + resource + "/" + it.ID + "?cascade=true", token: token})
	if res.Status != http.StatusConflict {
		return res
	}
	t.Log("DELETE ?cascade=true is not served yet: beginning the cascade directly")
	op := api.Operation{
		ID: tree.Operation(resource + ".delete"), Method: http.MethodDelete, Path: "/v1/" + resource + "/{id}",
		Kind: string(it.Kind), Callers: identity.Callers{Store: st},
		Target: func(r *http.Request) (tree.Node, any, error) {
			now, err := nodes.Get(r.Context(), st, it.ID)
			return now.Node(), now, err
		},
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			now := api.TargetOf(r.Context()).(nodes.Item)
			if err := cascade.Begin(r, st, now, nil); err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusAccepted, map[string]string{"id": now.ID, "status": cascade.StatusDeleting})
		},
	}
	path := "/v1/" + resource + "/" + it.ID
	out, err := api.Lambda(api.Serve(op))(context.Background(), events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, RawQueryString: "cascade=true",
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: fmt.Sprintf("direct-%d", time.Now().UnixNano()),
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "DELETE", Path: path, SourceIP: "127.0.0.1", UserAgent: "e2e"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": sub}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: out.StatusCode, Body: []byte(out.Body), Header: http.Header{}}
}

// itemsLeft lists which of the items the nodes ns own (node, counts, unique name) are
// still in the table.
func itemsLeft(t *testing.T, ns []nodes.Item) []string {
	t.Helper()
	var keys []store.Item
	for _, n := range ns {
		keys = append(keys, nodes.Key(n.ID), counts.Key(n.ID), nodes.UniqueNameKey(n.ParentID, n.Kind, n.Name))
	}
	var out []string
	for start := 0; start < len(keys); start += store.MaxBatchGet {
		got, err := st.BatchGet(t0(), keys[start:min(start+store.MaxBatchGet, len(keys))])
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range got {
			out = append(out, it["PK"].(*types.AttributeValueMemberS).Value+" "+it["SK"].(*types.AttributeValueMemberS).Value)
		}
	}
	return out
}

// TestCascadingDelete deletes a partner with 3 organizations × 3 companies × 5 end
// users through the API, with the whole local system: the 202, the users below
// refused at once, the tree-deleter function run by the stream mapping of
// template.yaml, and the audit writer and tree counter beside it.
func TestCascadingDelete(t *testing.T) {
	root := admin(t)
	start := time.Now().Add(-time.Second)
	d := createDistributor(t, root, unique("Cascade D"))
	dAdmin, dAdminID := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d.ID))
	p := createPartner(t, dAdmin, d.ID, unique("Cascade P"))
	q := createPartner(t, dAdmin, d.ID, unique("Cascade Q"))
	kept := createOrganization(t, dAdmin, q.ID, unique("Kept O"))

	ids := []string{p.ID}
	var someCompany string
	for i := range 3 {
		o := createOrganization(t, dAdmin, p.ID, fmt.Sprintf("Org %d", i))
		ids = append(ids, o.ID)
		for j := range 3 {
			c := createCompany(t, dAdmin, o.ID, fmt.Sprintf("Company %d", j))
			ids = append(ids, c.ID)
			someCompany = c.ID
			for k := range 5 {
				ids = append(ids, createEndUser(t, dAdmin, c.ID, fmt.Sprintf("eu%d-%s@example.com", k, c.ID)).ID)
			}
		}
	}
	subtree := make([]nodes.Item, len(ids))
	for i, id := range ids {
		subtree[i] = nodeOf(t, id)
	}
	pAdmin, _ := userAt(t, tree.RolePartnerAdmin, subtree[0])
	cAdmin, _ := userAt(t, tree.RoleCompanyAdmin, nodeOf(t, someCompany))
	qAdmin, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, q.ID))
	do(t, req{method: "GET", path: "/v1/me", token: cAdmin}).expect(t, 200)
	keptBefore := nodeOf(t, kept.ID)

	t.Run("without cascade=true a node with children is refused", func(t *testing.T) {
		do(t, req{method: "DELETE", path: "/v1/partners/" + p.ID, token: dAdmin}).problem(t, 409, "has-children")
	})

	res := cascadeDelete(t, dAdmin, dAdminID, "partners", subtree[0])
	if res.Status != http.StatusAccepted {
		t.Fatalf("cascade: %d %s", res.Status, res.Body)
	}
	var accepted struct{ ID, Status string }
	res.json(t, &accepted)
	if accepted.ID != p.ID || accepted.Status != "deleting" {
		t.Fatalf("answer %s", res.Body)
	}

	t.Run("users below the root are refused from that moment", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/me", token: pAdmin}).problem(t, 403, "branch-suspended")
		do(t, req{method: "GET", path: "/v1/me", token: cAdmin}).problem(t, 403, "branch-suspended")
		do(t, req{method: "GET", path: "/v1/me", token: qAdmin}).expect(t, 200)
		do(t, req{method: "GET", path: "/v1/me", token: dAdmin}).expect(t, 200)
	})
	t.Run("a repeated request is accepted again", func(t *testing.T) {
		res := cascadeDelete(t, dAdmin, dAdminID, "partners", subtree[0])
		if res.Status != http.StatusAccepted && res.Status != http.StatusNotFound { // 404 once it is gone
			t.Fatalf("again: %d %s", res.Status, res.Body)
		}
	})

	t.Run("the tree deleter removes the whole subtree", func(t *testing.T) {
		eventually(t, 60*time.Second, func() error {
			if res := do(t, req{method: "GET", path: "/v1/partners/" + p.ID, token: dAdmin}); res.Status != 404 {
				return fmt.Errorf("the partner answers %d", res.Status)
			}
			if _, err := cascade.GetJob(t0(), st, p.ID); err == nil {
				return fmt.Errorf("the job item is still there")
			}
			return nil
		})
		if left := itemsLeft(t, subtree); len(left) > 0 {
			t.Fatalf("left behind: %v", left)
		}
		if got := nodeOf(t, d.ID).Children; got != 1 {
			t.Fatalf("the distributor counts %d children, want 1", got)
		}
	})
	t.Run("nothing outside the subtree is touched", func(t *testing.T) {
		now := nodeOf(t, kept.ID)
		if now.Version != keptBefore.Version || now.Name != keptBefore.Name {
			t.Fatalf("the organization of the sibling partner changed: %+v", now)
		}
		do(t, req{method: "GET", path: "/v1/organizations/" + kept.ID, token: qAdmin}).expect(t, 200)
		if got := nodeOf(t, q.ID).Children; got != 1 {
			t.Fatalf("the sibling partner counts %d children", got)
		}
	})
	t.Run("the counts items stay gone once the tree counter has caught up", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			c, err := counts.Get(t0(), st, d.ID)
			if err != nil {
				return err
			}
			if n := c.Total(); n != 1 {
				return fmt.Errorf("the distributor's counts say %d children: %v", n, c)
			}
			return nil
		})
		if left := itemsLeft(t, subtree); len(left) > 0 {
			t.Fatalf("recreated: %v", left)
		}
	})
	t.Run("each removed node is audited, naming who asked", func(t *testing.T) {
		want := map[string]bool{}
		for _, n := range subtree {
			want[n.ID] = true
		}
		var entries []auditEntry
		eventually(t, 30*time.Second, func() error {
			entries = nil
			query := "limit=100&actorId=" + urlq(dAdminID) + "&from=" + urlq(start.UTC().Format(time.RFC3339))
			for q := query; ; {
				var page auditPage
				do(t, req{method: "GET", path: "/v1/audit-logs?" + q, token: dAdmin}).json(t, &page)
				entries = append(entries, page.Items...)
				if page.NextCursor == nil {
					break
				}
				q = query + "&cursor=" + urlq(*page.NextCursor)
			}
			deleted := 0
			for _, e := range entries {
				if strings.HasSuffix(e.Action, ".deleted") && want[e.Target.ID] {
					deleted++
				}
			}
			if deleted < len(want) {
				return fmt.Errorf("%d of %d deletions in the log", deleted, len(want))
			}
			return nil
		})
		var started *auditEntry
		for i, e := range entries {
			if e.Action == "partner.deletion-started" && e.Target.ID == p.ID {
				started = &entries[i]
			}
		}
		if started == nil {
			t.Fatalf("no partner.deletion-started entry: %s", actions(entries))
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if !strings.HasSuffix(e.Action, ".deleted") || !want[e.Target.ID] {
				continue
			}
			if seen[e.Target.ID] {
				t.Fatalf("%s deleted twice in the log", e.Target.ID)
			}
			seen[e.Target.ID] = true
			if e.Actor.UserID != dAdminID || e.Actor.Role != string(tree.RoleDistributorAdmin) ||
				e.RequestID == "" || e.RequestID != started.RequestID || e.UserAgent != started.UserAgent {
				t.Fatalf("entry %+v, want the actor and request of %+v", e, *started)
			}
			if e.Action != e.Target.Type+".deleted" || !slices.Contains([]string{"partner", "organization", "company", "end_user"}, e.Target.Type) {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
