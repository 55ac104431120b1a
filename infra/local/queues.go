package local

// SQS event source mappings: what Lambda's poller does for a function with an SQS
// event, played over moto's queues. It long-polls, invokes the consumer with a batch,
// and deletes the messages that succeeded (all of them when the function returns no
// error, minus those it reports in batchItemFailures when the mapping has
// ReportBatchItemFailures); the others come back after the queue's visibility
// timeout, and moto moves a message that was received maxReceiveCount times to the
// dead-letter queue of its RedrivePolicy. Not played: scaling, batching windows,
// maximum concurrency.

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/infra/template"
	"opsconsole/shared/lambdas"
)

// queueAPI is the part of the SQS client the poller uses.
type queueAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// pollQueue serves mapping m of queue q until ctx ends.
func pollQueue(ctx context.Context, api queueAPI, q Queue, m template.QueueMapping, handler lambdas.SQSHandler, log *slog.Logger) {
	timeout := time.Duration(m.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 3 * time.Second // Lambda's default
	}
	for ctx.Err() == nil {
		pollOnce(ctx, api, q, m, timeout, handler, log)
	}
}

// pollOnce receives one batch (waiting up to a second for one) and hands it over.
func pollOnce(ctx context.Context, api queueAPI, q Queue, m template.QueueMapping, timeout time.Duration, handler lambdas.SQSHandler, log *slog.Logger) {
	out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.URL), MaxNumberOfMessages: int32(min(max(m.BatchSize, 1), 10)), WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("queue poll failed", "function", m.Function, "queue", q.Name, "error", err)
			pause(ctx, 500*time.Millisecond)
		}
		return
	}
	if len(out.Messages) == 0 {
		return
	}
	ev := events.SQSEvent{}
	for _, msg := range out.Messages {
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
	for _, r := range ev.Records {
		if failed[r.MessageId] {
			continue
		}
		// A context of its own: a message handled just before the stop is still deleted.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if _, err := api.DeleteMessage(dctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(r.ReceiptHandle)}); err != nil {
			log.Warn("queue message not deleted", "function", m.Function, "queue", q.Name, "messageId", r.MessageId, "error", err)
		}
		cancel()
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
