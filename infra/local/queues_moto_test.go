package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/infra/template"
)

// TestQueueMappingOverMoto plays an SQS mapping over moto's real FIFO queue, with
// two pollers as the local system runs them: batches gathered within the window (at
// most one message of a group each, pollOnce says why),
// the messages a consumer reports (by message id) coming back after the visibility
// timeout while the rest is deleted, each group's messages in order and none of a
// group while another is in flight, and a message that always fails moved to the
// dead-letter queue after maxReceiveCount receives.
func TestQueueMappingOverMoto(t *testing.T) {
	requireServices(t)
	svc, err := StartServices(context.Background(), ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	client := sqs.NewFromConfig(AWSConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(svc.MotoURL) })
	ctx := context.Background()
	arnOf := func(url string) string {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["QueueArn"]
	}
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dead.fifo"), Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	const visibility = 2
	src, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work.fifo"), Attributes: map[string]string{
		"FifoQueue": "true", "VisibilityTimeout": strconv.Itoa(visibility),
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":2}`, arnOf(*dlq.QueueUrl)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	q := Queue{Name: "work.fifo", URL: *src.QueueUrl, ARN: arnOf(*src.QueueUrl)}

	// Groups a, b and c; a2 fails once, c1 always.
	var entries []sqstypes.SendMessageBatchRequestEntry
	for _, body := range []string{"a1", "b1", "a2", "c1", "b2", "a3", "c2"} {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(body), MessageBody: aws.String(body),
			MessageGroupId: aws.String(body[:1]), MessageDeduplicationId: aws.String(body)})
	}
	if _, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var done []string      // bodies handled, in order
	var batches [][]string // each invocation's bodies
	failedAt := map[string]time.Time{}
	var redelivered time.Duration
	handler := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		var resp events.SQSEventResponse
		var bodies []string
		stopped := map[string]bool{} // groups with a failure earlier in this batch
		for _, m := range ev.Records {
			b := m.Body
			bodies = append(bodies, b)
			g := b[:1]
			fail := stopped[g] || b == "c1" || (b == "a2" && failedAt["a2"].IsZero())
			if b == "a2" && !failedAt["a2"].IsZero() && redelivered == 0 {
				redelivered = time.Since(failedAt["a2"])
			}
			if fail {
				if b == "a2" && failedAt["a2"].IsZero() {
					failedAt["a2"] = time.Now()
				}
				stopped[g] = true
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			done = append(done, b)
		}
		batches = append(batches, bodies)
		return resp, nil
	}
	m := template.QueueMapping{Function: "fn", BatchSize: 10, MaximumBatchingWindowInSeconds: 1,
		FunctionResponseTypes: []string{"ReportBatchItemFailures"}, Timeout: 5}
	stats := &QueueStats{}
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); pollQueue(pctx, client, q, m, handler, stats, log) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(done)
		mu.Unlock()
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		if n == 6 && out.Attributes["ApproximateNumberOfMessages"] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: done %v, dead-letter queue %v; batches %v", done, out.Attributes, batches)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("batches %v; requests %+v", batches, stats.Counts())
	order := func(group string) []string {
		var out []string
		for _, b := range done {
			if b[:1] == group {
				out = append(out, b)
			}
		}
		return out
	}
	if got := order("a"); !slices.Equal(got, []string{"a1", "a2", "a3"}) {
		t.Errorf("group a handled %v, want a1 a2 a3", got)
	}
	if got := order("b"); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("group b handled %v", got)
	}
	// c2 comes only once c1 is gone to the dead-letter queue: the group waits.
	if got := order("c"); !slices.Equal(got, []string{"c2"}) {
		t.Errorf("group c handled %v, want c2 after c1 was dead-lettered", got)
	}
	if !slices.ContainsFunc(batches, func(b []string) bool { return len(b) >= 2 }) {
		t.Errorf("batches %v: the window gathered no batch of more than one", batches)
	}
	for _, b := range batches {
		seen := map[string]bool{}
		for _, m := range b {
			if seen[m[:1]] {
				t.Errorf("batch %v holds two messages of group %s", b, m[:1])
			}
			seen[m[:1]] = true
		}
	}
	// The visibility timeout runs from the receive, which comes before the handler
	// records its failure; on a loaded machine the handling takes a good part of a
	// second, so only half the timeout is certain to show between the two.
	if redelivered < visibility*time.Second/2 {
		t.Errorf("a2 came back %s after it failed, before the %d s visibility timeout", redelivered, visibility)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(out.Messages) != 1 || *out.Messages[0].Body != "c1" {
		t.Fatalf("dead-letter queue: %v %+v", err, out)
	}
}
