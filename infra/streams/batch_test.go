package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// These tests drive the processor directly with made-up records: Lambda's
// invocation semantics without DynamoDB Local.

func fakeRecords(t *testing.T, n int, created time.Time) []*record {
	t.Helper()
	var out []*record
	for i := range n {
		rec, err := convertRecord(types.Record{
			EventID:   aws.String(fmt.Sprint("e", i)),
			EventName: types.OperationTypeInsert,
			Dynamodb: &types.StreamRecord{
				ApproximateCreationDateTime: aws.Time(created),
				Keys:                        map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: fmt.Sprint("r", i)}},
				NewImage:                    map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: fmt.Sprint("r", i)}},
				SequenceNumber:              aws.String(fmt.Sprintf("%021d", 100+i)),
				SizeBytes:                   aws.Int64(20),
				StreamViewType:              types.StreamViewTypeNewAndOldImages,
			},
		}, "us-east-1", "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

type procHarness struct {
	mu       sync.Mutex
	batches  [][]string // PKs of each invocation
	failures []failure
	records  []onFailureRecord
}

func (h *procHarness) ids() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var parts []string
	for _, b := range h.batches {
		parts = append(parts, "["+strings.Join(b, " ")+"]")
	}
	return strings.Join(parts, " ")
}

func newProc(t *testing.T, m Mapping, h *procHarness, fn func(ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)) *processor {
	old := retryBackoff
	retryBackoff = func(int) time.Duration { return time.Millisecond }
	t.Cleanup(func() { retryBackoff = old })
	m.StreamARN = "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024"
	var p *processor
	p = &processor{
		m: m,
		handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			var ids []string
			for _, r := range ev.Records {
				ids = append(ids, r.Change.Keys["PK"].String())
			}
			h.mu.Lock()
			h.batches = append(h.batches, ids)
			h.mu.Unlock()
			return fn(ev)
		},
		functionARN: "arn:aws:lambda:us-east-1:123456789012:function:fn",
		logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		now:         time.Now,
		onFailure: func(ctx context.Context, f failure) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.failures = append(h.failures, f)
			h.records = append(h.records, p.failureRecord(f))
			return nil
		},
	}
	return p
}

func failIDs(ev events.DynamoDBEvent, pks ...string) events.DynamoDBEventResponse {
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		for _, pk := range pks {
			if r.Change.Keys["PK"].String() == pk {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			}
		}
	}
	return resp
}

func contains(ev events.DynamoDBEvent, pk string) bool {
	for _, r := range ev.Records {
		if r.Change.Keys["PK"].String() == pk {
			return true
		}
	}
	return false
}

func TestProcessorSemantics(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name         string
		m            Mapping
		n            int
		fn           func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
		wantCalls    string
		wantFailures string // shard-independent summary of what went to the on-failure destination
	}{
		{
			name: "success is one invocation",
			m:    Mapping{MaxRetryAttempts: -1},
			n:    3,
			fn: func(int, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				return events.DynamoDBEventResponse{}, nil
			},
			wantCalls: "[r0 r1 r2]",
		},
		{
			name: "partial failure retries from the lowest failed record",
			m:    Mapping{ReportBatchItemFailures: true, MaxRetryAttempts: -1},
			n:    5,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					return failIDs(ev, "r3", "r1"), nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantCalls: "[r0 r1 r2 r3 r4] [r1 r2 r3 r4]",
		},
		{
			name: "batchItemFailures are ignored without ReportBatchItemFailures",
			m:    Mapping{MaxRetryAttempts: -1},
			n:    2,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				return failIDs(ev, "r1"), nil
			},
			wantCalls: "[r0 r1]",
		},
		{
			name: "an empty itemIdentifier fails the whole batch",
			m:    Mapping{ReportBatchItemFailures: true, MaxRetryAttempts: -1},
			n:    3,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ""}}}, nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantCalls: "[r0 r1 r2] [r0 r1 r2]",
		},
		{
			name: "a function error retries the whole batch",
			m:    Mapping{MaxRetryAttempts: 5},
			n:    3,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if call < 2 {
					return events.DynamoDBEventResponse{}, errBoom
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantCalls: "[r0 r1 r2] [r0 r1 r2] [r0 r1 r2]",
		},
		{
			name: "MaxRetryAttempts 0 gives up after the first failure",
			m:    Mapping{MaxRetryAttempts: 0},
			n:    2,
			fn: func(int, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				return events.DynamoDBEventResponse{}, errBoom
			},
			wantCalls:    "[r0 r1]",
			wantFailures: "RetryAttemptsExhausted r0..r1 size=2 invokes=1 Unhandled",
		},
		{
			name: "retries exhausted on a partial failure sends the rest of the batch",
			m:    Mapping{ReportBatchItemFailures: true, MaxRetryAttempts: 1},
			n:    4,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				return failIDs(ev, "r2"), nil
			},
			wantCalls:    "[r0 r1 r2 r3] [r2 r3]",
			wantFailures: "RetryAttemptsExhausted r2..r3 size=2 invokes=2 -",
		},
		{
			name: "bisection splits the batch down to the poison record",
			m:    Mapping{BisectOnError: true, MaxRetryAttempts: 1},
			n:    4,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if contains(ev, "r2") {
					return events.DynamoDBEventResponse{}, errBoom
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantCalls:    "[r0 r1 r2 r3] [r0 r1] [r2 r3] [r2] [r2] [r3]",
			wantFailures: "RetryAttemptsExhausted r2..r2 size=1 invokes=2 Unhandled",
		},
		{
			name: "bisection with partial failures checkpoints without splitting",
			m:    Mapping{BisectOnError: true, ReportBatchItemFailures: true, MaxRetryAttempts: -1},
			n:    4,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					return failIDs(ev, "r1"), nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantCalls: "[r0 r1 r2 r3] [r1 r2 r3]",
		},
		{
			name: "a panic is a function error",
			m:    Mapping{MaxRetryAttempts: 1},
			n:    1,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				panic("nil pointer")
			},
			wantCalls:    "[r0] [r0]",
			wantFailures: "RetryAttemptsExhausted r0..r0 size=1 invokes=2 Unhandled",
		},
		{
			name: "a timeout is a function error",
			m:    Mapping{MaxRetryAttempts: 0, Timeout: 30 * time.Millisecond},
			n:    1,
			fn: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				time.Sleep(200 * time.Millisecond)
				return events.DynamoDBEventResponse{}, nil
			},
			wantCalls:    "[r0]",
			wantFailures: "RetryAttemptsExhausted r0..r0 size=1 invokes=1 Unhandled",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &procHarness{}
			var mu sync.Mutex
			call := 0
			p := newProc(t, tc.m, h, func(ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				mu.Lock()
				c := call
				call++
				mu.Unlock()
				return tc.fn(c, ev)
			})
			if err := p.process(context.Background(), "shardId-1", fakeRecords(t, tc.n, time.Now())); err != nil {
				t.Fatal(err)
			}
			if got := h.ids(); got != tc.wantCalls {
				t.Errorf("invocations %s\n           want %s", got, tc.wantCalls)
			}
			var got []string
			for i, f := range h.failures {
				fe := "-"
				if h.records[i].ResponseContext.FunctionError != "" {
					fe = h.records[i].ResponseContext.FunctionError
				}
				got = append(got, fmt.Sprintf("%s %s..%s size=%d invokes=%d %s", f.condition,
					pkOf(f.batch[0]), pkOf(f.batch[len(f.batch)-1]), h.records[i].DDBStreamBatchInfo.BatchSize,
					h.records[i].RequestContext.ApproximateInvokeCount, fe))
			}
			if g := strings.Join(got, "; "); g != tc.wantFailures {
				t.Errorf("on-failure %q, want %q", g, tc.wantFailures)
			}
		})
	}
}

func pkOf(r *record) string {
	ev, _ := eventFor([]*record{r})
	return ev.Records[0].Change.Keys["PK"].String()
}

func TestRecordsOlderThanMaxRecordAgeAreNotInvoked(t *testing.T) {
	h := &procHarness{}
	p := newProc(t, Mapping{MaxRecordAge: time.Minute, MaxRetryAttempts: -1}, h,
		func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, nil
		})
	batch := append(fakeRecords(t, 2, time.Now().Add(-2*time.Minute)), fakeRecords(t, 1, time.Now())...)
	if err := p.process(context.Background(), "shardId-1", batch); err != nil {
		t.Fatal(err)
	}
	if len(h.failures) != 1 || h.failures[0].condition != "RecordAgeExceeded" || len(h.failures[0].batch) != 2 {
		t.Fatalf("failures %+v", h.failures)
	}
	if len(h.batches) != 1 || len(h.batches[0]) != 1 {
		t.Fatalf("invocations %s, want only the fresh record", h.ids())
	}
}

func TestOnFailureRecordShape(t *testing.T) {
	h := &procHarness{}
	p := newProc(t, Mapping{MaxRetryAttempts: 0}, h,
		func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, errors.New("x")
		})
	created := time.Date(2019, 11, 14, 0, 13, 19, 0, time.UTC)
	if err := p.process(context.Background(), "shardId-00000001573689847184-864758bb", fakeRecords(t, 3, created)); err != nil {
		t.Fatal(err)
	}
	if len(h.records) != 1 {
		t.Fatalf("%d records", len(h.records))
	}
	r := h.records[0]
	b := r.DDBStreamBatchInfo
	if b.ShardID != "shardId-00000001573689847184-864758bb" || b.StartSequenceNumber != "000000000000000000100" ||
		b.EndSequenceNumber != "000000000000000000102" || b.BatchSize != 3 ||
		b.ApproximateArrivalOfFirstRecord != "2019-11-14T00:13:19Z" || b.ApproximateArrivalOfLastRecord != "2019-11-14T00:13:19Z" ||
		b.StreamArn != "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024" {
		t.Errorf("DDBStreamBatchInfo %+v", b)
	}
	if r.Version != "1.0" || r.RequestContext.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:fn" ||
		r.RequestContext.Condition != "RetryAttemptsExhausted" || r.RequestContext.ApproximateInvokeCount != 1 ||
		r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" || r.ResponseContext.FunctionError != "Unhandled" {
		t.Errorf("record %+v", r)
	}
}

func TestRunRejectsBadMappings(t *testing.T) {
	h := func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, nil
	}
	arn := "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2024"
	tests := []struct {
		name string
		m    Mapping
		q    sqsAPI
	}{
		{"no stream ARN", Mapping{Function: "f"}, nil},
		{"unsupported filter operator", Mapping{Function: "f", StreamARN: arn, FilterPatterns: []string{`{"eventName": [{"wildcard": "IN*"}]}`}}, nil},
		{"$or in a filter", Mapping{Function: "f", StreamARN: arn, FilterPatterns: []string{`{"$or": [{"eventName": ["INSERT"]}]}`}}, nil},
		{"filter leaf that is not an array", Mapping{Function: "f", StreamARN: arn, FilterPatterns: []string{`{"eventName": "INSERT"}`}}, nil},
		{"filter that is not JSON", Mapping{Function: "f", StreamARN: arn, FilterPatterns: []string{`eventName = INSERT`}}, nil},
		{"bad starting position", Mapping{Function: "f", StreamARN: arn, StartingPosition: "AT_TIMESTAMP"}, nil},
		{"on-failure queue without SQS client", Mapping{Function: "f", StreamARN: arn, OnFailureQueueURL: "http://q"}, nil},
		{"batch size over 10000", Mapping{Function: "f", StreamARN: arn, BatchSize: 10001}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := run(ctx, nil, "us-east-1", tc.q, tc.m, h, slog.New(slog.NewJSONHandler(io.Discard, nil))); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
