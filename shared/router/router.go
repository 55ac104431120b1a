// Package router is the stream-router function, the table stream's one reader: it
// matches each record of a batch against every consumer of shared/consumers and
// sends it, projected, to the queue of each consumer that wants it, in SendMessageBatch
// calls of up to 10 messages and 1 MiB per queue. A record it could not send is its
// batch's item failure: the stream gives it and the records after it again (a
// standard queue may then get a duplicate, which the consumers' idempotence absorbs;
// a FIFO queue drops it by its deduplication id, the record's eventID).
package router

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/shared/api"
	"opsconsole/shared/config"
	"opsconsole/shared/consumers"
	"opsconsole/shared/function"
)

// Sender is the part of the SQS client the router uses.
type Sender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Route is one consumer and its queue.
type Route struct {
	Consumer consumers.Consumer
	QueueURL string
}

// Router sends records to their consumers' queues.
type Router struct {
	SQS    Sender
	Routes []Route
	// Backoff is the pause before resending the entries a batch call failed (an
	// attempt number from 1); nil means 50 ms doubling.
	Backoff func(attempt int) time.Duration
}

// attempts bounds the tries of the entries a SendMessageBatch failed (the SDK's own
// retryer already retries a failed call).
const attempts = 3

// maxEntries is SendMessageBatch's limit.
const maxEntries = 10

// Function is the stream-router's builder: the queue of every consumer of
// consumers.Table comes from the environment (consumers.QueueEnv); a missing one
// stops the cold start rather than drop that consumer's records.
var Function function.Builder = function.BuildFunc(func(ctx context.Context) (function.Function, error) {
	cfg, err := config.Load(ctx)
	if err != nil {
		return function.Function{}, err
	}
	routes, err := RoutesFromEnv()
	if err != nil {
		return function.Function{}, err
	}
	r := &Router{SQS: sqs.NewFromConfig(cfg.AWS), Routes: routes}
	return function.Function{Stream: r.Handle}, nil
})

// RoutesFromEnv pairs every consumer with the queue URL its QueueEnv holds.
func RoutesFromEnv() ([]Route, error) {
	var out []Route
	for _, c := range consumers.Table {
		url := os.Getenv(consumers.QueueEnv(c.Name))
		if url == "" {
			return nil, fmt.Errorf("%s is not set: the queue of consumer %s", consumers.QueueEnv(c.Name), c.Name)
		}
		out = append(out, Route{Consumer: c, QueueURL: url})
	}
	return out, nil
}

// entry is one message on its way, and the record it carries.
type entry struct {
	rec int // index in the batch
	in  sqstypes.SendMessageBatchRequestEntry
	len int
}

// Handle is the stream handler.
func (r *Router) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	failed := len(ev.Records) // the earliest record not sent everywhere
	for _, route := range r.Routes {
		var todo []entry
		for i, rec := range ev.Records {
			if !route.Consumer.Match(rec) {
				continue
			}
			m, err := route.Consumer.Encode(rec)
			if err != nil {
				// A record we cannot encode will not encode on retry either.
				api.Log(ctx).ErrorContext(ctx, "record not routed: unencodable", "consumer", route.Consumer.Name,
					"sequenceNumber", rec.Change.SequenceNumber, "error", err.Error())
				continue
			}
			if m.Omitted {
				api.Log(ctx).WarnContext(ctx, "record routed without its images, over SQS's message size; the consumer reads the item",
					"consumer", route.Consumer.Name, "sequenceNumber", rec.Change.SequenceNumber, "sizeBytes", rec.Change.SizeBytes)
			}
			todo = append(todo, entry{rec: i, in: toEntry(len(todo), m), len: len(m.Body) + 64})
		}
		if n := r.send(ctx, route, todo); n < failed {
			failed = n
		}
	}
	if failed < len(ev.Records) {
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[failed].Change.SequenceNumber}}
	}
	return resp, nil
}

func toEntry(i int, m consumers.Message) sqstypes.SendMessageBatchRequestEntry {
	e := sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(m.Body)}
	if m.Omitted {
		e.MessageAttributes = map[string]sqstypes.MessageAttributeValue{
			consumers.OmittedAttr: {DataType: aws.String("String"), StringValue: aws.String("true")},
		}
	}
	if m.GroupID != "" {
		e.MessageGroupId, e.MessageDeduplicationId = aws.String(m.GroupID), aws.String(m.DeduplicationID)
	}
	return e
}

// send sends the entries in calls of up to 10 entries and 1 MiB, and returns the
// index of the earliest record that did not reach the queue (len(batch) when all
// did, so a large number). It stops at the first call that fails for good: the
// records from there on are the batch's failure and come again.
func (r *Router) send(ctx context.Context, route Route, todo []entry) int {
	const all = int(^uint(0) >> 1)
	for len(todo) > 0 {
		n, size := 0, 0
		for n < len(todo) && n < maxEntries && size+todo[n].len <= consumers.MaxMessageBytes {
			size += todo[n].len
			n++
		}
		if n == 0 {
			n = 1
		}
		if rec, ok := r.sendCall(ctx, route, todo[:n]); !ok {
			return rec
		}
		todo = todo[n:]
	}
	return all
}

// sendCall sends one call's entries, resending those it failed; false with the
// earliest record still unsent when attempts are spent.
func (r *Router) sendCall(ctx context.Context, route Route, call []entry) (int, bool) {
	byID := map[string]entry{}
	for _, e := range call {
		byID[aws.ToString(e.in.Id)] = e
	}
	for attempt := 1; ; attempt++ {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(route.QueueURL)}
		for _, e := range call {
			in.Entries = append(in.Entries, e.in)
		}
		out, err := r.SQS.SendMessageBatch(ctx, in)
		var retry []entry
		var reason string
		if err != nil {
			retry, reason = call, err.Error()
		} else {
			for _, f := range out.Failed {
				if e, ok := byID[aws.ToString(f.Id)]; ok {
					retry = append(retry, e)
					reason = aws.ToString(f.Code) + ": " + aws.ToString(f.Message)
				}
			}
		}
		if len(retry) == 0 {
			return 0, true
		}
		earliest := retry[0].rec
		for _, e := range retry {
			earliest = min(earliest, e.rec)
		}
		if attempt == attempts || ctx.Err() != nil {
			api.Log(ctx).ErrorContext(ctx, "records not routed; the stream gives them again", "consumer", route.Consumer.Name,
				"messages", len(retry), "error", reason)
			return earliest, false
		}
		api.Log(ctx).WarnContext(ctx, "routing failed; resending", "consumer", route.Consumer.Name, "messages", len(retry),
			"attempt", attempt, "error", reason)
		if err := pause(ctx, r.backoff(attempt)); err != nil {
			return earliest, false
		}
		call = retry
	}
}

func (r *Router) backoff(attempt int) time.Duration {
	if r.Backoff != nil {
		return r.Backoff(attempt)
	}
	return 50 * time.Millisecond << (attempt - 1)
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
