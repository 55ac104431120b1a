package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/oklog/ulid/v2"

	"opsconsole/infra/local/localtest"
	"opsconsole/shared/audit"
	"opsconsole/shared/awscall"
	"opsconsole/shared/deps"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
	"opsconsole/shared/webhooks"
	"opsconsole/shared/webhooks/deliver"
	"opsconsole/shared/webhooks/dispatch"
)

// failingOn is always 500 for events (not for the challenge).
func failingOn(w http.ResponseWriter, h hook, n int) {
	http.Error(w, "receiver down", http.StatusInternalServerError)
}

func TestWebhookRecoverRedeliverAndTest(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	rcv := newReceiver(t)
	ep := activeEndpoint(t, tok, part.ID, rcv, "organization.created")
	rcv.set(failingOn)
	since := time.Now().UTC().Add(-time.Second)
	var orgs []string
	for i := range 3 {
		orgs = append(orgs, createOrganization(t, tok, part.ID, unique(fmt.Sprintf("Missed %d", i))).ID)
	}
	// Down for longer than the whole (compressed) schedule: each delivery fails.
	eventually(t, 40*time.Second, func() error {
		if n := len(deliveries(t, tok, ep.ID, "&status=failed")); n < 3 {
			return fmt.Errorf("%d failed deliveries", n)
		}
		return nil
	})
	failed := deliveries(t, tok, ep.ID, "&status=failed")
	for _, d := range failed {
		if want := len(strings.Split(localtest.TestRetrySchedule, ",")) + 1; len(d.Attempts) != want {
			t.Errorf("delivery %s failed after %d attempts, want %d", d.ID, len(d.Attempts), want)
		}
	}
	rcv.set(nil)
	before := len(rcv.events(""))
	do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + ep.ID + "/recover", token: tok,
		body: map[string]string{"since": since.Format(time.RFC3339)}}).expect(t, 202)
	waitHooks(t, 30*time.Second, "recovered events", func() int { return len(rcv.events("")) - before }, 3)
	recovered := rcv.events("")[before:]
	for i, h := range recovered {
		var d struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		}
		_ = json.Unmarshal(h.Envelope.Data, &d)
		if d.Resource.ID != orgs[i] {
			t.Errorf("recovered event %d is about %s, want %s (the original order)", i, d.Resource.ID, orgs[i])
		}
		verifies(t, h, ep.Secret)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(deliveries(t, tok, ep.ID, "&status=failed")); n != 0 {
			return fmt.Errorf("%d deliveries still failed", n)
		}
		return nil
	})

	// Redeliver one: the same webhook-id again.
	d := deliveries(t, tok, ep.ID, "")[0]
	do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + ep.ID + "/deliveries/" + d.ID + "/redeliver", token: tok}).expect(t, 202)
	waitHooks(t, 20*time.Second, "redelivered", func() int {
		n := 0
		for _, h := range rcv.events("") {
			if h.ID == d.EventID {
				n++
			}
		}
		return n
	}, len(d.Attempts)+1)
	// A test event.
	res := do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + ep.ID + "/test", token: tok})
	res.expect(t, 202)
	waitHooks(t, 20*time.Second, "webhook.test", func() int { return len(rcv.events("webhook.test")) }, 1)
	verifies(t, rcv.events("webhook.test")[0], ep.Secret)
	// The replays are audited.
	eventually(t, 10*time.Second, func() error {
		var p struct {
			Items []struct {
				Action string `json:"action"`
			} `json:"items"`
		}
		do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + ep.ID + "&limit=100", token: tok}).json(t, &p)
		seen := map[string]bool{}
		for _, e := range p.Items {
			seen[e.Action] = true
		}
		for _, a := range []string{"created", "verified", "recovered", "redelivered", "tested"} {
			if !seen["webhook-endpoint."+a] {
				return fmt.Errorf("no webhook-endpoint.%s entry among %v", a, seen)
			}
		}
		return nil
	})
}

func TestWebhookSecretRotation(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	rcv := newReceiver(t)
	ep := activeEndpoint(t, tok, part.ID, rcv, "organization.*")
	res := do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + ep.ID + "/rotate-secret", token: tok})
	res.expect(t, 200)
	var rotated webhookEndpoint
	res.json(t, &rotated)
	if rotated.Secret == ep.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
		t.Fatalf("rotated secret %q", rotated.Secret)
	}
	if got := getEndpoint(t, tok, ep.ID); got.Secret != "" {
		t.Error("GET shows a secret")
	}
	org := createOrganization(t, tok, part.ID, unique("Rotated"))
	waitHooks(t, 20*time.Second, "organization.created", func() int { return len(rcv.about(org.ID)) }, 1)
	h := rcv.about(org.ID)[0]
	if n := len(strings.Fields(h.Signature)); n != 2 {
		t.Errorf("%d signatures during the overlap, want 2", n)
	}
	verifies(t, h, ep.Secret)
	verifies(t, h, rotated.Secret)

	// The overlap ends: the old secret's expiry moved to the past behind the API (24 h
	// is not a test's time).
	var it webhooks.Item
	if err := st.Get(t0(), webhooks.Key(ep.ID), &it); err != nil {
		t.Fatal(err)
	}
	if len(it.Secrets) != 2 || it.Secrets[1].ExpiresAt == "" {
		t.Fatalf("stored secrets %+v", it.Secrets)
	}
	it.Secrets[1].ExpiresAt = nodes.Stamp(time.Now().Add(-time.Minute))
	if err := st.PutIf(t0(), it, store.VersionIs(it.Version)); err != nil {
		t.Fatal(err)
	}
	do(t, req{method: "PATCH", path: "/v1/organizations/" + org.ID, token: tok, body: map[string]any{"name": unique("After overlap")}}).expect(t, 200)
	waitHooks(t, 20*time.Second, "organization.updated", func() int { return len(rcv.about(org.ID)) }, 2)
	h = rcv.about(org.ID)[1]
	if n := len(strings.Fields(h.Signature)); n != 1 {
		t.Errorf("%d signatures after the overlap, want 1", n)
	}
	verifies(t, h, rotated.Secret)
	old, _ := newWebhook(ep.Secret)
	if err := old.Verify(h.Body, h.Header); err == nil {
		t.Error("the old secret still verifies after the overlap")
	}
}

func TestWebhookGoneDisablesAtOnce(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	rcv := newReceiver(t)
	ep := activeEndpoint(t, tok, part.ID, rcv, "organization.created")
	rcv.set(func(w http.ResponseWriter, h hook, n int) { w.WriteHeader(http.StatusGone) })
	createOrganization(t, tok, part.ID, unique("Gone"))
	endpointIs(t, tok, ep.ID, "disabled", 20*time.Second)
	if n := len(rcv.events("")); n != 1 {
		t.Errorf("%d attempts after a 410, want 1", n)
	}
	// Enabled, it is challenged again and active once it answers.
	rcv.set(nil)
	res := do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + ep.ID + "/enable", token: tok})
	res.expect(t, 200)
	endpointIs(t, tok, ep.ID, "active", 20*time.Second)
}

func TestWebhookDisabledAfterFailingAndAdminsTold(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	adminTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	adminEmail := me(t, adminTok).Email
	rcv := newReceiver(t)
	ep := activeEndpoint(t, adminTok, part.ID, rcv, "organization.created")
	rcv.set(failingOn)
	// Test events every two seconds fail until the run of failures passes
	// WebhookDisableAfter (the tests' 10 s).
	deadline := time.Now().Add(60 * time.Second)
	for getEndpoint(t, tok, ep.ID).Status == "active" {
		if time.Now().After(deadline) {
			t.Fatal("still active after 60 s of failures")
		}
		do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + ep.ID + "/test", token: tok}).expect(t, 202)
		time.Sleep(2 * time.Second)
	}
	e := endpointIs(t, tok, ep.ID, "disabled", time.Second)
	if e.FailingSince == "" || !strings.Contains(e.LastError, "500") {
		t.Errorf("disabled endpoint %+v", e)
	}
	m := mailTo(t, adminEmail, "webhook endpoint")
	if !strings.Contains(m.Text, ep.ID) || !strings.Contains(m.Text, e.FailingSince) || !strings.Contains(m.Text, "500") {
		t.Errorf("the email does not say which endpoint, since when and the last error:\n%s", m.Text)
	}
	eventually(t, 10*time.Second, func() error {
		var p struct {
			Items []struct {
				Action string `json:"action"`
				Actor  struct {
					UserID string `json:"userId"`
				} `json:"actor"`
			} `json:"items"`
		}
		do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + ep.ID + "&action=webhook-endpoint.disabled", token: tok}).json(t, &p)
		if len(p.Items) != 1 || p.Items[0].Actor.UserID != "system" {
			return fmt.Errorf("disabled entries %+v", p.Items)
		}
		return nil
	})
	// A disabled endpoint receives nothing.
	n := len(rcv.events(""))
	createOrganization(t, tok, part.ID, unique("Unheard"))
	time.Sleep(3 * time.Second)
	if got := len(rcv.events("")); got != n {
		t.Errorf("a disabled endpoint received %d more", got-n)
	}
}

func TestWebhookURLGuard(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	rcv := newReceiver(t)
	port := rcv.srv.URL[strings.LastIndex(rcv.srv.URL, ":")+1:]
	for _, url := range []string{
		"http://127.0.0.2:" + port + "/h", "https://127.0.0.2:" + port + "/h", "https://[::1]:" + port + "/h",
		"http://[::1]:" + port + "/h", "https://169.254.169.254/latest", "https://10.0.0.1/h", "https://[::ffff:127.0.0.1]/h",
		"ftp://127.0.0.1/h", "https://u:p@127.0.0.1/h",
	} {
		res := do(t, req{method: "POST", path: "/v1/webhook-endpoints", token: tok, body: map[string]any{"nodeId": part.ID, "url": url, "eventTypes": []string{"*"}}})
		res.problem(t, 400, "validation").field(t, "url")
	}
	// A name that resolves to loopback passes registration, and its connection is
	// refused by the dialer's control function before any packet leaves.
	e := createEndpoint(t, tok, part.ID, "https://localhost:"+port+"/h", "*")
	eventually(t, 20*time.Second, func() error {
		got := getEndpoint(t, tok, e.ID)
		if !strings.Contains(got.VerificationError, "refused by the SSRF guard") {
			return fmt.Errorf("verificationError %q", got.VerificationError)
		}
		return nil
	})
	if n := len(rcv.got); n != 0 {
		t.Errorf("the receiver got %d requests through localhost", n)
	}
}

// faultyQueue is a fake of SQS refusing every send: a fault the real queue does not
// produce on demand, standing for the dispatcher crashing between its writes and its
// send.
type faultyQueue struct{}

var errQueueDown = errors.New("queue unavailable (injected)")

func (faultyQueue) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, errQueueDown
}
func (faultyQueue) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, errQueueDown
}

// changeRecord is a stream record of a change record that was never written (so the
// running dispatcher never sees it): organization org updated, by the platform admin.
func changeRecord(t *testing.T, org nodes.Item) events.DynamoDBEventRecord {
	id := ulid.Make().String()
	av := func(s string) events.DynamoDBAttributeValue { return events.NewStringAttribute(s) }
	var scope []events.DynamoDBAttributeValue
	for _, n := range org.Node().Lineage() {
		scope = append(scope, av(n))
	}
	return events.DynamoDBEventRecord{
		EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{SequenceNumber: id, NewImage: map[string]events.DynamoDBAttributeValue{
			"PK": av("CHANGE#" + id), "SK": av("CHANGE"), "type": av(audit.ChangeType), "id": av(id),
			"at":     av(time.Now().UTC().Format(audit.TimeFormat)),
			"action": av("organization.updated"),
			"actor":  events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"userId": av("u-crash"), "role": av("platform_admin")}),
			"target": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"type": av("organization"), "id": av(org.ID), "name": av(org.Name)}),
			"changes": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
				"field": av("name"), "before": av("x"), "after": av(org.Name)})}),
			"scope": events.NewListAttribute(scope),
			"state": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"name": av(org.Name)}),
		}},
	}
}

// sendCounter is a delivery queue that takes every batch and tells onBatch its size,
// queuing nothing: the test looks at what the dispatcher wrote before each send.
type sendCounter struct{ onBatch func(n int) }

func (sendCounter) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, errors.New("sendCounter: SendMessage not expected")
}
func (q sendCounter) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.onBatch(len(in.Entries))
	return &sqs.SendMessageBatchOutput{}, nil
}

// TestDispatcherQueuesEachTenAsWritten: with 25 endpoints a change's deliveries are
// queued ten at a time, each ten as soon as they are written, so the first ones are on
// their way before the rest are written; a replay of the record (nothing attempted yet)
// writes nothing new and queues the same again.
func TestDispatcherQueuesEachTenAsWritten(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	org := nodeOf(t, createOrganization(t, tok, part.ID, unique("Fan-out")).ID)
	rcv := newReceiver(t)
	const n = 25
	seedEndpoints(t, nodeOf(t, part.ID), rcv.srv.URL+"/fan-out", n, "organization.updated")
	var eps []webhooks.Item
	in, _, err := webhooks.ListInput(part.ID, webhooks.StatusActive)
	if err != nil {
		t.Fatal(err)
	}
	// GSI2 is eventually consistent in AWS; DynamoDB Local shows the endpoints at once,
	// but the wait keeps the test true of either.
	for deadline := time.Now().Add(10 * time.Second); len(eps) < n && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		page, err := st.QueryOnce(t0(), in)
		if err != nil {
			t.Fatal(err)
		}
		eps = eps[:0]
		for _, av := range page.Items {
			var it webhooks.Item
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				t.Fatal(err)
			}
			eps = append(eps, it)
		}
	}
	if len(eps) != n {
		t.Fatalf("%d endpoints listed, want %d", len(eps), n)
	}
	d, err := deps.Load(invokeCtx())
	if err != nil {
		t.Fatal(err)
	}
	rec := changeRecord(t, org)
	written := func() int {
		c := 0
		for _, ep := range eps {
			var dl webhooks.Delivery
			switch err := st.Get(t0(), webhooks.DeliveryKey(ep.ID, rec.Change.SequenceNumber), &dl); {
			case err == nil:
				c++
			case !errors.Is(err, store.ErrNotFound):
				t.Error(err)
			}
		}
		return c
	}
	var sizes, before []int
	q := sendCounter{onBatch: func(size int) { sizes, before = append(sizes, size), append(before, written()) }}
	dispatcher := &dispatch.Dispatcher{Store: d.Store, Jobs: &dispatch.Jobs{Queue: q, URL: "counted"}}
	ctx := awscall.WithFunction(invokeCtx(), "webhook-dispatcher")
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}}
	for _, run := range []string{"first", "replay"} {
		sizes, before = nil, nil
		if resp, err := dispatcher.Handle(ctx, batch); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s dispatch: %v %+v", run, err, resp)
		}
		if want := []int{10, 10, 5}; !slices.Equal(sizes, want) {
			t.Errorf("%s: batches of %v queued, want %v", run, sizes, want)
		}
		want := []int{10, 20, 25}
		if run == "replay" {
			want = []int{25, 25, 25}
		}
		if !slices.Equal(before, want) {
			t.Errorf("%s: deliveries written when each batch was queued %v, want %v", run, before, want)
		}
	}
}

func TestWebhookCrashesLoseNothing(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	rcv := newReceiver(t)
	ep := activeEndpoint(t, tok, part.ID, rcv, "organization.updated")
	org := nodeOf(t, createOrganization(t, tok, part.ID, unique("Crash")).ID)
	d, err := deps.Load(invokeCtx())
	if err != nil {
		t.Fatal(err)
	}
	// The calls count as the functions' own (the IAM check).
	dispatchCtx := awscall.WithFunction(invokeCtx(), "webhook-dispatcher")
	deliverCtx := awscall.WithFunction(invokeCtx(), "webhook-deliverer")
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{changeRecord(t, org), changeRecord(t, org)}}
	ids := []string{webhooks.EventID(batch.Records[0].Change.SequenceNumber), webhooks.EventID(batch.Records[1].Change.SequenceNumber)}

	// The dispatcher dies after writing the first delivery, before queueing it: the
	// whole batch is reported, so the stream gives it again.
	broken := &dispatch.Dispatcher{Store: d.Store, Jobs: &dispatch.Jobs{Queue: faultyQueue{}, URL: "unused"}}
	resp, err := broken.Handle(dispatchCtx, batch)
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("faulted dispatch: %v %+v, want both records reported", err, resp)
	}
	// Replayed by a working dispatcher (twice, as a stream may): each event once.
	live := dispatch.Function(d)
	for range 2 {
		if resp, err := live(dispatchCtx, batch); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("replay: %v %+v", err, resp)
		}
	}
	for _, id := range ids {
		waitHooks(t, 20*time.Second, id, func() int { return hooksWithID(rcv, id) }, 1)
	}
	time.Sleep(2 * time.Second)
	for _, id := range ids {
		if n := hooksWithID(rcv, id); n != 1 {
			t.Errorf("event %s arrived %d times, want once", id, n)
		}
	}

	// The deliverer dies mid-attempt (its context ends while the receiver holds the
	// request): nothing is recorded and the message comes back; the next try delivers
	// it, with the same webhook-id.
	rec := changeRecord(t, org)
	u := rec.Change.SequenceNumber
	dl, err := webhooks.NewDelivery(ep.ID, u, "organization.updated", time.Now(), dispatch.EventData{Resource: map[string]any{"type": "organization", "id": org.ID}, Changes: []audit.FieldChange{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutIf(t0(), dl, store.NotExists()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	held := make(chan struct{})
	rcv.set(func(w http.ResponseWriter, h hook, n int) {
		if h.ID == dl.EventID && n == 0 {
			once.Do(func() { close(held) })
			<-h.done
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	handler := deliver.Function(d)
	body, _ := json.Marshal(dispatch.Job{Kind: dispatch.JobDeliver, EndpointID: ep.ID, Delivery: u})
	msg := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: string(body)}}}
	ctx, cancel := context.WithCancel(deliverCtx)
	go func() { <-held; cancel() }()
	resp2, err := handler(ctx, msg)
	if err != nil || len(resp2.BatchItemFailures) != 1 {
		t.Fatalf("crashed attempt: %v %+v, want the message reported", err, resp2)
	}
	var after webhooks.Delivery
	if err := st.Get(t0(), webhooks.DeliveryKey(ep.ID, u), &after); err != nil || len(after.Attempts) != 0 {
		t.Fatalf("after the crash: %v, %d attempts recorded", err, len(after.Attempts))
	}
	if resp2, err = handler(deliverCtx, msg); err != nil || len(resp2.BatchItemFailures) != 0 {
		t.Fatalf("the message again: %v %+v", err, resp2)
	}
	if err := st.Get(t0(), webhooks.DeliveryKey(ep.ID, u), &after); err != nil || after.Status != "succeeded" || len(after.Attempts) != 1 {
		t.Fatalf("after the retry: %v %+v", err, after)
	}
	if n := hooksWithID(rcv, dl.EventID); n != 2 {
		t.Errorf("the receiver saw %s %d times, want 2 (the crashed attempt and the retry)", dl.EventID, n)
	}
}

func hooksWithID(r *receiver, id string) int {
	n := 0
	for _, h := range r.events("") {
		if h.ID == id {
			n++
		}
	}
	return n
}
