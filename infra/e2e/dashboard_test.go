package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"opsconsole/infra/local"
	"opsconsole/infra/streams"
	"opsconsole/shared/consumers"
	"opsconsole/shared/counts"
	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// dashboardOf reads the dashboard of nodeID ("" for the caller's own) as generic JSON.
func dashboardOf(t testing.TB, token, nodeID string, header map[string]string) map[string]any {
	t.Helper()
	path := "/v1/dashboard"
	if nodeID != "" {
		path += "?nodeId=" + nodeID
	}
	res := do(t, req{method: "GET", path: path, token: token, header: header})
	res.expect(t, 200)
	var v map[string]any
	res.json(t, &v)
	return v
}

// totalsOf are the dashboard's totals, flattened: "companies.virtual" → {count, href},
// with activeAdmins.
func totalsOf(v map[string]any) map[string]dashTotal {
	out := map[string]dashTotal{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		if c, ok := m["count"].(float64); ok {
			out[prefix] = dashTotal{Count: int(c), Href: m["href"].(string)}
		}
		for k, sub := range m {
			if sm, ok := sub.(map[string]any); ok {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, sm)
			}
		}
	}
	walk("", v["totals"].(map[string]any))
	walk("activeAdmins", v["activeAdmins"].(map[string]any))
	return out
}

type dashTotal struct {
	Count int
	Href  string
}

// listedCount follows a list route and its cursors and counts its items.
func listedCount(t testing.TB, token, href string, header map[string]string) (int, error) {
	n := 0
	sep := "?"
	if strings.Contains(href, "?") {
		sep = "&"
	}
	for cursor, pages := "", 0; pages < 200; pages++ {
		path := href + sep + "limit=100"
		if cursor != "" {
			path += "&cursor=" + urlq(cursor)
		}
		res := do(t, req{method: "GET", path: path, token: token, header: header})
		if res.Status != 200 {
			return 0, fmt.Errorf("%s: %d %s", path, res.Status, res.Body)
		}
		var p struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"nextCursor"`
		}
		res.json(t, &p)
		n += len(p.Items)
		if p.NextCursor == nil {
			return n, nil
		}
		cursor = *p.NextCursor
	}
	return 0, fmt.Errorf("%s: too many pages", href)
}

// totalsMatchLists checks that every total of the dashboard of nodeID is what the
// list behind its href returns, and that want's totals have their counts.
func totalsMatchLists(t *testing.T, token, nodeID string, want map[string]int) error {
	totals := totalsOf(dashboardOf(t, token, nodeID, nil))
	for name, n := range want {
		if got, ok := totals[name]; !ok || got.Count != n {
			return fmt.Errorf("%s: totals.%s = %+v, want %d", nodeID, name, got, n)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(totals)) {
		tot := totals[name]
		n, err := listedCount(t, token, tot.Href, nil)
		if err != nil {
			return err
		}
		if n != tot.Count {
			return fmt.Errorf("%s: totals.%s is %d, its list %s returns %d", nodeID, name, tot.Count, tot.Href, n)
		}
	}
	return nil
}

// TestDashboard builds a branch (a distributor, partners, organizations in every
// status, companies some virtual, end users, console users, licenses of each type and
// state) and checks that at the distributor, a partner and an organization every
// total equals what its list returns; that a create, a status change, a delete and a
// cascading delete below move every ancestor's totals within 5 s; that replaying the
// branch's whole stream changes nothing; that a license past validUntil counts as
// expired with no write; and who may see what.
func TestDashboard(t *testing.T) {
	root := admin(t)
	dist := createDistributor(t, root, unique("Dash Dist"))
	p1 := createPartner(t, root, dist.ID, unique("Dash P1"))
	p2 := createPartner(t, root, dist.ID, unique("Dash P2"))
	p3 := createPartner(t, root, dist.ID, unique("Dash P3"))
	do(t, req{method: "POST", path: "/v1/partners/" + p3.ID + "/suspend", token: root}).expect(t, 200)

	approved := createOrganization(t, root, p1.ID, unique("Dash Approved"))
	deactivated := createOrganization(t, root, p1.ID, unique("Dash Deactivated"))
	do(t, req{method: "POST", path: "/v1/organizations/" + deactivated.ID + "/deactivate", token: root}).expect(t, 200)
	other := createOrganization(t, root, p2.ID, unique("Dash Other"))
	// Pending and rejected come through self-service signup.
	do(t, req{method: "PUT", path: "/v1/partners/" + p1.ID + "/signup", token: root, body: map[string]bool{"enabled": true}}).expect(t, 200)
	for i, decide := range []string{"", "reject"} {
		email := testEmail(fmt.Sprintf("dash-signup-%d", i))
		signUp(t, p1.ID, unique("Dash Signup"), email).expect(t, 202)
		token, _ := verificationToken(t, email)
		var o struct{ OrganizationID string }
		verify(t, token).json(t, &o)
		if decide == "" {
			continue // pending
		}
		do(t, req{method: "POST", path: "/v1/organizations/" + o.OrganizationID + "/reject", token: root, body: map[string]string{"reason": "Not a fit"}}).expect(t, 200)
	}

	c1 := createCompany(t, root, approved.ID, unique("Dash C1"))
	create(t, root, "companies", map[string]any{"organizationId": approved.ID, "name": unique("Dash Shop"), "virtual": true})
	c3 := create(t, root, "companies", map[string]any{"organizationId": other.ID, "name": unique("Dash Other Shop"), "virtual": true})
	cDeact := createCompany(t, root, deactivated.ID, unique("Dash In Deactivated"))
	e1 := createEndUser(t, root, c1.ID, testEmail("dash-e1"))
	e2 := createEndUser(t, root, c1.ID, testEmail("dash-e2"))
	do(t, req{method: "POST", path: "/v1/end-users/" + e2.ID + "/deactivate", token: root}).expect(t, 200)
	createEndUser(t, root, c3.ID, testEmail("dash-e3"))
	createEndUser(t, root, cDeact.ID, testEmail("dash-e4"))

	distTok, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, dist.ID))
	p1Tok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p1.ID))
	p2Tok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p2.ID))
	orgTok, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, approved.ID))
	inviteUser(t, p1Tok, approved.ID, tree.RoleOrganizationAdmin, testEmail("dash-invited"))

	createLicense(t, p1Tok, map[string]any{"nodeId": p1.ID, "type": "partner_development", "name": "Dev"})
	profile := createLicense(t, p1Tok, map[string]any{"nodeId": p1.ID, "type": "partner_profile", "name": "Profile"})
	do(t, req{method: "POST", path: "/v1/licenses/" + profile.ID + "/deactivate", token: p1Tok}).expect(t, 200)
	createLicense(t, p1Tok, map[string]any{"nodeId": approved.ID, "type": "agent", "name": "Old agent",
		"validFrom": "2020-01-01T00:00:00Z", "validUntil": "2021-01-01T00:00:00Z"})
	createLicense(t, root, map[string]any{"nodeId": dist.ID, "type": "partner_profile", "name": "Distributor's"})
	createLicense(t, root, map[string]any{"nodeId": deactivated.ID, "type": "agent", "name": "Swept with its holder"})

	t.Run("every total equals its list, at the distributor, a partner and an organization", func(t *testing.T) {
		eventually(t, 15*time.Second, func() error {
			return totalsMatchLists(t, distTok, dist.ID, map[string]int{
				"partners": 3, "partners.suspended": 1, "partners.active": 2, "organizations": 5, "organizations.pending": 1,
				"organizations.rejected": 1, "organizations.deactivated": 1, "organizations.approved": 2,
				"companies": 4, "companies.virtual": 2, "endUsers": 4, "endUsers.deactivated": 1,
				// The distributor's, the two partners', the organization's and the invited.
				"users": 5, "users.invited": 1, "licenses": 5, "licenses.agent.expired": 1,
				"licenses.partner_profile.inactive": 1, "activeAdmins": 1,
			})
		})
		eventually(t, 10*time.Second, func() error {
			return totalsMatchLists(t, p1Tok, p1.ID, map[string]int{
				"organizations": 4, "companies": 3, "companies.virtual": 1, "endUsers": 3, "users": 3,
				"licenses": 4, "licenses.partner_development.active": 1,
			})
		})
		eventually(t, 10*time.Second, func() error {
			return totalsMatchLists(t, root, approved.ID, map[string]int{
				"companies": 2, "endUsers": 2, "endUsers.active": 1, "users": 2, "licenses": 1, "licenses.agent.expired": 1,
			})
		})
		v := dashboardOf(t, p1Tok, "", nil)
		if _, ok := v["totals"].(map[string]any)["partners"]; ok {
			t.Error("a partner's dashboard counts partners")
		}
		if node := v["node"].(map[string]any); node["id"] != p1.ID || node["kind"] != "partner" {
			t.Errorf("the partner's own dashboard is of %v", node)
		}
		var actions []string
		for _, a := range v["quickActions"].([]any) {
			m := a.(map[string]any)
			actions = append(actions, fmt.Sprint(m["id"], "/", m["licenseType"]))
		}
		want := []string{"create-license/partner_development", "create-license/partner_profile", "create-license/agent", "invite-user/<nil>", "create-organization/<nil>"}
		if !slices.Equal(actions, want) {
			t.Errorf("quick actions %v, want %v", actions, want)
		}
	})

	t.Run("the platform's partners and distributors equal their lists", func(t *testing.T) {
		// The whole platform's partners are one list (a subtree index) for its admin.
		eventually(t, 15*time.Second, func() error {
			totals := totalsOf(dashboardOf(t, root, "platform", nil))
			for _, name := range []string{"distributors", "partners", "partners.active", "partners.suspended"} {
				n, err := listedCount(t, root, totals[name].Href, nil)
				if err != nil {
					return err
				}
				if n != totals[name].Count {
					return fmt.Errorf("platform: totals.%s is %d, %s returns %d", name, totals[name].Count, totals[name].Href, n)
				}
			}
			return nil
		})
		do(t, req{method: "GET", path: "/v1/partners?q=dash", token: root}).problem(t, 400, "validation").field(t, "q")
		do(t, req{method: "GET", path: "/v1/users?subtree=true&q=dash", token: root}).problem(t, 400, "validation").field(t, "q")
	})

	t.Run("who may see which dashboard", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/dashboard?nodeId=" + p1.ID, token: p2Tok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/dashboard?nodeId=" + dist.ID, token: p1Tok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/dashboard", token: orgTok}).problem(t, 403, "forbidden")
		do(t, req{method: "POST", path: "/v1/licenses", token: orgTok, body: map[string]any{"nodeId": approved.ID, "type": "agent", "name": "Mine"}}).problem(t, 403, "forbidden")
		do(t, req{method: "GET", path: "/v1/dashboard?nodeId=" + e1.ID, token: root}).problem(t, 400, "validation").field(t, "nodeId")
		do(t, req{method: "GET", path: "/v1/dashboard?limit=5", token: root}).problem(t, 400, "validation").field(t, "limit")
		do(t, req{method: "GET", path: "/v1/dashboard?nodeId=org_00000000000000000000000000", token: root}).problem(t, 404, "not-found")
	})

	t.Run("a license past validUntil counts as expired without any write", func(t *testing.T) {
		until := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second)
		createLicense(t, p1Tok, map[string]any{"nodeId": approved.ID, "type": "partner_development", "name": "Soon over",
			"validUntil": until.Format(time.RFC3339)})
		eventually(t, 10*time.Second, func() error {
			return totalsMatchLists(t, p1Tok, approved.ID, map[string]int{"licenses.partner_development.active": 1, "licenses.partner_development.expired": 0})
		})
		time.Sleep(time.Until(until) + 50*time.Millisecond)
		if err := totalsMatchLists(t, p1Tok, approved.ID, map[string]int{"licenses.partner_development.active": 0, "licenses.partner_development.expired": 1}); err != nil {
			t.Fatal(err)
		}
		if err := totalsMatchLists(t, distTok, dist.ID, map[string]int{"licenses.partner_development.expired": 1, "licenses.agent.expired": 1}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("login-as: a distributor admin sees the partner's dashboard and creates licenses for it", func(t *testing.T) {
		s := startSession(t, distTok, map[string]any{"nodeId": p1.ID})
		v := dashboardOf(t, distTok, "", actAs(s.ID))
		if v["node"].(map[string]any)["id"] != p1.ID {
			t.Fatalf("acting as the partner, the dashboard is of %v", v["node"])
		}
		from := time.Now().Add(-time.Second)
		res := do(t, req{method: "POST", path: "/v1/licenses", token: distTok, header: actAs(s.ID),
			body: map[string]any{"nodeId": p1.ID, "type": "agent", "name": "Bought for the partner"}})
		res.expect(t, 201)
		var l license
		res.json(t, &l)
		e := auditEntryOf(t, distTok, l.ID, "license.created", from)
		if e.Actor.Impersonator.SessionID != s.ID || e.Actor.Role != string(tree.RolePartnerAdmin) {
			t.Errorf("the license's entry %+v does not name both people", e.Actor)
		}
		do(t, req{method: "GET", path: "/v1/dashboard?nodeId=" + dist.ID, token: distTok, header: actAs(s.ID)}).problem(t, 404, "not-found")
		// With the agent license of the deactivated organization.
		eventually(t, 5*time.Second, func() error {
			return totalsMatchLists(t, p1Tok, p1.ID, map[string]int{"licenses.agent.active": 2})
		})
	})

	t.Run("a create, a status change, a delete and a cascade below move every ancestor within 5 s", func(t *testing.T) {
		at := func(tok, id string) map[string]dashTotal { return totalsOf(dashboardOf(t, tok, id, nil)) }
		ancestors := []struct{ tok, id string }{{root, "platform"}, {distTok, dist.ID}, {p1Tok, p1.ID}, {root, approved.ID}}
		before := make([]map[string]dashTotal, len(ancestors))
		for i, a := range ancestors {
			before[i] = at(a.tok, a.id)
		}
		moved := func(changes map[string]int, only int) {
			t.Helper()
			eventually(t, 5*time.Second, func() error {
				for i, a := range ancestors[:only] {
					now := at(a.tok, a.id)
					for name, d := range changes {
						if now[name].Count != before[i][name].Count+d {
							return fmt.Errorf("%s: %s %d, want %d", a.id, name, now[name].Count, before[i][name].Count+d)
						}
					}
				}
				return nil
			})
			for i, a := range ancestors {
				before[i] = at(a.tok, a.id)
			}
		}
		// AWS gives a record's stream time to the second; DynamoDB Local rounds it down
		// to the minute, so the change's asOf is at or after start's minute.
		start := nodes.Stamp(time.Now().Truncate(time.Minute))
		c := createCompany(t, root, approved.ID, unique("Dash New"))
		moved(map[string]int{"companies": 1}, 4)
		asOfs := map[string]string{}
		for _, a := range ancestors {
			v := dashboardOf(t, a.tok, a.id, nil)
			asOf, readAt := v["asOf"].(string), v["readAt"].(string)
			if asOf < start || asOf > readAt {
				t.Errorf("%s: asOf %s after a change made from %s, read at %s: want the change's stream time", a.id, asOf, start, readAt)
			}
			asOfs[a.id] = asOf
		}
		// Nothing changes in the partner's branch meanwhile (the platform's and the
		// distributor's take other tests' changes): its asOf stays, its readAt moves.
		time.Sleep(1100 * time.Millisecond)
		for _, a := range ancestors[2:] {
			v := dashboardOf(t, a.tok, a.id, nil)
			if v["asOf"] != asOfs[a.id] || v["readAt"].(string) <= asOfs[a.id] {
				t.Errorf("%s: a second later asOf %v (was %s), readAt %v: asOf is the last change's, not the read's", a.id, v["asOf"], asOfs[a.id], v["readAt"])
			}
		}
		do(t, req{method: "POST", path: "/v1/end-users/" + e1.ID + "/deactivate", token: root}).expect(t, 200)
		moved(map[string]int{"endUsers.active": -1, "endUsers.deactivated": 1, "endUsers": 0}, 4)
		do(t, req{method: "DELETE", path: "/v1/companies/" + c.ID, token: root}).expect(t, 204)
		moved(map[string]int{"companies": -1}, 4)
		// The deactivated organization, with a company, an end user and a license,
		// goes by a cascade: only the partner and above hold it.
		do(t, req{method: "DELETE", path: "/v1/organizations/" + deactivated.ID + "?cascade=true", token: root}).expect(t, 202)
		moved(map[string]int{"organizations.deactivated": -1, "companies": -1, "endUsers": -1, "licenses.agent": -1}, 3)
		for _, a := range ancestors[1:3] {
			if err := totalsMatchLists(t, a.tok, a.id, nil); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("replaying the branch's stream records changes nothing", func(t *testing.T) {
		ids := []string{dist.ID, p1.ID, approved.ID}
		before := map[string]map[string]dashTotal{}
		asOf := map[string]any{}
		for _, id := range ids {
			v := dashboardOf(t, root, id, nil)
			before[id], asOf[id] = totalsOf(v), v["asOf"]
		}
		recs := branchRecords(t, dist.ID)
		// The tree counter's own handler, as its queue's adapter runs it.
		counter := &counts.Consumer{Store: st}
		for pass := 0; pass < 2; pass++ {
			for i := 0; i < len(recs); i += 100 {
				batch := events.DynamoDBEvent{Records: recs[i:min(i+100, len(recs))]}
				res, err := counter.Handle(invokeCtx(), batch)
				if err != nil || len(res.BatchItemFailures) > 0 {
					t.Fatalf("replay: %v %+v", err, res)
				}
			}
		}
		for _, id := range ids {
			v := dashboardOf(t, root, id, nil)
			if after := totalsOf(v); !maps.Equal(after, before[id]) {
				t.Errorf("%s after replaying %d records:\n%v\nbefore:\n%v", id, len(recs), after, before[id])
			}
			if v["asOf"] != asOf[id] {
				t.Errorf("%s: asOf %v after the replay, %v before: replayed records are counted already", id, v["asOf"], asOf[id])
			}
		}
		t.Logf("replayed %d stream records of the branch twice", len(recs))
	})

	t.Run("a node with nothing counted below it is as of its creation", func(t *testing.T) {
		o := createOrganization(t, root, p1.ID, unique("Dash Empty"))
		var got struct{ CreatedAt string }
		do(t, req{method: "GET", path: "/v1/organizations/" + o.ID, token: root}).json(t, &got)
		v := dashboardOf(t, root, o.ID, nil)
		if got.CreatedAt == "" || v["asOf"] != got.CreatedAt {
			t.Errorf("asOf %v, want the organization's createdAt %q", v["asOf"], got.CreatedAt)
		}
		if readAt, _ := v["readAt"].(string); readAt < got.CreatedAt {
			t.Errorf("readAt %q before the organization was created (%s)", readAt, got.CreatedAt)
		}
	})
}

// branchRecords reads the table's stream from its oldest record and keeps, as the
// stream router would send them to the tree counter (its Match and its projection of
// the images, shared/consumers), the records of the items in the subtree of ancestor
// (its nodes, console users and licenses), in stream order.
func branchRecords(t *testing.T, ancestor string) []events.DynamoDBEventRecord {
	t.Helper()
	tc, ok := consumers.Named("tree-counter")
	if !ok {
		t.Fatal("the router's table has no tree-counter")
	}
	var mu sync.Mutex
	var recs []events.DynamoDBEventRecord
	last := time.Now()
	handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			if !tc.Match(r) {
				continue
			}
			m, err := tc.Encode(r)
			if err == nil {
				r, err = consumers.Decode(m.Body)
			}
			if err != nil {
				return events.DynamoDBEventResponse{}, err
			}
			img := r.Change.NewImage
			if img == nil {
				img = r.Change.OldImage
			}
			var line []string
			for _, attr := range []string{"path", "nodePath"} {
				if v, ok := img[attr]; ok && v.DataType() == events.DataTypeList {
					for _, e := range v.List() {
						line = append(line, e.String())
					}
				}
			}
			if slices.Contains(line, ancestor) {
				recs = append(recs, r)
			}
		}
		last = time.Now()
		return events.DynamoDBEventResponse{}, nil
	}
	client := dynamodbstreams.NewFromConfig(local.AWSConfig(), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(sys.Services.DynamoDBURL)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- streams.Run(ctx, client, nil, streams.Mapping{
			Function: "tree-counter-replay", StreamARN: sys.Resources.StreamARN, BatchSize: 100,
			StartingPosition: "TRIM_HORIZON", ReportBatchItemFailures: true,
		}, handler, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	}()
	// The stream is read to its end when no batch has come for a while.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		mu.Lock()
		quiet := time.Since(last) > 2*time.Second && len(recs) > 0
		mu.Unlock()
		if quiet || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(recs)
}
