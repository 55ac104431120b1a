package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/audit"
)

// putAuditEntry writes one entry into node's log as the audit writer stores it
// (audit.Items: its shard for a sharded log), with the id and time given.
func putAuditEntry(t *testing.T, node, id string, at time.Time, action string) {
	t.Helper()
	e := audit.Entry{ID: id, At: at.UTC().Format(audit.TimeFormat), Action: action,
		Actor: audit.Actor{UserID: "user-shards", Role: "platform_admin"}, Target: audit.Target{Type: "distributor", ID: node},
		Changes: []audit.FieldChange{}}
	items, err := audit.Items(e, []string{node}, audit.DefaultEntryRetention)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutIf(t0(), items[0], nil); err != nil {
		t.Fatal(err)
	}
}

// partitionCounts counts the items of each partition of node's log.
func partitionCounts(t *testing.T, node string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, pk := range audit.LogPartitions(node) {
		var start map[string]types.AttributeValue
		for {
			res, err := st.DB.Query(t0(), &dynamodb.QueryInput{
				TableName: &st.Table, KeyConditionExpression: aws.String("PK = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
				Select:                    types.SelectCount, ExclusiveStartKey: start,
			})
			if err != nil {
				t.Fatal(err)
			}
			out[pk] += int(res.Count)
			if start = res.LastEvaluatedKey; start == nil {
				break
			}
		}
	}
	return out
}

// TestAuditLogShardedPaging: a distributor's log is split over audit.LogShards
// partitions; GET /v1/audit-logs pages through it newest first with every entry once,
// in order, in pages of 1, 2 and 100, also while entries are written between pages:
// one newer than the walk's start (behind its cursor) is not on it, one older than
// every entry (ahead of the cursor, as a late arrival is) is on it once, whichever
// shard holds it: exactly what one partition gives. Filtered pages (an action prefix)
// keep the same order and find every match once.
func TestAuditLogShardedPaging(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Shards D"))
	base := time.Now().UTC().Add(-2 * time.Hour)
	for i := range 240 {
		action := "distributor.updated"
		if i%20 == 7 {
			action = "test.sharded"
		}
		putAuditEntry(t, d.ID, fmt.Sprintf("01KSHARD%018d", i), base.Add(time.Duration(i)*time.Second), action)
	}
	scope := "&nodeId=" + d.ID
	ids := func(es []auditEntry) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.ID
		}
		return out
	}
	var reference []auditEntry
	eventually(t, 10*time.Second, func() error {
		// The distributor's own creation (written by the audit writer) with the 240.
		if reference = entriesOf(auditPages(t, root, "limit=100"+scope)); len(reference) != 241 {
			return fmt.Errorf("%d entries, want 241", len(reference))
		}
		return nil
	})
	t.Run("the entries are spread over the shards; the unsharded partition holds none", func(t *testing.T) {
		counts := partitionCounts(t, d.ID)
		used := 0
		for pk, n := range counts {
			if pk == "AUDIT#"+d.ID && n != 0 {
				t.Errorf("the unsharded partition holds %d entries", n)
			}
			if n > 0 {
				used++
			}
		}
		if used != audit.LogShards {
			t.Fatalf("%d of %d shards hold entries: %v", used, audit.LogShards, counts)
		}
	})
	t.Run("the reference walk is newest first, each entry once", func(t *testing.T) {
		for i := 1; i < len(reference); i++ {
			if a, b := reference[i-1], reference[i]; a.At+"#"+a.ID <= b.At+"#"+b.ID {
				t.Fatalf("entry %d (%s %s) is not older than entry %d (%s %s)", i, b.At, b.ID, i-1, a.At, a.ID)
			}
		}
	})
	for k, limit := range []int{1, 2, 100} {
		t.Run(fmt.Sprintf("pages of %d, with entries written between pages", limit), func(t *testing.T) {
			want := ids(entriesOf(auditPages(t, root, "limit=100"+scope)))
			var older []string
			query := fmt.Sprintf("limit=%d%s", limit, scope)
			q := query
			var got []string
			for page := 0; ; page++ {
				if page > 400 {
					t.Fatal("more than 400 pages")
				}
				var p auditPageOf
				do(t, req{method: "GET", path: "/v1/audit-logs?" + q, token: root}).json(t, &p)
				if len(p.Items) > limit || p.NextCursor != nil && len(p.Items) < limit || p.StoppedEarly {
					t.Fatalf("page %d: %d entries of %d, stoppedEarly %v", page, len(p.Items), limit, p.StoppedEarly)
				}
				got = append(got, ids(p.Items)...)
				if p.NextCursor == nil {
					break
				}
				q = query + "&cursor=" + urlq(*p.NextCursor)
				if page < 3 {
					newer := fmt.Sprintf("01KNEWER%d%017d", k, page)
					putAuditEntry(t, d.ID, newer, time.Now(), "distributor.updated")
					old := fmt.Sprintf("01KOLDER%d%017d", k, page)
					putAuditEntry(t, d.ID, old, base.Add(-time.Duration(10*k+page+1)*time.Minute), "distributor.updated")
					older = append(older, old)
				}
			}
			// The older ones come last, the oldest (the latest written) at the end.
			want = append(want, older...)
			if !slices.Equal(got, want) {
				t.Fatalf("walk of %d entries, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
	t.Run("an action prefix, pages of 2: the matches once, newest first", func(t *testing.T) {
		var want []string
		for _, e := range reference {
			if e.Action == "test.sharded" {
				want = append(want, e.ID)
			}
		}
		pages := auditPages(t, root, "limit=2&action=test."+scope)
		for i, p := range pages {
			if i < len(pages)-1 && len(p.Items) < 2 && !p.StoppedEarly {
				t.Fatalf("page %d holds %d entries and does not say it stopped early", i, len(p.Items))
			}
		}
		if got := ids(entriesOf(pages)); !slices.Equal(got, want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
	})
}
