package local

// SQS event source mappings: what Lambda's poller does for a function with an SQS
// event, played over moto's queues. It long-polls, gathers a batch (BatchSize, within
// MaximumBatchingWindowInSeconds), invokes the consumer with it, and deletes the
// messages that succeeded (all of them when the function returns no error, minus
// those it reports in batchItemFailures when the mapping has
// ReportBatchItemFailures); the others come back after the queue's visibility
// timeout, and moto moves a message that was received maxReceiveCount times to the
// dead-letter queue of its RedrivePolicy. FIFO queues: moto delivers no message of a
// group while another of it is in flight (received, not yet deleted or timed out),
// and a group's messages in order, so the pollers (pollersPerMapping of them, as
// Lambda runs several batches of different groups at once) keep each group's order.
// Not played: scaling past pollersPerMapping, maximum concurrency. moto's
// deduplication differs from SQS's: it drops a FIFO message whose deduplication id
// is that of a message still in the queue, not of any sent in the last 5 minutes.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/infra/template"
	"opsconsole/shared/lambdas"
)

// pollersPerMapping is how many batches of one SQS mapping run at once locally (in
// Lambda, up to the function's concurrency): two, so that one long batch (a cascade
// run) does not hold up every other, and a FIFO group's order is still kept by moto.
const pollersPerMapping = 2

// QueueStats counts an SQS mapping's requests and invocations (the receives, empty
// ones included, and the DeleteMessageBatch calls), for the measurements of
// docs/streams.md.
type QueueStats struct {
	receives, messages, invocations, deletes atomic.Int64
}

// QueueCounts is a snapshot of QueueStats.
type QueueCounts struct {
	Receives, Messages, Invocations, Deletes int64
}

// Counts reads the counters.
func (s *QueueStats) Counts() QueueCounts {
	return QueueCounts{Receives: s.receives.Load(), Messages: s.messages.Load(), Invocations: s.invocations.Load(), Deletes: s.deletes.Load()}
}

// queueAPI is the part of the SQS client the poller uses.
type queueAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// pollQueue serves mapping m of queue q until ctx ends.
func pollQueue(ctx context.Context, api queueAPI, q Queue, m template.QueueMapping, handler lambdas.SQSHandler, stats *QueueStats, log *slog.Logger) {
	timeout := time.Duration(m.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 3 * time.Second // Lambda's default
	}
	for ctx.Err() == nil {
		pollOnce(ctx, api, q, m, timeout, handler, stats, log)
	}
}

// pollOnce receives one batch and hands it over. It waits up to a second for a first
// message, then, as Lambda does with MaximumBatchingWindowInSeconds, gathers more
// until the batch is full or the window since the first has passed (ReceiveMessage
// returns at most 10 a call); with no window, a FIFO batch takes what is there now.
//
// A FIFO queue is received one message a call, so that a batch holds at most one
// message of each group: moto 5.2.5 breaks a group's order when two of its messages
// come back together from a failed batch (its receive frees the group's lock one
// message at a time, so the later one is delivered first), and one message of a
// group at a time never has two in flight. SQS itself keeps the order, and Lambda may
// put several messages of a group in one batch; the adapter's rule (every message
// after a failed one is reported too) holds either way.
func pollOnce(ctx context.Context, api queueAPI, q Queue, m template.QueueMapping, timeout time.Duration, handler lambdas.SQSHandler, stats *QueueStats, log *slog.Logger) {
	size := max(m.BatchSize, 1)
	window := time.Duration(m.MaximumBatchingWindowInSeconds) * time.Second
	fifo := strings.HasSuffix(q.Name, ".fifo")
	per := int32(10)
	if fifo {
		per = 1
	}
	var msgs []sqstypes.Message
	var windowEnd time.Time
	for len(msgs) < size {
		wait := int32(1)
		if len(msgs) > 0 {
			wait = 0 // within the window: poll, and pause a little when empty
		}
		out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.URL), MaxNumberOfMessages: min(int32(size-len(msgs)), per), WaitTimeSeconds: wait,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		stats.receives.Add(1)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("queue poll failed", "function", m.Function, "queue", q.Name, "error", err)
			if len(msgs) == 0 {
				pause(ctx, 500*time.Millisecond)
				return
			}
			break // invoke with what was received
		}
		stats.messages.Add(int64(len(out.Messages)))
		if len(msgs) == 0 {
			if len(out.Messages) == 0 {
				return
			}
			windowEnd = time.Now().Add(window)
		}
		msgs = append(msgs, out.Messages...)
		if fifo && window == 0 {
			if len(out.Messages) == 0 {
				break // what was there
			}
			continue
		}
		if !time.Now().Before(windowEnd) {
			break
		}
		if len(out.Messages) == 0 {
			pause(ctx, min(50*time.Millisecond, time.Until(windowEnd)))
		}
	}
	ev := events.SQSEvent{}
	for _, msg := range msgs {
		attrs := map[string]events.SQSMessageAttribute{}
		for k, v := range msg.MessageAttributes {
			attrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType)}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(msg.MessageId), ReceiptHandle: aws.ToString(msg.ReceiptHandle),
			Body: aws.ToString(msg.Body), Md5OfBody: aws.ToString(msg.MD5OfBody), Attributes: msg.Attributes,
			MessageAttributes: attrs, EventSource: "aws:sqs", EventSourceARN: q.ARN, AWSRegion: Region,
		})
	}
	stats.invocations.Add(1)
	hctx, cancel := context.WithTimeout(ctx, timeout)
	resp, err := handler(hctx, ev)
	cancel()
	if err != nil {
		// The whole batch comes back after the visibility timeout.
		log.Warn("queue consumer failed", "function", m.Function, "queue", q.Name, "messages", len(ev.Records), "error", err)
		return
	}
	failed := map[string]bool{}
	if m.ReportsBatchItemFailures() {
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for i, r := range ev.Records {
		if !failed[r.MessageId] {
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(r.ReceiptHandle)})
		}
	}
	// As Lambda does, in DeleteMessageBatch calls of up to 10; a context of its own, so
	// that a message handled just before the stop is still deleted.
	for len(del) > 0 {
		n := min(len(del), 10)
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		out, err := api.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: del[:n]})
		cancel()
		stats.deletes.Add(1)
		switch {
		case err != nil:
			log.Warn("queue messages not deleted", "function", m.Function, "queue", q.Name, "messages", n, "error", err)
		case len(out.Failed) > 0:
			log.Warn("queue messages not deleted", "function", m.Function, "queue", q.Name, "messages", len(out.Failed), "error", aws.ToString(out.Failed[0].Message))
		}
		del = del[n:]
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
