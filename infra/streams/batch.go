package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"opsconsole/shared/lambdas"
)

// The invocation semantics of a stream event source mapping ("Configuring partial
// batch response with DynamoDB and Lambda", "Error handling" in "Using AWS Lambda
// with Amazon DynamoDB", and the mapping parameters):
//
//   - A batch is invoked; records of one shard are never handed out of order, and the
//     next batch waits until this one is done (succeeded or given up on).
//   - A function error (returned error, panic, timeout) fails the whole batch. With
//     BisectOnError the batch is split in two and each half is processed in turn
//     (splitting does not count as a retry); a single failing record is retried.
//   - With ReportBatchItemFailures, a response listing batchItemFailures checkpoints
//     before the failed record with the lowest sequence number: the records before it
//     are done, and the batch is retried from it. An empty or unknown itemIdentifier
//     makes the whole batch a failure. An empty list is success.
//   - After MaxRetryAttempts retries of a batch (negative: until the record expires),
//     or for records older than MaxRecordAge, Lambda gives up: it sends an invocation
//     record describing the batch (not the records) to the on-failure destination and
//     moves on. A checkpoint that moves forward starts a new count for the rest.
//   - Retries wait a short backoff (locally ~50 ms doubling up to 1 s).

// retryBackoff is a variable so tests can shorten it.
var retryBackoff = func(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt-1, 5)
	return min(d, time.Second)
}

type invokeResult struct {
	resp events.DynamoDBEventResponse
	err  error // function error: returned, panic, or timeout
}

// processor runs batches of one mapping through the handler.
type processor struct {
	m           Mapping
	handler     lambdas.StreamHandler
	functionARN string
	logger      *slog.Logger
	onFailure   func(ctx context.Context, f failure) error // sends the invocation record
	now         func() time.Time
}

// failure is a batch Lambda gave up on.
type failure struct {
	shardID     string
	batch       []*record
	condition   string // RetryAttemptsExhausted or RecordAgeExceeded
	invokeCount int
	lastErr     error // the last function error, nil for a partial-failure response
	requestID   string
}

// process handles one batch to its end: delivered, or discarded to the on-failure
// destination. It returns only ctx's error.
func (p *processor) process(ctx context.Context, shardID string, batch []*record) error {
	attempts := 0 // failed invocations of the batch at its current start
	invokes := 0  // invocations of the batch at its current start
	var lastErr error
	lastReq := ""
	for len(batch) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.m.MaxRecordAge > 0 {
			n := 0
			for n < len(batch) && !batch[n].created.IsZero() && p.now().Sub(batch[n].created) > p.m.MaxRecordAge {
				n++
			}
			if n > 0 {
				if err := p.discard(ctx, failure{shardID: shardID, batch: batch[:n], condition: "RecordAgeExceeded",
					invokeCount: invokes, lastErr: lastErr, requestID: lastReq}); err != nil {
					return err
				}
				batch, attempts, invokes, lastErr = batch[n:], 0, 0, nil
				continue
			}
		}

		reqID := newUUID()
		res, err := p.invoke(ctx, shardID, batch, attempts, reqID)
		if err != nil {
			return err // ctx done mid-invocation
		}
		invokes++
		lastReq = reqID

		if res.err == nil {
			if !p.m.ReportBatchItemFailures || len(res.resp.BatchItemFailures) == 0 {
				return nil
			}
			idx, ok := checkpoint(batch, res.resp)
			if ok && idx > 0 {
				// Records before the lowest failure are done; retry from it. The
				// failed record has failed once.
				batch, attempts, invokes, lastErr = batch[idx:], 1, 1, nil
			} else {
				attempts++
				lastErr = nil
			}
		} else {
			lastErr = res.err
			if p.m.BisectOnError && len(batch) > 1 {
				mid := len(batch) / 2
				if err := p.process(ctx, shardID, batch[:mid]); err != nil {
					return err
				}
				batch, attempts, invokes, lastErr = batch[mid:], 0, 0, nil
				continue
			}
			attempts++
		}

		if p.m.MaxRetryAttempts >= 0 && attempts > p.m.MaxRetryAttempts {
			return p.discard(ctx, failure{shardID: shardID, batch: batch, condition: "RetryAttemptsExhausted",
				invokeCount: invokes, lastErr: lastErr, requestID: lastReq})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retryBackoff(attempts)):
		}
	}
	return nil
}

// checkpoint returns the index of the failed record with the lowest sequence number
// (the batch is in sequence order), or false when the response fails the whole
// batch (an empty or unknown itemIdentifier).
func checkpoint(batch []*record, resp events.DynamoDBEventResponse) (int, bool) {
	pos := make(map[string]int, len(batch))
	for i, r := range batch {
		pos[r.seq] = i
	}
	lowest := -1
	for _, f := range resp.BatchItemFailures {
		i, ok := pos[f.ItemIdentifier]
		if f.ItemIdentifier == "" || !ok {
			return 0, false
		}
		if lowest < 0 || i < lowest {
			lowest = i
		}
	}
	return lowest, lowest >= 0
}

// invoke calls the handler the way the Lambda runtime would: the event decoded from
// JSON, a context with the LambdaContext and the function's deadline, a panic or a
// timeout turned into a function error. The invocation is not cancelled when ctx is
// (Lambda does not abort a running invocation), but invoke stops waiting for it.
func (p *processor) invoke(ctx context.Context, shardID string, batch []*record, attempt int, reqID string) (invokeResult, error) {
	ev, err := eventFor(batch)
	if err != nil {
		return invokeResult{err: err}, nil
	}
	timeout := p.m.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	ictx = lambdacontext.NewContext(ictx, &lambdacontext.LambdaContext{AwsRequestID: reqID, InvokedFunctionArn: p.functionARN})

	start := time.Now()
	done := make(chan invokeResult, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- invokeResult{err: fmt.Errorf("handler panic: %v\n%s", r, debug.Stack())}
			}
		}()
		resp, err := p.handler(ictx, ev)
		done <- invokeResult{resp: resp, err: err}
	}()
	var res invokeResult
	select {
	case res = <-done:
	case <-ictx.Done():
		res = invokeResult{err: fmt.Errorf("Task timed out after %.2f seconds", timeout.Seconds())}
	case <-ctx.Done():
		return invokeResult{}, ctx.Err()
	}

	attrs := []any{
		"shard", shardID,
		"request_id", reqID,
		"records", len(batch),
		"first_sequence_number", batch[0].seq,
		"last_sequence_number", batch[len(batch)-1].seq,
		"attempt", attempt + 1,
		"latency_ms", float64(time.Since(start).Microseconds()) / 1000,
	}
	switch {
	case res.err != nil:
		p.logger.Error("stream invocation failed", append(attrs, "error", res.err.Error())...)
	case len(res.resp.BatchItemFailures) > 0 && p.m.ReportBatchItemFailures:
		ids := make([]string, len(res.resp.BatchItemFailures))
		for i, f := range res.resp.BatchItemFailures {
			ids[i] = f.ItemIdentifier
		}
		p.logger.Warn("stream invocation reported failures", append(attrs, "failures", len(ids), "failed_items", ids)...)
	default:
		p.logger.Info("stream invocation", append(attrs, "failures", 0)...)
	}
	return res, nil
}

// eventFor builds the DynamoDBEvent from the records' JSON, as the runtime decodes
// it, fresh for each invocation.
func eventFor(batch []*record) (events.DynamoDBEvent, error) {
	buf := []byte(`{"Records":[`)
	for i, r := range batch {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, r.raw...)
	}
	buf = append(buf, "]}"...)
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(buf, &ev); err != nil {
		return ev, fmt.Errorf("decoding the event: %w", err)
	}
	return ev, nil
}

func (p *processor) discard(ctx context.Context, f failure) error {
	attrs := []any{
		"shard", f.shardID,
		"condition", f.condition,
		"records", len(f.batch),
		"first_sequence_number", f.batch[0].seq,
		"last_sequence_number", f.batch[len(f.batch)-1].seq,
	}
	if p.onFailure == nil {
		p.logger.Error("stream batch discarded (no on-failure destination)", attrs...)
		return nil
	}
	p.logger.Error("stream batch sent to the on-failure destination", attrs...)
	return p.onFailure(ctx, f)
}

// onFailureRecord is the invocation record Lambda sends to an SQS/SNS on-failure
// destination for a stream batch (example in "Using AWS Lambda with Amazon
// DynamoDB", "Configuring destinations for event source mapping invocations"). It
// describes the batch; the records themselves are not included.
type onFailureRecord struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError,omitempty"`
	} `json:"responseContext"`
	Version            string `json:"version"`
	Timestamp          string `json:"timestamp"`
	DDBStreamBatchInfo struct {
		ShardID                         string `json:"shardId"`
		StartSequenceNumber             string `json:"startSequenceNumber"`
		EndSequenceNumber               string `json:"endSequenceNumber"`
		ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
		ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
		BatchSize                       int    `json:"batchSize"`
		StreamArn                       string `json:"streamArn"`
	} `json:"DDBStreamBatchInfo"`
}

func (p *processor) failureRecord(f failure) onFailureRecord {
	var r onFailureRecord
	r.RequestContext.RequestID = f.requestID
	if r.RequestContext.RequestID == "" {
		r.RequestContext.RequestID = newUUID()
	}
	r.RequestContext.FunctionArn = p.functionARN
	r.RequestContext.Condition = f.condition
	r.RequestContext.ApproximateInvokeCount = f.invokeCount
	r.ResponseContext.StatusCode = 200
	r.ResponseContext.ExecutedVersion = "$LATEST"
	if f.lastErr != nil {
		r.ResponseContext.FunctionError = "Unhandled"
	}
	r.Version = "1.0"
	r.Timestamp = p.now().UTC().Format("2006-01-02T15:04:05.000Z")
	b := &r.DDBStreamBatchInfo
	b.ShardID = f.shardID
	b.StartSequenceNumber = f.batch[0].seq
	b.EndSequenceNumber = f.batch[len(f.batch)-1].seq
	b.ApproximateArrivalOfFirstRecord = f.batch[0].created.UTC().Format(time.RFC3339)
	b.ApproximateArrivalOfLastRecord = f.batch[len(f.batch)-1].created.UTC().Format(time.RFC3339)
	b.BatchSize = len(f.batch)
	b.StreamArn = p.m.StreamARN
	return r
}
