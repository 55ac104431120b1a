package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// ---------------------------------------------------------------- fixtures

var tableSeq struct {
	sync.Mutex
	n int
}

// newTable creates a table with a NEW_AND_OLD_IMAGES stream, like template.yaml's,
// and returns its name and stream ARN.
func newTable(t *testing.T, s *localServices) (string, string) {
	t.Helper()
	tableSeq.Lock()
	tableSeq.n++
	name := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e6, tableSeq.n)
	tableSeq.Unlock()
	out, err := ddbClient(s).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode:         ddbtypes.BillingModePayPerRequest,
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatal(err)
	}
	return name, aws.ToString(out.TableDescription.LatestStreamArn)
}

func put(t *testing.T, s *localServices, table, pk string, n int, extra map[string]ddbtypes.AttributeValue) {
	t.Helper()
	item := map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: pk},
		"SK": &ddbtypes.AttributeValueMemberS{Value: "A"},
		"n":  &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(n)},
	}
	for k, v := range extra {
		item[k] = v
	}
	if _, err := ddbClient(s).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func newQueue(t *testing.T, s *localServices) string {
	t.Helper()
	tableSeq.Lock()
	tableSeq.n++
	name := fmt.Sprintf("onfailure-%d-%d", time.Now().UnixNano()%1e6, tableSeq.n)
	tableSeq.Unlock()
	out, err := sqsClient(s).CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// invocation is what the fake function saw in one call.
type invocation struct {
	ev  events.DynamoDBEvent
	lc  *lambdacontext.LambdaContext
	ok  bool // the invocation succeeded entirely
	ids []string
}

// fakeFunction records invocations; decide says how to answer each.
type fakeFunction struct {
	mu     sync.Mutex
	calls  []invocation
	decide func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

func (f *fakeFunction) handler(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	f.mu.Lock()
	n := len(f.calls)
	decide := f.decide
	f.mu.Unlock()
	var resp events.DynamoDBEventResponse
	var err error
	ok := true
	defer func() {
		f.mu.Lock()
		f.calls = append(f.calls, invocation{ev: ev, lc: lc, ok: ok, ids: pks(ev)})
		f.mu.Unlock()
	}()
	if decide != nil {
		ok = false
		resp, err = decide(n, ev)
		ok = err == nil && len(resp.BatchItemFailures) == 0
	}
	return resp, err
}

func (f *fakeFunction) snapshot() []invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]invocation(nil), f.calls...)
}

// delivered lists the PK#n of every record of a successful invocation, in order.
func (f *fakeFunction) delivered() []string {
	var out []string
	for _, c := range f.snapshot() {
		if c.ok {
			out = append(out, c.ids...)
		}
	}
	return out
}

func pks(ev events.DynamoDBEvent) []string {
	var out []string
	for _, r := range ev.Records {
		img := r.Change.NewImage
		if img == nil {
			img = r.Change.OldImage
		}
		out = append(out, img["PK"].String()+"#"+img["n"].Number())
	}
	return out
}

func runMapping(t *testing.T, s *localServices, m Mapping, f *fakeFunction) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewJSONHandler(testWriter{t}, nil))
	}
	go func() { done <- Run(ctx, streamsClient(s), sqsClient(s), m, f.handler, logger) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seqOf(ev events.DynamoDBEvent, i int) string { return ev.Records[i].Change.SequenceNumber }

func fastRetries(t *testing.T) {
	old := retryBackoff
	retryBackoff = func(int) time.Duration { return 10 * time.Millisecond }
	t.Cleanup(func() { retryBackoff = old })
}

func receiveOne(t *testing.T, s *localServices, queueURL string) onFailureRecord {
	t.Helper()
	var got []string
	eventually(t, "a message is on the on-failure queue", func() bool {
		out, err := sqsClient(s).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
		}
		return len(got) > 0
	})
	if len(got) != 1 {
		t.Fatalf("%d messages on the on-failure queue, want 1: %v", len(got), got)
	}
	var rec onFailureRecord
	if err := json.Unmarshal([]byte(got[0]), &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// ---------------------------------------------------------------- against DynamoDB Local

func TestStreamMappingAgainstDynamoDBLocal(t *testing.T) {
	s := needLocalServices(t)
	fastRetries(t)

	t.Run("records are delivered in order per item, shaped like Lambda's event", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		// 30 versions of item a and 30 of item b, interleaved.
		for i := range 30 {
			put(t, s, table, "a", i, nil)
			put(t, s, table, "b", i, nil)
		}
		f := &fakeFunction{}
		runMapping(t, s, Mapping{Function: "audit-writer", StreamARN: arn, BatchSize: 7, StartingPosition: "TRIM_HORIZON"}, f)
		eventually(t, "60 records are delivered", func() bool { return len(f.delivered()) == 60 })

		next := map[string]int{"a": 0, "b": 0}
		for _, id := range f.delivered() {
			pk, n, _ := strings.Cut(id, "#")
			if want := strconv.Itoa(next[pk]); n != want {
				t.Fatalf("item %s: got version %s, want %s (delivered %v)", pk, n, want, f.delivered())
			}
			next[pk]++
		}
		var lastSeq string
		for _, c := range f.snapshot() {
			if len(c.ev.Records) > 7 || len(c.ev.Records) == 0 {
				t.Errorf("batch of %d records, want 1..7", len(c.ev.Records))
			}
			if c.lc == nil || c.lc.AwsRequestID == "" || !strings.HasSuffix(c.lc.InvokedFunctionArn, ":function:audit-writer") {
				t.Errorf("lambda context %+v", c.lc)
			}
			for _, r := range c.ev.Records {
				if r.EventSource != "aws:dynamodb" || r.EventVersion != "1.1" || r.EventSourceArn != arn || r.AWSRegion != "us-east-1" || r.EventID == "" {
					t.Fatalf("record envelope %+v", r)
				}
				d := r.Change
				if d.StreamViewType != "NEW_AND_OLD_IMAGES" || d.SequenceNumber == "" || d.SizeBytes <= 0 || d.ApproximateCreationDateTime.IsZero() {
					t.Fatalf("dynamodb part %+v", d)
				}
				if d.Keys["PK"].String() == "" || d.Keys["SK"].String() != "A" || len(d.Keys) != 2 {
					t.Fatalf("keys %v", d.Keys)
				}
				switch r.EventName {
				case "INSERT":
					if d.OldImage != nil || d.NewImage["n"].Number() != "0" {
						t.Fatalf("INSERT images old=%v new=%v", d.OldImage, d.NewImage)
					}
				case "MODIFY":
					if d.OldImage == nil || d.NewImage == nil {
						t.Fatalf("MODIFY without both images")
					}
				default:
					t.Fatalf("eventName %q", r.EventName)
				}
				if lastSeq != "" && !seqLess(lastSeq, d.SequenceNumber) {
					t.Fatalf("sequence numbers out of order: %s then %s", lastSeq, d.SequenceNumber)
				}
				lastSeq = d.SequenceNumber
			}
		}
	})

	t.Run("a partial-failure response redelivers from the failed record and not before", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		for i := range 10 {
			put(t, s, table, "p", i, nil)
		}
		f := &fakeFunction{decide: func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if n == 0 {
				// Records 7 and 4 fail: Lambda retries from the lowest, 4.
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
					{ItemIdentifier: seqOf(ev, 7)}, {ItemIdentifier: seqOf(ev, 4)},
				}}, nil
			}
			return events.DynamoDBEventResponse{}, nil
		}}
		runMapping(t, s, Mapping{Function: "fn", StreamARN: arn, BatchSize: 10, ReportBatchItemFailures: true, MaxRetryAttempts: -1}, f)
		eventually(t, "the retry succeeds", func() bool { return len(f.delivered()) == 6 })
		calls := f.snapshot()
		if len(calls) != 2 {
			t.Fatalf("%d invocations, want 2", len(calls))
		}
		if got := strings.Join(calls[0].ids, " "); got != "p#0 p#1 p#2 p#3 p#4 p#5 p#6 p#7 p#8 p#9" {
			t.Errorf("first batch %s", got)
		}
		if got := strings.Join(calls[1].ids, " "); got != "p#4 p#5 p#6 p#7 p#8 p#9" {
			t.Errorf("retried batch %s, want p#4..p#9", got)
		}
	})

	t.Run("an unknown itemIdentifier fails the whole batch", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		for i := range 3 {
			put(t, s, table, "u", i, nil)
		}
		f := &fakeFunction{decide: func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if n == 0 {
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "not-a-sequence-number"}}}, nil
			}
			return events.DynamoDBEventResponse{}, nil
		}}
		runMapping(t, s, Mapping{Function: "fn", StreamARN: arn, BatchSize: 10, ReportBatchItemFailures: true, MaxRetryAttempts: 3}, f)
		eventually(t, "the retry succeeds", func() bool { return len(f.delivered()) == 3 })
		calls := f.snapshot()
		if len(calls) != 2 || strings.Join(calls[1].ids, " ") != "u#0 u#1 u#2" {
			t.Fatalf("invocations %v", idsOf(calls))
		}
	})

	t.Run("bisecting on error isolates a poison record, which goes to the queue after its retries", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		queue := newQueue(t, s)
		for i := range 8 {
			put(t, s, table, "q", i, nil)
		}
		poisoned := func(ev events.DynamoDBEvent) bool {
			for _, id := range pks(ev) {
				if id == "q#5" {
					return true
				}
			}
			return false
		}
		f := &fakeFunction{decide: func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if poisoned(ev) {
				return events.DynamoDBEventResponse{}, errors.New("cannot parse q#5")
			}
			return events.DynamoDBEventResponse{}, nil
		}}
		runMapping(t, s, Mapping{Function: "fn", StreamARN: arn, BatchSize: 8, BisectOnError: true, MaxRetryAttempts: 1,
			OnFailureQueueURL: queue}, f)
		eventually(t, "the 7 good records are delivered", func() bool { return len(f.delivered()) == 7 })

		if got := strings.Join(f.delivered(), " "); got != "q#0 q#1 q#2 q#3 q#4 q#6 q#7" {
			t.Errorf("delivered %s", got)
		}
		var alone int
		for _, c := range f.snapshot() {
			if len(c.ids) == 1 && c.ids[0] == "q#5" {
				alone++
			}
		}
		if alone != 2 { // the isolated record, then its one retry
			t.Errorf("the poison record was invoked alone %d times, want 2 (invocations %v)", alone, idsOf(f.snapshot()))
		}
		rec := receiveOne(t, s, queue)
		checkFailureRecord(t, rec, arn, "RetryAttemptsExhausted", 1, 2)

		put(t, s, table, "q", 8, nil)
		eventually(t, "a later record still flows", func() bool { return len(f.delivered()) == 8 })
	})

	t.Run("without bisecting, a panicking record goes to the queue after max retries and later records flow", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		queue := newQueue(t, s)
		for i := range 3 {
			put(t, s, table, "r", i, nil)
		}
		f := &fakeFunction{decide: func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if pks(ev)[0] == "r#1" {
				var m map[string]int
				m["boom"] = 1 // a real panic: nil map write
			}
			return events.DynamoDBEventResponse{}, nil
		}}
		runMapping(t, s, Mapping{Function: "fn", StreamARN: arn, BatchSize: 1, MaxRetryAttempts: 2, OnFailureQueueURL: queue}, f)
		eventually(t, "r#0 and r#2 are delivered", func() bool { return len(f.delivered()) == 2 })
		if got := strings.Join(f.delivered(), " "); got != "r#0 r#2" {
			t.Errorf("delivered %s", got)
		}
		rec := receiveOne(t, s, queue)
		checkFailureRecord(t, rec, arn, "RetryAttemptsExhausted", 1, 3)
		var poisonCalls int
		for _, c := range f.snapshot() {
			if c.ids[0] == "r#1" {
				poisonCalls++
			}
		}
		if poisonCalls != 3 {
			t.Errorf("the poison record was invoked %d times, want 1 + 2 retries", poisonCalls)
		}
	})

	t.Run("filter patterns drop records that do not match", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		change := map[string]ddbtypes.AttributeValue{"type": &ddbtypes.AttributeValueMemberS{Value: "change"}}
		entity := map[string]ddbtypes.AttributeValue{"type": &ddbtypes.AttributeValueMemberS{Value: "entity"}}
		put(t, s, table, "A", 0, change) // INSERT change     -> delivered
		put(t, s, table, "B", 0, entity) // INSERT entity     -> dropped
		put(t, s, table, "A", 1, change) // MODIFY            -> dropped
		put(t, s, table, "C", 0, change) // INSERT change     -> delivered
		if _, err := ddbClient(s).DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(table),
			Key: map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "A"}, "SK": &ddbtypes.AttributeValueMemberS{Value: "A"}}}); err != nil {
			t.Fatal(err) // REMOVE -> dropped
		}
		put(t, s, table, "Z", 0, change) // INSERT change     -> delivered, and tells us the rest was read
		f := &fakeFunction{}
		runMapping(t, s, Mapping{Function: "fn", StreamARN: arn, BatchSize: 100, MaxBatchingWindow: 200 * time.Millisecond,
			FilterPatterns: []string{`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["change"]}}}}`}}, f)
		eventually(t, "Z is delivered", func() bool {
			d := f.delivered()
			return len(d) > 0 && d[len(d)-1] == "Z#0"
		})
		if got := strings.Join(f.delivered(), " "); got != "A#0 C#0 Z#0" {
			t.Errorf("delivered %s, want A#0 C#0 Z#0", got)
		}
	})

	t.Run("two mappings on one stream each get what their filter passes, and one's retries do not hold up the other", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		// The audit writer's and the tree counter's filters, as in template.yaml.
		changes := `{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["change"]}}}}`
		nodeItems := `{"dynamodb": {"Keys": {"SK": {"S": ["NODE"]}}}}`
		write := func(pk, sk, typ string, n int) {
			t.Helper()
			if _, err := ddbClient(s).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table),
				Item: map[string]ddbtypes.AttributeValue{
					"PK": &ddbtypes.AttributeValueMemberS{Value: pk}, "SK": &ddbtypes.AttributeValueMemberS{Value: sk},
					"type": &ddbtypes.AttributeValueMemberS{Value: typ}, "n": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(n)},
				}}); err != nil {
				t.Fatal(err)
			}
		}
		write("C1", "CHANGE", "change", 0)
		write("N1", "NODE", "node", 0)
		write("N1", "COUNTS", "counts", 0) // neither
		write("N1", "NODE", "node", 1)     // a MODIFY: the node filter takes it
		write("C2", "CHANGE", "change", 0)
		write("N2", "NODE", "node", 0)
		// The change consumer fails its first two invocations; the node consumer does not wait for it.
		audit := &fakeFunction{decide: func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if n < 2 {
				return events.DynamoDBEventResponse{}, errors.New("boom")
			}
			return events.DynamoDBEventResponse{}, nil
		}}
		counter := &fakeFunction{}
		runMapping(t, s, Mapping{Function: "audit-writer", StreamARN: arn, BatchSize: 100, FilterPatterns: []string{changes},
			ReportBatchItemFailures: true, MaxRetryAttempts: 10}, audit)
		runMapping(t, s, Mapping{Function: "tree-counter", StreamARN: arn, BatchSize: 100, FilterPatterns: []string{nodeItems},
			ReportBatchItemFailures: true, MaxRetryAttempts: 10}, counter)
		eventually(t, "both mappings delivered their records", func() bool {
			return len(audit.delivered()) == 2 && len(counter.delivered()) == 3
		})
		if got := strings.Join(audit.delivered(), " "); got != "C1#0 C2#0" {
			t.Errorf("change consumer got %s, want C1#0 C2#0", got)
		}
		if got := strings.Join(counter.delivered(), " "); got != "N1#0 N1#1 N2#0" {
			t.Errorf("node consumer got %s, want N1#0 N1#1 N2#0", got)
		}
		if calls := counter.snapshot(); len(calls) == 0 || !calls[0].ok {
			t.Errorf("node consumer invocations %v: its first should have succeeded", idsOf(calls))
		}
	})

	t.Run("a stream that does not exist stops Run with an error", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := Run(ctx, streamsClient(s), nil, Mapping{Function: "fn",
			StreamARN: "arn:aws:dynamodb:ddblocal:000000000000:table/missing/stream/2024-01-01T00:00:00.000"},
			(&fakeFunction{}).handler, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("Run returned %v", err)
		}
	})

	t.Run("LATEST skips the records written before the mapping started", func(t *testing.T) {
		t.Parallel()
		table, arn := newTable(t, s)
		put(t, s, table, "old", 0, nil)
		f := &fakeFunction{}
		runMapping(t, s, Mapping{Function: "fn", StreamARN: arn, StartingPosition: "LATEST"}, f)
		time.Sleep(500 * time.Millisecond) // let it find the shard and take its LATEST iterator
		put(t, s, table, "new", 0, nil)
		eventually(t, "the new record is delivered", func() bool { return len(f.delivered()) > 0 })
		if got := strings.Join(f.delivered(), " "); got != "new#0" {
			t.Errorf("delivered %s, want new#0 only", got)
		}
	})
}

func checkFailureRecord(t *testing.T, rec onFailureRecord, arn, condition string, batchSize, invokes int) {
	t.Helper()
	if rec.Version != "1.0" || rec.RequestContext.Condition != condition || rec.RequestContext.ApproximateInvokeCount != invokes ||
		!strings.HasSuffix(rec.RequestContext.FunctionArn, ":function:fn") || rec.RequestContext.RequestID == "" {
		t.Errorf("requestContext / version %+v", rec)
	}
	if rec.ResponseContext.StatusCode != 200 || rec.ResponseContext.FunctionError != "Unhandled" || rec.ResponseContext.ExecutedVersion != "$LATEST" {
		t.Errorf("responseContext %+v", rec.ResponseContext)
	}
	b := rec.DDBStreamBatchInfo
	if b.StreamArn != arn || b.BatchSize != batchSize || b.ShardID == "" || b.StartSequenceNumber == "" || b.EndSequenceNumber != b.StartSequenceNumber {
		t.Errorf("DDBStreamBatchInfo %+v", b)
	}
	for _, ts := range []string{b.ApproximateArrivalOfFirstRecord, b.ApproximateArrivalOfLastRecord} {
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			t.Errorf("arrival time %q: %v", ts, err)
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", rec.Timestamp, err)
	}
}

func idsOf(calls []invocation) [][]string {
	var out [][]string
	for _, c := range calls {
		out = append(out, c.ids)
	}
	return out
}

// seqLess compares DynamoDB sequence numbers (decimal strings).
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
