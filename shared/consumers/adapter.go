package consumers

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/api"
	"opsconsole/shared/function"
)

// Reread reads an item again by its key, strongly consistent, for a record sent
// without its images; nil (no error) when the item is gone.
type Reread func(ctx context.Context, keys map[string]events.DynamoDBAttributeValue) (map[string]events.DynamoDBAttributeValue, error)

// Adapter serves an SQS batch of routed stream records to a stream handler written
// for a DynamoDB event source mapping, so that its logic and tests do not change.
//
// The contract of a stream handler's batchItemFailures is "everything from this
// record on is not done" (a stream resumes from the first failure, and the handlers
// stop there), so every message from the earliest failed record on is reported
// failed: on a FIFO queue that is what keeps a group's later messages from being
// deleted past a failed one (Lambda deletes every message not reported, and AWS asks
// FIFO consumers to report the failed one and all unprocessed ones), and on a
// standard queue it retries only what the handler did not do. A handler error fails
// every record it was given. A message that is not a stream record is reported failed, so that
// its queue's redrive moves it to the dead-letter queue after maxReceiveCount.
//
// Before it reports a failure, the adapter runs the handler again on what is left, a
// few times with a short pause, as a stream mapping retries a batch at once: a failed
// message otherwise waits out its queue's visibility timeout (at least the function's
// timeout). The handlers are idempotent (a stream replays too).
//
// A record the router sent without its images (OmittedAttr) gets its NewImage read
// again (Reread) as the item is now; its OldImage stays empty. Every consumer of
// Table is exact with that: only the audit writer is sent whole images, of INSERTs
// of change records, which are never changed after.
type Adapter struct {
	Handler function.StreamHandler
	Reread  Reread
	// Attempts bounds the handler's runs per batch (0 means 3); Pause is the wait
	// before run n+1 (nil means 200 ms times 4^(n-1)).
	Attempts int
	Pause    func(n int) time.Duration
}

// FromQueue is the SQS handler of h (with Adapter's defaults).
func FromQueue(h function.StreamHandler, reread Reread) function.SQSHandler {
	return Adapter{Handler: h, Reread: reread}.Handle
}

// Handle is the SQS handler.
func (a Adapter) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	stream := make([]events.DynamoDBEventRecord, 0, len(ev.Records))
	msgOf := make([]int, 0, len(ev.Records)) // stream[i] came in ev.Records[msgOf[i]]
	bad := map[int]bool{}
	for i, m := range ev.Records {
		r, err := Decode(m.Body)
		if err == nil && m.MessageAttributes[OmittedAttr].StringValue != nil {
			err = a.fill(ctx, &r)
		}
		if err != nil {
			api.Log(ctx).ErrorContext(ctx, "routed message not read; it is retried, then dead-lettered",
				"messageId", m.MessageId, "error", err.Error())
			bad[i] = true
			continue
		}
		stream = append(stream, r)
		msgOf = append(msgOf, i)
	}
	first := len(ev.Records) // the earliest message the handler has not done
	if len(stream) > 0 {
		if done := a.run(ctx, stream); done < len(stream) {
			first = msgOf[done]
		}
	}
	for i, m := range ev.Records {
		if bad[i] || i >= first {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// run gives the records to the handler, again from the first one it did not do, up
// to Attempts times; it returns how many of them are done. A handler error means
// none of the records it was given is done (the whole batch, as Lambda takes it).
func (a Adapter) run(ctx context.Context, recs []events.DynamoDBEventRecord) int {
	attempts := a.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	done := 0
	for n := 1; ; n++ {
		began := time.Now()
		out, err := a.Handler(ctx, events.DynamoDBEvent{Records: recs[done:]})
		failed := len(recs) - done // index in recs[done:] of the earliest failure
		if err == nil {
			failed, err = earliest(recs[done:], out.BatchItemFailures)
		}
		if err == nil && failed == len(recs)-done {
			return len(recs)
		}
		if err == nil {
			done += failed
			err = fmt.Errorf("the handler reported record %s failed", recs[done].Change.SequenceNumber)
		}
		pause := a.pause(n)
		if n == attempts || !timeFor(ctx, pause+time.Since(began)) {
			api.Log(ctx).ErrorContext(ctx, "consumer batch failed; its queue gives the rest again after the visibility timeout",
				"attempts", n, "records", len(recs)-done, "error", err.Error())
			return done
		}
		api.Log(ctx).WarnContext(ctx, "consumer batch failed; running it again from its first failure",
			"attempt", n, "records", len(recs)-done, "error", err.Error())
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return done
		case <-t.C:
		}
	}
}

// earliest is the index of the earliest record a handler reported failed (len(recs)
// when none); an identifier that is no record of the batch is an error, and the
// whole batch is retried (as Lambda does for a stream).
func earliest(recs []events.DynamoDBEventRecord, failures []events.DynamoDBBatchItemFailure) (int, error) {
	first := len(recs)
	for _, f := range failures {
		i := 0
		for i < len(recs) && recs[i].Change.SequenceNumber != f.ItemIdentifier {
			i++
		}
		if i == len(recs) {
			return 0, fmt.Errorf("the handler reported %q, which is no record of the batch", f.ItemIdentifier)
		}
		first = min(first, i)
	}
	return first, nil
}

func (a Adapter) pause(n int) time.Duration {
	if a.Pause != nil {
		return a.Pause(n)
	}
	return 200 * time.Millisecond << (2 * (n - 1))
}

// timeFor tells whether ctx's deadline leaves d and a second more.
func timeFor(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d+time.Second
}

// fill reads the item of a record sent without its images.
func (a Adapter) fill(ctx context.Context, r *events.DynamoDBEventRecord) error {
	if a.Reread == nil {
		return fmt.Errorf("record %s came without its images and the consumer cannot read the table", r.EventID)
	}
	img, err := a.Reread(ctx, r.Change.Keys)
	if err != nil {
		return fmt.Errorf("record %s: reading its item again: %w", r.EventID, err)
	}
	r.Change.NewImage = img
	return nil
}
