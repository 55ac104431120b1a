package e2e

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/consumers"
	"opsconsole/shared/lambdas"
)

// TestAuditWriterWithTheSampleEvent invokes the audit-log function's real handler with
// events/stream-change-record.json as its queue carries it (the router sends it only
// the change record), twice, and checks that the change record became
// one entry in each node of its scope, that the node change beside it was ignored, and
// that the replay changed nothing.
func TestAuditWriterWithTheSampleEvent(t *testing.T) {
	raw, err := os.ReadFile("../../events/stream-change-record.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	fn, err := lambdas.Build(context.Background(), "audit-writer")
	if err != nil {
		t.Fatal(err)
	}
	// As its queue delivers the records behind the stream router.
	writer, _ := consumers.Named("audit-writer")
	qev, err := writer.QueueEvent(ev)
	if err != nil || len(qev.Records) != 1 {
		t.Fatalf("queue event %+v: %v", qev, err)
	}
	for i := range 2 {
		res, err := fn.SQS(context.Background(), qev)
		if err != nil || len(res.BatchItemFailures) != 0 {
			t.Fatalf("invocation %d: %v %+v", i+1, err, res)
		}
	}
	for _, node := range []string{"platform", "dst_01kar4sample0000000000000"} {
		// In every partition of the node's log (both are sharded).
		n, err := auditEntries(node, "01KAR4SAMPLE")
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%s holds %d entries of the sample change, want 1", node, n)
		}
	}
}
