package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"opsconsole/shared/consumers"
)

// sender stands in for SQS: the end-to-end tests (infra/e2e TestStreamRouter*) send
// to moto's real queues; this one exists for what moto cannot be made to do, refuse
// some entries of a batch or a whole call, and to count the calls.
type sender struct {
	calls []*sqs.SendMessageBatchInput
	// fail decides an entry's fate on call n (from 1): "" succeeds.
	fail func(n int, e sqstypes.SendMessageBatchRequestEntry) string
	// down fails whole calls while positive.
	down int
}

func (s *sender) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.calls = append(s.calls, in)
	if s.down > 0 {
		s.down--
		return nil, errors.New("503 service unavailable")
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if s.fail != nil {
			if code := s.fail(len(s.calls), e); code != "" {
				out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String(code), Message: aws.String("no")})
				continue
			}
		}
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("id-" + *e.Id)})
	}
	return out, nil
}

func str(v string) events.DynamoDBAttributeValue { return events.NewStringAttribute(v) }

func nodeRec(i int, name string) events.DynamoDBEventRecord {
	id := fmt.Sprintf("org_%02d", i)
	img := map[string]events.DynamoDBAttributeValue{"PK": str("NODE#" + id), "SK": str("NODE"), "type": str("node"), "id": str(id),
		"kind": str("organization"), "parentId": str("ptn_1"), "status": str("active"), "version": events.NewNumberAttribute("1")}
	r := events.DynamoDBEventRecord{EventID: fmt.Sprintf("ev%02d", i), EventName: name,
		Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{"PK": str("NODE#" + id), "SK": str("NODE")},
			SequenceNumber: fmt.Sprintf("%03d", i)}}
	if name == "REMOVE" {
		r.Change.OldImage = img
	} else {
		r.Change.NewImage = img
	}
	return r
}

func routes() []Route {
	var out []Route
	for _, c := range consumers.Table {
		out = append(out, Route{Consumer: c, QueueURL: "q/" + c.Name})
	}
	return out
}

func byQueue(calls []*sqs.SendMessageBatchInput) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[*c.QueueUrl] += len(c.Entries)
	}
	return out
}

// TestRouter: each record reaches the queues of the consumers that want it, in calls
// of at most 10, FIFO entries with their group and deduplication ids.
func TestRouter(t *testing.T) {
	var ev events.DynamoDBEvent
	for i := range 23 {
		ev.Records = append(ev.Records, nodeRec(i, "INSERT"))
	}
	ev.Records = append(ev.Records, nodeRec(23, "REMOVE"))
	ev.Records = append(ev.Records, events.DynamoDBEventRecord{EventID: "x", EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		Keys: map[string]events.DynamoDBAttributeValue{"PK": str("USER#1"), "SK": str("USER")}, SequenceNumber: "999"}})
	s := &sender{}
	r := &Router{SQS: s, Routes: routes()}
	resp, err := r.Handle(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%v %+v", err, resp)
	}
	// The console user's record too goes to the counter (the dashboard's totals).
	if got := byQueue(s.calls); got["q/tree-counter"] != 25 || got["q/node-sweeper"] != 1 || len(got) != 2 {
		t.Errorf("messages per queue %v", got)
	}
	// 25 to the counter: 10, 10, 5; one to the sweeper.
	if len(s.calls) != 4 {
		t.Errorf("%d calls, want 4", len(s.calls))
	}
	e := s.calls[0].Entries[3]
	if aws.ToString(e.MessageGroupId) != "NODE#org_03|NODE" || aws.ToString(e.MessageDeduplicationId) != "ev03" {
		t.Errorf("FIFO entry %+v", e)
	}
	if s.calls[3].Entries[0].MessageGroupId != nil {
		t.Error("a standard queue's entry has a group")
	}
}

// TestRouterSizeLimit: a call holds at most 1 MiB.
func TestRouterSizeLimit(t *testing.T) {
	var ev events.DynamoDBEvent
	for i := range 5 {
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{EventID: fmt.Sprint(i), EventName: "INSERT", Change: events.DynamoDBStreamRecord{
			Keys:           map[string]events.DynamoDBAttributeValue{"PK": str(fmt.Sprintf("CHANGE#%d", i)), "SK": str("CHANGE")},
			NewImage:       map[string]events.DynamoDBAttributeValue{"type": str("change"), "blob": str(strings.Repeat("x", 300_000))},
			SequenceNumber: fmt.Sprint(i)}})
	}
	s := &sender{}
	if _, err := (&Router{SQS: s, Routes: routes()}).Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	// 300 KB each: three to a call, for each of the two consumers of change records
	// (the audit writer, the webhook dispatcher).
	var sizes []int
	for _, c := range s.calls {
		n := 0
		for _, e := range c.Entries {
			n += len(*e.MessageBody)
		}
		if n > consumers.MaxMessageBytes {
			t.Errorf("a call of %d bytes", n)
		}
		sizes = append(sizes, len(c.Entries))
	}
	if !slices.Equal(sizes, []int{3, 2, 3, 2}) {
		t.Errorf("entries per call %v, want [3 2 3 2]", sizes)
	}
}

// TestRouterFailures: the batch's failure is the earliest record that did not reach
// every queue, after the router's own resends.
func TestRouterFailures(t *testing.T) {
	var ev events.DynamoDBEvent
	for i := range 25 {
		ev.Records = append(ev.Records, nodeRec(i, "INSERT"))
	}
	noPause := func(int) time.Duration { return 0 }
	t.Run("an entry refused once is resent", func(t *testing.T) {
		s := &sender{fail: func(n int, e sqstypes.SendMessageBatchRequestEntry) string {
			if n == 1 && *e.Id == "4" {
				return "InternalError"
			}
			return ""
		}}
		resp, _ := (&Router{SQS: s, Routes: routes(), Backoff: noPause}).Handle(context.Background(), ev)
		if len(resp.BatchItemFailures) != 0 || len(s.calls) != 4 || len(s.calls[1].Entries) != 1 || *s.calls[1].Entries[0].Id != "4" {
			t.Errorf("failures %+v; calls %d", resp.BatchItemFailures, len(s.calls))
		}
	})
	t.Run("an entry refused for good fails from its record", func(t *testing.T) {
		s := &sender{fail: func(_ int, e sqstypes.SendMessageBatchRequestEntry) string {
			if *e.Id == "14" || *e.Id == "17" {
				return "InternalError"
			}
			return ""
		}}
		resp, _ := (&Router{SQS: s, Routes: routes(), Backoff: noPause}).Handle(context.Background(), ev)
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "014" {
			t.Errorf("failures %+v, want record 014", resp.BatchItemFailures)
		}
		// The first call, then the second three times; the third is not sent.
		if len(s.calls) != 4 {
			t.Errorf("%d calls, want 4", len(s.calls))
		}
	})
	t.Run("SQS down fails from the first record", func(t *testing.T) {
		s := &sender{down: 100}
		resp, _ := (&Router{SQS: s, Routes: routes(), Backoff: noPause}).Handle(context.Background(), ev)
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "000" || len(s.calls) != attempts {
			t.Errorf("failures %+v after %d calls", resp.BatchItemFailures, len(s.calls))
		}
	})
	t.Run("SQS back within the attempts", func(t *testing.T) {
		s := &sender{down: 2}
		resp, _ := (&Router{SQS: s, Routes: routes(), Backoff: noPause}).Handle(context.Background(), ev)
		if len(resp.BatchItemFailures) != 0 {
			t.Errorf("failures %+v", resp.BatchItemFailures)
		}
	})
}

// TestRoutesFromEnv: every consumer needs its queue.
func TestRoutesFromEnv(t *testing.T) {
	for _, c := range consumers.Table {
		t.Setenv(consumers.QueueEnv(c.Name), "http://q/"+c.Name)
	}
	rs, err := RoutesFromEnv()
	if err != nil || len(rs) != len(consumers.Table) || rs[1].QueueURL != "http://q/"+consumers.Table[1].Name {
		t.Fatalf("%v %+v", err, rs)
	}
	t.Setenv(consumers.QueueEnv(consumers.Table[0].Name), "")
	if _, err := RoutesFromEnv(); err == nil {
		t.Error("a consumer without its queue built")
	}
}
