package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"opsconsole/infra/local/localtest"
	"opsconsole/shared/audit"
	"opsconsole/shared/auditdigest"
	"opsconsole/shared/auditverify"
	"opsconsole/shared/tree"
)

// digestPeriod is the local system's AUDIT_DIGEST_PERIOD.
func digestPeriod(t *testing.T) time.Duration {
	d, err := time.ParseDuration(localtest.Env()["AUDIT_DIGEST_PERIOD"])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type digestPage struct {
	Items      []auditdigest.Digest `json:"items"`
	NextCursor *string              `json:"nextCursor"`
}

// putLateChange writes a change record whose time lies periods back, as a function
// whose record the stream delivered late would have: the writer stamps its arrival
// now, in a later period than its time. (DynamoDB Streams cannot be made to deliver
// late on demand; the record itself is what the functions write.)
func putLateChange(t *testing.T, at time.Time, orgID string, scope []string) audit.Entry {
	t.Helper()
	e := audit.Entry{
		ID: ulid.Make().String(), At: at.UTC().Format(audit.TimeFormat),
		Actor:  audit.Actor{UserID: "usr-late", Role: "partner_admin"},
		Action: "organization.updated", Target: audit.Target{Type: "organization", ID: orgID, Name: "late"},
		Changes: []audit.FieldChange{{Field: "name", Before: "a", After: "b"}},
	}
	rec := struct {
		PK          string `dynamodbav:"PK"`
		SK          string `dynamodbav:"SK"`
		Type        string `dynamodbav:"type"`
		audit.Entry `dynamodbav:",inline"`
		Scope       []string `dynamodbav:"scope"`
		ExpiresAt   int64    `dynamodbav:"expiresAt"`
	}{"CHANGE#" + e.ID, "CHANGE", audit.ChangeType, e, scope, time.Now().Add(time.Hour).Unix()}
	if err := st.PutIf(t0(), rec, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAuditDigestsVerify is issue 13's done-when for integrity: an organization's log,
// written through the API over several digest periods plus one entry that arrives
// late, is covered by chained, signed digests; an export in each format whose range
// cuts a period at both ends verifies (`audit-verify` prints ok); and the verifier
// names the entry when one byte of it changes, when one is removed and when one is
// inserted.
func TestAuditDigestsVerify(t *testing.T) {
	period := digestPeriod(t)
	root := admin(t)
	d := createDistributor(t, root, unique("Digest D"))
	p := createPartner(t, root, d.ID, unique("Digest P"))
	org := createOrganization(t, root, p.ID, unique("Digest Org"))
	tok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p.ID))

	// Three bursts of changes, a period apart.
	for burst := range 3 {
		for i := range 3 {
			do(t, req{method: "PATCH", path: "/v1/organizations/" + org.ID, token: tok,
				body: map[string]any{"name": unique(fmt.Sprintf("Digest Org %d-%d", burst, i))}}).expect(t, 200)
		}
		time.Sleep(period)
	}
	var all []audit.Entry
	eventually(t, 20*time.Second, func() error {
		if all = listAll(t, tok, "nodeId="+org.ID+"&limit=100"); len(all) < 10 {
			return fmt.Errorf("%d entries", len(all))
		}
		return nil
	})
	// The range starts at the second entry of the first burst and ends at the first of
	// the last one: entries of those periods lie outside it on both sides.
	from, to := all[2].At, all[len(all)-3].At
	// A late one: its time inside the range, in the first burst's period; it arrives
	// now, periods later.
	lateAt, _ := time.Parse(audit.TimeFormat, all[2].At)
	late := putLateChange(t, lateAt.Add(time.Millisecond), org.ID, nodeOf(t, org.ID).Node().Lineage())

	var digests digestPage
	eventually(t, 30*time.Second, func() error {
		all = listAll(t, tok, "nodeId="+org.ID+"&limit=100")
		digests = digestPage{}
		do(t, req{method: "GET", path: "/v1/audit-logs/digests?limit=100&nodeId=" + org.ID, token: tok}).json(t, &digests)
		n := 0
		for _, d := range digests.Items {
			n += d.Count
		}
		if n != len(all) {
			return fmt.Errorf("the digests cover %d of %d entries", n, len(all))
		}
		for _, e := range all {
			if e.ID == late.ID {
				return nil
			}
		}
		return fmt.Errorf("the late entry has not arrived yet")
	})
	t.Run("chained: each digest names its predecessor's hash, the first none", func(t *testing.T) {
		if len(digests.Items) < 3 {
			t.Fatalf("%d digests for three periods and a late entry", len(digests.Items))
		}
		for i, d := range digests.Items {
			if i == 0 {
				if d.PreviousPeriodStart != nil || d.PreviousHash != nil {
					t.Errorf("the first digest names a previous one: %+v", d)
				}
				continue
			}
			prev := digests.Items[i-1]
			if d.PreviousPeriodStart == nil || *d.PreviousPeriodStart != prev.PeriodStart || *d.PreviousHash != prev.Hash() {
				t.Errorf("digest %d does not chain to %d: %+v", i, i-1, d)
			}
		}
	})

	dir := t.TempDir()
	body, _ := json.Marshal(digests)
	digestsFile := filepath.Join(dir, "digests.json")
	keyFile := filepath.Join(dir, "key.pem")
	key := do(t, req{method: "GET", path: "/v1/audit-logs/public-key", token: tok})
	key.expect(t, 200)
	os.WriteFile(digestsFile, body, 0o600)
	os.WriteFile(keyFile, key.Body, 0o600)
	fromQ, toQ := rfc3339(t, from), rfc3339(t, to)

	_, ndjson := runExport(t, tok, map[string]any{"nodeId": org.ID, "format": "ndjson", "from": fromQ, "to": toQ})
	_, csvFile := runExport(t, tok, map[string]any{"nodeId": org.ID, "format": "csv", "from": fromQ, "to": toQ})
	lines := strings.Split(strings.TrimSuffix(string(ndjson), "\n"), "\n")
	if len(lines) >= len(all) {
		t.Fatalf("the export holds %d of %d entries: the range cuts nothing", len(lines), len(all))
	}

	t.Run("the late entry is proven by its arrival's digest", func(t *testing.T) {
		found := false
		for _, l := range lines {
			var v struct {
				ID    string            `json:"id"`
				Proof auditdigest.Proof `json:"proof"`
			}
			json.Unmarshal([]byte(l), &v)
			if v.ID == late.ID {
				found = true
				own := audit.PeriodStart(lateAt, period).Format(audit.TimeFormat)
				if v.Proof.PeriodStart <= own {
					t.Errorf("the late entry of period %s is proven by the digest of %s", own, v.Proof.PeriodStart)
				}
			}
		}
		if !found {
			t.Fatal("the late entry is not in the export")
		}
	})

	t.Run("audit-verify says ok for the NDJSON export", func(t *testing.T) {
		exportFile := filepath.Join(dir, "export.ndjson")
		os.WriteFile(exportFile, ndjson, 0o600)
		out, err := exec.Command("go", "run", "../cmd/audit-verify", "-export", exportFile, "-digests", digestsFile, "-key", keyFile).CombinedOutput()
		if err != nil || !bytes.HasPrefix(out, []byte("ok\n")) {
			t.Fatalf("audit-verify: %v\n%s", err, out)
		}
	})
	verify := func(file []byte) error {
		_, err := auditverify.Verify(bytes.NewReader(file), [][]byte{body}, key.Body)
		return err
	}
	t.Run("and for the CSV export", func(t *testing.T) {
		if err := verify(csvFile); err != nil {
			t.Fatal(err)
		}
	})
	entryOf := func(line string) string {
		var v struct{ ID string }
		json.Unmarshal([]byte(line), &v)
		return v.ID
	}
	join := func(ls []string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }
	t.Run("one byte changed: named", func(t *testing.T) {
		ls := append([]string{}, lines...)
		ls[1] = strings.Replace(ls[1], `"action":"organization.`, `"action":"organization_`, 1)
		err := verify(join(ls))
		if want := "line 2 (entry " + entryOf(lines[1]) + "): changed"; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
	})
	t.Run("one removed: named, wherever it was", func(t *testing.T) {
		for i := range lines {
			ls := append(append([]string{}, lines[:i]...), lines[i+1:]...)
			err := verify(join(ls))
			if i == 0 || i == len(lines)-1 {
				// The export's own first and last: a narrower range (README).
				continue
			}
			if err == nil || !strings.Contains(err.Error(), "removed") {
				t.Errorf("line %d (entry %s) removed: got %v, want a removal", i+1, entryOf(lines[i]), err)
			}
		}
	})
	t.Run("one inserted: named", func(t *testing.T) {
		ls := append(append(append([]string{}, lines[:2]...), lines[1]), lines[2:]...)
		err := verify(join(ls))
		if want := "line 3 (entry " + entryOf(lines[1]) + "): inserted"; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
	})

	t.Run("a sharded log (the distributor's) verifies end to end", func(t *testing.T) {
		// The same changes, with the distributor's and partner's own, are in the
		// distributor's log, spread over its shards: each digest covers a node-period
		// across all of them.
		var dAll []audit.Entry
		var dd digestPage
		eventually(t, 30*time.Second, func() error {
			dAll = listAll(t, root, "nodeId="+d.ID+"&limit=100")
			dd = digestPage{}
			do(t, req{method: "GET", path: "/v1/audit-logs/digests?limit=100&nodeId=" + d.ID, token: root}).json(t, &dd)
			n := 0
			for _, dg := range dd.Items {
				n += dg.Count
			}
			if n != len(dAll) {
				return fmt.Errorf("the digests cover %d of %d entries", n, len(dAll))
			}
			return nil
		})
		used := 0
		for _, n := range partitionCounts(t, d.ID) {
			if n > 0 {
				used++
			}
		}
		if used < 2 {
			t.Fatalf("the distributor's %d entries are in %d partition", len(dAll), used)
		}
		dBody, _ := json.Marshal(dd)
		_, file := runExport(t, root, map[string]any{"nodeId": d.ID, "format": "ndjson", "from": fromQ, "to": toQ})
		rep, err := auditverify.Verify(bytes.NewReader(file), [][]byte{dBody}, key.Body)
		if err != nil {
			t.Fatal(err)
		}
		ls := strings.Split(strings.TrimSuffix(string(file), "\n"), "\n")
		if rep.Entries != len(ls) || len(ls) < 3 {
			t.Fatalf("verified %d entries of %d lines", rep.Entries, len(ls))
		}
		cut := append(append([]string{}, ls[:1]...), ls[2:]...)
		if _, err := auditverify.Verify(bytes.NewReader(join(cut)), [][]byte{dBody}, key.Body); err == nil || !strings.Contains(err.Error(), "removed") {
			t.Fatalf("a removed entry: got %v", err)
		}
	})

	// The routes' authorization cells: own node, descendant, ancestor, sibling, other
	// branch (as the audit log's).
	t.Run("branch rules", func(t *testing.T) {
		orgAdmin, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, org.ID))
		sibling := createPartner(t, root, d.ID, unique("Digest Sibling"))
		sibTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, sibling.ID))
		other := createDistributor(t, root, unique("Digest Other"))
		otherTok, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, other.ID))
		path := "/v1/audit-logs/digests?nodeId="
		var pg digestPage
		do(t, req{method: "GET", path: path + org.ID, token: orgAdmin}).json(t, &pg) // own node
		if len(pg.Items) == 0 {
			t.Error("the organization's admin sees no digest of its log")
		}
		do(t, req{method: "GET", path: path + org.ID, token: tok}).expect(t, 200)                  // descendant
		do(t, req{method: "GET", path: path + p.ID, token: orgAdmin}).problem(t, 404, "not-found") // ancestor
		do(t, req{method: "GET", path: path + org.ID, token: sibTok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: path + org.ID, token: otherTok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/audit-logs/digests?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", token: tok}).problem(t, 400, "validation")
		do(t, req{method: "GET", path: "/v1/audit-logs/public-key", token: orgAdmin}).expect(t, 200)
		cmp := createCompany(t, root, org.ID, unique("Digest Cmp"))
		eu := createEndUser(t, root, cmp.ID, fmt.Sprintf("digest-%d@example.com", time.Now().UnixNano()))
		endUser, _ := userAt(t, tree.RoleEndUser, nodeOf(t, eu.ID))
		do(t, req{method: "GET", path: "/v1/audit-logs/public-key", token: endUser}).problem(t, 403, "forbidden")
		do(t, req{method: "GET", path: path + org.ID, token: endUser}).problem(t, 403, "forbidden")
	})
}

func rfc3339(t *testing.T, at string) string {
	v, err := time.Parse(audit.TimeFormat, at)
	if err != nil {
		t.Fatal(err)
	}
	return v.Format(time.RFC3339Nano)
}
