package e2e

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/audit"
	"opsconsole/shared/auditexport"
	"opsconsole/shared/tree"
)

type exportView struct {
	ID, Status, NodeID, Format, Reason, URL string
	Count                                   int
}

// seedSpread writes n entries into node's audit partition one second apart, starting
// two hours ago (whole seconds), so that a range in whole seconds cuts them exactly
// and no live entry (the node's creation, the export's own record) falls inside it.
func seedSpread(t *testing.T, node string, n int, entry func(i int) audit.Entry) time.Time {
	t.Helper()
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	var reqs []types.WriteRequest
	for i := range n {
		e := entry(i)
		e.ID = fmt.Sprintf("XSEED%021d", i)
		e.At = base.Add(time.Duration(i) * time.Second).Format(audit.TimeFormat)
		items, err := audit.Items(e, []string{node}, audit.DefaultEntryRetention)
		if err != nil {
			t.Fatal(err)
		}
		// The node's partition only: the export reads nothing else.
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: items[0]}})
		if len(reqs) == 25 {
			if err := batchWrite(reqs); err != nil {
				t.Fatal(err)
			}
			reqs = nil
		}
	}
	if len(reqs) > 0 {
		if err := batchWrite(reqs); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

// listAll pages through GET /v1/audit-logs with query and returns the entries,
// oldest first (the list is newest first; the export oldest first).
func listAll(t *testing.T, token, query string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	q := query
	for range 1000 {
		var p struct {
			Items      []audit.Entry `json:"items"`
			NextCursor *string       `json:"nextCursor"`
		}
		do(t, req{method: "GET", path: "/v1/audit-logs?" + q, token: token}).json(t, &p)
		out = append(out, p.Items...)
		if p.NextCursor == nil {
			slices.Reverse(out)
			return out
		}
		q = query + "&cursor=" + urlq(*p.NextCursor)
	}
	t.Fatal("too many pages")
	return nil
}

// runExport starts an export and follows it until it is done; it answers the export
// and the downloaded file.
func runExport(t testing.TB, token string, body map[string]any) (exportView, []byte) {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/audit-logs/exports", token: token, body: body})
	res.expect(t, 202)
	var ex exportView
	res.json(t, &ex)
	if ex.Status != auditexport.StatusPending || ex.ID == "" {
		t.Fatalf("created %+v", ex)
	}
	if loc := res.Header.Get("Location"); loc != "/v1/audit-logs/exports/"+ex.ID {
		t.Errorf("Location %q", loc)
	}
	deadline := time.Now().Add(60 * time.Second)
	for ex.Status != auditexport.StatusDone {
		if ex.Status == auditexport.StatusFailed || time.Now().After(deadline) {
			t.Fatalf("export %+v", ex)
		}
		time.Sleep(100 * time.Millisecond)
		do(t, req{method: "GET", path: "/v1/audit-logs/exports/" + ex.ID, token: token}).json(t, &ex)
	}
	if ex.URL == "" {
		t.Fatalf("done without a url: %+v", ex)
	}
	// The presigned link, straight to S3 (moto on loopback): no token.
	got, err := http.Get(ex.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	file, err := io.ReadAll(got.Body)
	if err != nil || got.StatusCode != 200 {
		t.Fatalf("download: %d %v %s", got.StatusCode, err, file)
	}
	return ex, file
}

// TestAuditExportsHoldExactlyTheList: an export in either format holds exactly the
// entries that paging through the list with the same range and filters gives, oldest
// first; its count says so; it is audited (audit.exported, naming the caller); and
// outsiders and bad requests are refused.
func TestAuditExportsHoldExactlyTheList(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Export D"))
	p := createPartner(t, root, d.ID, unique("Export P"))
	org := createOrganization(t, root, p.ID, unique("Export Org"))
	tok, uid := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p.ID))

	actions := []string{"company.created", "company.updated", "user.invited", "organization.updated"}
	base := seedSpread(t, org.ID, 400, func(i int) audit.Entry {
		e := audit.Entry{
			Actor:     audit.Actor{UserID: fmt.Sprintf("usr-%d", i%3), Email: fmt.Sprintf("u%d@example.com", i%3), Role: "organization_admin"},
			Action:    actions[i%len(actions)],
			Target:    audit.Target{Type: "company", ID: fmt.Sprintf("cmp_%026d", i%7), Name: fmt.Sprintf(`Name, "quoted" %d`, i)},
			Changes:   []audit.FieldChange{{Field: "name", Before: nil, After: fmt.Sprintf("n%d\nline", i)}},
			RequestID: fmt.Sprintf("req-%d", i), SourceIP: "192.0.2.1", UserAgent: "e2e/1.0",
		}
		if i%5 == 0 {
			e.Actor.Impersonator = &audit.Impersonator{UserID: "usr-1", Role: "partner_admin"}
		}
		return e
	})
	from := base.Add(37 * time.Second).Format(time.RFC3339)
	to := base.Add(311 * time.Second).Format(time.RFC3339)

	cases := []struct {
		name    string
		filters map[string]string
	}{
		{"range", map[string]string{"from": from, "to": to}},
		{"range, action prefix and actor", map[string]string{"from": from, "to": to, "action": "company.", "actorId": "usr-1"}},
		{"exact action and target type, no range", map[string]string{"action": "user.invited", "targetType": "company"}},
	}
	for _, c := range cases {
		query := "nodeId=" + org.ID + "&limit=100"
		body := map[string]any{"nodeId": org.ID}
		for k, v := range c.filters {
			query += "&" + k + "=" + urlq(v)
			body[k] = v
		}
		want := listAll(t, tok, query)
		if c.filters["from"] != "" && len(want) == 0 {
			t.Fatalf("%s: the list is empty", c.name)
		}
		t.Run(c.name+"/ndjson", func(t *testing.T) {
			body["format"] = "ndjson"
			ex, file := runExport(t, tok, body)
			var got []audit.Entry
			sc := bufio.NewScanner(bytes.NewReader(file))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var e audit.Entry
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				got = append(got, e)
			}
			wantJSON, _ := json.Marshal(want)
			gotJSON, _ := json.Marshal(got)
			if !bytes.Equal(wantJSON, gotJSON) {
				t.Fatalf("the file holds %d entries, the list %d:\n%s\n%s", len(got), len(want), gotJSON, wantJSON)
			}
			if ex.Count != len(want) {
				t.Errorf("count %d, want %d", ex.Count, len(want))
			}
		})
		t.Run(c.name+"/csv", func(t *testing.T) {
			body["format"] = "csv"
			ex, file := runExport(t, tok, body)
			rows, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			wantRows := [][]string{auditexport.CSVColumns}
			for _, e := range want {
				r, err := auditexport.CSVRow(e)
				if err != nil {
					t.Fatal(err)
				}
				wantRows = append(wantRows, r)
			}
			if !slices.EqualFunc(rows, wantRows, slices.Equal[[]string]) {
				t.Fatalf("the file has %d rows, want %d (header included):\n%q\n%q", len(rows), len(wantRows), rows, wantRows)
			}
			if ex.Count != len(want) {
				t.Errorf("count %d, want %d", ex.Count, len(want))
			}
		})
	}

	t.Run("audited, naming the caller", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			es := listAll(t, tok, "nodeId="+org.ID+"&action=audit.exported")
			for _, e := range es {
				if e.Actor.UserID == uid && e.Target.Type == auditexport.TargetType && e.Target.Name == org.ID {
					return nil
				}
			}
			return fmt.Errorf("no audit.exported entry by %s among %d", uid, len(es))
		})
	})

	t.Run("outside the branch is 404", func(t *testing.T) {
		other := createDistributor(t, root, unique("Export Other"))
		outsider, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, other.ID))
		do(t, req{method: "POST", path: "/v1/audit-logs/exports", token: outsider,
			body: map[string]any{"nodeId": org.ID, "format": "csv"}}).problem(t, 404, "not-found")
		ex, _ := runExport(t, tok, map[string]any{"nodeId": org.ID, "format": "csv", "from": from, "to": from})
		do(t, req{method: "GET", path: "/v1/audit-logs/exports/" + ex.ID, token: outsider}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/audit-logs/exports/exp_01JH4M3K9V2C8X7R6T5Y4W3Q2P", token: tok}).problem(t, 404, "not-found")
	})

	t.Run("bad requests are 400", func(t *testing.T) {
		for name, c := range map[string]struct {
			body  map[string]any
			field string
		}{
			"from after to":  {map[string]any{"format": "csv", "from": to, "to": from}, "from"},
			"unknown format": {map[string]any{"format": "xml"}, "format"},
			"no format":      {map[string]any{"nodeId": org.ID}, "format"},
			"bad action":     {map[string]any{"format": "csv", "action": "Bad Action"}, "action"},
			"a null filter":  {map[string]any{"format": "csv", "to": nil}, "to"},
		} {
			t.Run(name, func(t *testing.T) {
				do(t, req{method: "POST", path: "/v1/audit-logs/exports", token: tok, body: c.body}).problem(t, 400, "validation").field(t, c.field)
			})
		}
	})
}

// TestAuditExportLargeFileIsMultipart: a file larger than a part (8 MiB) leaves as a
// multipart upload, which moto assembles; the file holds every entry, in order.
func TestAuditExportLargeFileIsMultipart(t *testing.T) {
	const n = 20000
	root := admin(t)
	d := createDistributor(t, root, unique("Export Big"))
	pad := strings.Repeat("p", 600)
	seedSpread(t, d.ID, n, func(i int) audit.Entry {
		return audit.Entry{Action: "distributor.updated", Target: audit.Target{Type: "distributor", ID: d.ID},
			Actor:   audit.Actor{UserID: "usr-big", Role: "platform_admin"},
			Changes: []audit.FieldChange{{Field: "notes", Before: nil, After: pad}}}
	})
	ex, file := runExport(t, root, map[string]any{"nodeId": d.ID, "format": "ndjson", "actorId": "usr-big"})
	if len(file) <= auditexport.DefaultPartSize {
		t.Fatalf("the file has %d bytes, not more than a part (%d): the test proves nothing", len(file), auditexport.DefaultPartSize)
	}
	lines := bytes.Split(bytes.TrimSuffix(file, []byte("\n")), []byte("\n"))
	if ex.Count != n || len(lines) != n {
		t.Fatalf("count %d, %d lines, want %d", ex.Count, len(lines), n)
	}
	for i, l := range lines {
		var e audit.Entry
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if want := fmt.Sprintf("XSEED%021d", i); e.ID != want {
			t.Fatalf("line %d is %s, want %s (oldest first)", i, e.ID, want)
		}
	}
}
