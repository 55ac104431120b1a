package local

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/infra/template"
)

type fakeQueue struct {
	batch   []sqstypes.Message
	deleted []string
}

func (f *fakeQueue) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out := &sqs.ReceiveMessageOutput{Messages: f.batch}
	f.batch = nil
	return out, nil
}

func (f *fakeQueue) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	for _, e := range in.Entries {
		f.deleted = append(f.deleted, *e.ReceiptHandle)
	}
	return &sqs.DeleteMessageBatchOutput{}, nil
}

// TestPollQueue: what the poller deletes after the consumer answers: the whole batch
// on success, all but the reported failures with ReportBatchItemFailures, nothing on
// an error (the messages come back after the visibility timeout).
func TestPollQueue(t *testing.T) {
	msgs := func() []sqstypes.Message {
		var out []sqstypes.Message
		for _, id := range []string{"a", "b", "c"} {
			out = append(out, sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String(`{"id":"` + id + `"}`),
				Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
		}
		return out
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	q := Queue{Name: "q", URL: "http://127.0.0.1/123456789012/q", ARN: "arn:aws:sqs:us-east-1:123456789012:q"}
	cases := []struct {
		name    string
		reports bool
		answer  events.SQSEventResponse
		err     error
		deleted []string
	}{
		{"success", true, events.SQSEventResponse{}, nil, []string{"rh-a", "rh-b", "rh-c"}},
		{"one reported", true, events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "b"}}}, nil, []string{"rh-a", "rh-c"}},
		{"reports ignored without the response type", false, events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "b"}}}, nil, []string{"rh-a", "rh-b", "rh-c"}},
		{"error", true, events.SQSEventResponse{}, errors.New("boom"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeQueue{batch: msgs()}
			m := template.QueueMapping{Function: "fn", BatchSize: 10}
			if c.reports {
				m.FunctionResponseTypes = []string{"ReportBatchItemFailures"}
			}
			var got events.SQSEvent
			var deadline bool
			pollOnce(context.Background(), f, q, m, time.Second, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				got = ev
				_, deadline = ctx.Deadline()
				return c.answer, c.err
			}, &QueueStats{}, log)
			if len(got.Records) != 3 || got.Records[1].Body != `{"id":"b"}` || got.Records[0].EventSourceARN != q.ARN ||
				got.Records[0].Attributes["ApproximateReceiveCount"] != "1" {
				t.Errorf("event %+v", got)
			}
			if !deadline {
				t.Error("the consumer ran without its timeout as a deadline")
			}
			if !slices.Equal(f.deleted, c.deleted) {
				t.Errorf("deleted %v, want %v", f.deleted, c.deleted)
			}
		})
	}
}
