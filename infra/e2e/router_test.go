package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/audit"
	"opsconsole/shared/counts"
	"opsconsole/shared/store"
)

// sampleChange is the change record of events/stream-change-record.json as an item,
// with a fresh id, target and scope.
func sampleChange(t testing.TB, id, dist string) store.Item {
	t.Helper()
	raw, err := os.ReadFile("../../events/stream-change-record.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	img := ev.Records[0].Change.NewImage
	it := store.Item{}
	for k, v := range img {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var av map[string]any
		_ = json.Unmarshal(b, &av)
		it[k] = toAV(t, av)
	}
	it["PK"] = &types.AttributeValueMemberS{Value: "CHANGE#" + id}
	it["id"] = &types.AttributeValueMemberS{Value: id}
	it["target"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"type": &types.AttributeValueMemberS{Value: "distributor"}, "id": &types.AttributeValueMemberS{Value: dist},
		"name": &types.AttributeValueMemberS{Value: "Oversized"}}}
	it["scope"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: dist}}}
	return it
}

// toAV turns DynamoDB JSON into an attribute value (the sample's few types).
func toAV(t testing.TB, v map[string]any) types.AttributeValue {
	t.Helper()
	for k, x := range v {
		switch k {
		case "S":
			return &types.AttributeValueMemberS{Value: x.(string)}
		case "N":
			return &types.AttributeValueMemberN{Value: x.(string)}
		case "M":
			m := map[string]types.AttributeValue{}
			for mk, mv := range x.(map[string]any) {
				m[mk] = toAV(t, mv.(map[string]any))
			}
			return &types.AttributeValueMemberM{Value: m}
		case "L":
			var l []types.AttributeValue
			for _, e := range x.([]any) {
				l = append(l, toAV(t, e.(map[string]any)))
			}
			return &types.AttributeValueMemberL{Value: l}
		}
	}
	t.Fatalf("unexpected attribute %v", v)
	return nil
}

// auditEntries counts the audit entries of change id in node's log, in every
// partition of it (a distributor's log is sharded).
func auditEntries(node, id string) (int, error) {
	n := 0
	for _, pk := range audit.LogPartitions(node) {
		out, err := st.DB.Query(context.Background(), &dynamodb.QueryInput{
			TableName:              &st.Table,
			KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :at)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: pk},
				// The sample's time, then the change's id.
				":at": &types.AttributeValueMemberS{Value: "2026-11-22T10:00:00.000Z#" + id},
			},
		})
		if err != nil {
			return 0, err
		}
		n += len(out.Items)
	}
	return n, nil
}

// TestStreamRouterOversizedRecord: a change record whose stream record is over SQS's
// 1 MiB (an item of 300 KB, but 150,000 booleans are 2.1 MB of DynamoDB JSON) reaches
// the audit writer without its image, which reads it again: its entry is written
// once, like any other's.
func TestStreamRouterOversizedRecord(t *testing.T) {
	id, dist := fmt.Sprintf("01KOVERSIZE%015d", time.Now().UnixNano()%1e15), fmt.Sprintf("dst_oversize%d", time.Now().UnixNano())
	it := sampleChange(t, id, dist)
	pad := make([]types.AttributeValue, 150_000)
	for i := range pad {
		pad[i] = &types.AttributeValueMemberBOOL{Value: i%2 == 0}
	}
	it["padding"] = &types.AttributeValueMemberL{Value: pad}
	if _, err := st.DB.PutItem(t0(), &dynamodb.PutItemInput{TableName: &st.Table, Item: it}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		n, err := auditEntries(dist, id)
		if err != nil || n != 1 {
			return fmt.Errorf("%d entries of the oversized change in %s (%v), want 1", n, dist, err)
		}
		return nil
	})
}

// BenchmarkStreamRouterDelay measures the delay from a write to the consumer's
// effect through the local stream router and queues: a node item put straight into
// the table, until the tree counter has counted it under its parent (polled every
// 5 ms), and a change record until the audit writer's entry is there; 100 of each,
// one at a time, per round (a round takes about two minutes, so `make bench` runs
// one). The figures go to docs/streams.md.
func BenchmarkStreamRouterDelay(b *testing.B) {
	for range b.N {
		c, w := streamRouterDelay(b, 100)
		b.ReportMetric(float64(pct(c, 0.5).Milliseconds()), "counter-p50-ms")
		b.ReportMetric(float64(pct(c, 0.99).Milliseconds()), "counter-p99-ms")
		b.ReportMetric(float64(pct(w, 0.5).Milliseconds()), "audit-p50-ms")
		b.ReportMetric(float64(pct(w, 0.99).Milliseconds()), "audit-p99-ms")
	}
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))].Round(time.Millisecond)
}

func streamRouterDelay(t testing.TB, n int) (counter, writer []time.Duration) {
	parent := fmt.Sprintf("ptn_delay%d", time.Now().UnixNano())
	putNode := func(id, kind, parentID string) {
		t.Helper()
		it := store.Item{
			"PK": &types.AttributeValueMemberS{Value: "NODE#" + id}, "SK": &types.AttributeValueMemberS{Value: "NODE"},
			"type": &types.AttributeValueMemberS{Value: "node"}, "id": &types.AttributeValueMemberS{Value: id},
			"kind": &types.AttributeValueMemberS{Value: kind}, "parentId": &types.AttributeValueMemberS{Value: parentID},
			"status": &types.AttributeValueMemberS{Value: "active"}, "version": &types.AttributeValueMemberN{Value: "1"},
			"name": &types.AttributeValueMemberS{Value: id},
		}
		if _, err := st.DB.PutItem(t0(), &dynamodb.PutItemInput{TableName: &st.Table, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	putNode(parent, "partner", "dst_delay")
	wait := func(done func() (bool, error)) time.Duration {
		t.Helper()
		began := time.Now()
		for {
			ok, err := done()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return time.Since(began)
			}
			if time.Since(began) > 30*time.Second {
				t.Fatal("no effect within 30 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	before := sys.QueueStats()
	for i := range n {
		began := time.Now()
		putNode(fmt.Sprintf("org_delay%d_%03d", began.UnixNano(), i), "organization", parent)
		counter = append(counter, time.Since(began)+wait(func() (bool, error) {
			c, err := counts.Get(t0(), st, parent)
			return c.Total() == i+1, err
		}))
	}
	dist := fmt.Sprintf("dst_delay%d", time.Now().UnixNano())
	for i := range n {
		id := fmt.Sprintf("01KDELAY%018d", time.Now().UnixNano()%1e18)
		began := time.Now()
		if _, err := st.DB.PutItem(t0(), &dynamodb.PutItemInput{TableName: &st.Table, Item: sampleChange(t, id, dist)}); err != nil {
			t.Fatal(err)
		}
		writer = append(writer, time.Since(began)+wait(func() (bool, error) {
			c, err := auditEntries(dist, id)
			return c == 1, err
		}))
		_ = i
	}
	after := sys.QueueStats()
	var lines []string
	for _, q := range []string{"TreeCounterQueue", "AuditWriterQueue"} {
		b, a := before[q], after[q]
		lines = append(lines, fmt.Sprintf("%s: %d messages, %d receives, %d invocations, %d DeleteMessageBatch",
			q, a.Messages-b.Messages, a.Receives-b.Receives, a.Invocations-b.Invocations, a.Deletes-b.Deletes))
	}
	t.Logf("write → tree-counter's count, %d node items one at a time: p50 %s, p90 %s, p99 %s, max %s",
		n, pct(counter, 0.5), pct(counter, 0.9), pct(counter, 0.99), pct(counter, 1))
	t.Logf("write → audit-writer's entry, %d change records one at a time: p50 %s, p90 %s, p99 %s, max %s",
		n, pct(writer, 0.5), pct(writer, 0.9), pct(writer, 0.99), pct(writer, 1))
	t.Logf("queues while measuring (idle receives included): %s", strings.Join(lines, "; "))
	return counter, writer
}
