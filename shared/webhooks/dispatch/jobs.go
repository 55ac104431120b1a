// Package dispatch is the webhooks' delivery pipeline up to the queue: the jobs of
// the delivery queue (SQS) and the dispatcher, the stream consumer that turns change
// records into deliveries and jobs. It links the SQS client, not KMS nor mail.
package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"opsconsole/shared/nodes"
)

// The kinds of work on the delivery queue.
const (
	JobVerify  = "verify"
	JobDeliver = "deliver"
	JobRecover = "recover"
)

// Job is one message of the delivery queue.
type Job struct {
	Kind       string `json:"kind"`
	EndpointID string `json:"endpointId"`
	// Delivery is the delivery's key (its event's ULID); Attempt the number of
	// attempts the delivery had when this one was queued, so that a message seen twice
	// makes one attempt.
	Delivery string `json:"delivery,omitempty"`
	Attempt  int    `json:"attempt"`
	// DueAt is when the attempt is due, for a wait longer than SQS's 15-minute delay:
	// the message is sent again until then.
	DueAt string `json:"dueAt,omitempty"`
	// Manual is a redelivery or recovery: one attempt, no schedule after it.
	Manual bool `json:"manual,omitempty"`
	// Since, Until and After are a recovery's span and its progress (the last
	// delivery key re-sent).
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
	After string `json:"after,omitempty"`
}

// Queue is the part of the SQS client the jobs use.
type Queue interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Jobs sends work to the delivery queue (WEBHOOK_QUEUE_URL).
type Jobs struct {
	Queue Queue
	URL   string
}

// MaxDelay is SQS's longest message delay.
const MaxDelay = 15 * time.Minute

// delaySeconds is the SQS delay of a job due in d (at most MaxDelay).
func delaySeconds(d time.Duration) int32 {
	return int32(min(max(d, 0), MaxDelay).Round(time.Second) / time.Second)
}

// Send queues j to run in delay; a longer delay than SQS allows is carried in DueAt.
func (q *Jobs) Send(ctx context.Context, j Job, delay time.Duration, now time.Time) error {
	if q == nil || q.Queue == nil {
		return fmt.Errorf("webhooks: no delivery queue")
	}
	if delay > MaxDelay {
		j.DueAt = nodes.Stamp(now.Add(delay))
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = q.Queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.URL, MessageBody: aws.String(string(b)), DelaySeconds: delaySeconds(delay)})
	return err
}

// SendNow queues jobs to run at once, ten per call.
func (q *Jobs) SendNow(ctx context.Context, jobs []Job) error {
	if q == nil || q.Queue == nil {
		return fmt.Errorf("webhooks: no delivery queue")
	}
	for start := 0; start < len(jobs); start += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i, j := range jobs[start:min(start+10, len(jobs))] {
			b, err := json.Marshal(j)
			if err != nil {
				return err
			}
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(b))})
		}
		out, err := q.Queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.URL, Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("webhooks: %d of %d messages not queued: %s", len(out.Failed), len(entries), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

// QueueEnv names the variable of the delivery queue's URL.
const QueueEnv = "WEBHOOK_QUEUE_URL"

// JobsFromEnv are the jobs of the delivery queue WEBHOOK_QUEUE_URL names.
func JobsFromEnv(d deps.Deps) *Jobs {
	return &Jobs{Queue: sqs.NewFromConfig(d.Config.AWS), URL: os.Getenv(QueueEnv)}
}

// Function is the webhook-dispatcher's stream consumer.
func Function(d deps.Deps) function.StreamHandler {
	return (&Dispatcher{Store: d.Store, Jobs: JobsFromEnv(d)}).Handle
}
