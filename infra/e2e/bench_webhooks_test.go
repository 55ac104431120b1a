package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"opsconsole/shared/awscall"
	"opsconsole/shared/deps"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/webhooks"
	"opsconsole/shared/webhooks/sealkms"
)

// callCounter counts the AWS calls of the webhook functions by function and service,
// and the stream router's sends to the dispatcher's queue, beside the IAM recorder
// (which keeps observing).
type callCounter struct {
	// dispatcherQueue is the URL of WebhookDispatcherQueue.
	dispatcherQueue string
	mu              sync.Mutex
	n               map[string]int // "<function> <service>"
	// routed counts the router's SendMessageBatch calls to the dispatcher's queue,
	// routedMessages the messages in them.
	routed, routedMessages int
}

func (c *callCounter) observe(ctx context.Context, call awscall.Call) {
	iamRecorder.Observe(ctx, call)
	if in, ok := call.Input.(*sqs.SendMessageBatchInput); ok && call.Function == "stream-router" && aws.ToString(in.QueueUrl) == c.dispatcherQueue {
		c.mu.Lock()
		c.routed++
		c.routedMessages += len(in.Entries)
		c.mu.Unlock()
		return
	}
	if call.Function != "webhook-dispatcher" && call.Function != "webhook-deliverer" {
		return
	}
	c.mu.Lock()
	c.n[call.Function+" "+call.Service]++
	c.mu.Unlock()
}

// seedEndpoints writes n active endpoints of node straight into the table, each
// exactly as a verified create leaves it (its secret sealed with the KMS key), all on
// url and subscribed to types (organization.created when none): verifying 100
// through their challenges would measure the challenge.
func seedEndpoints(b testing.TB, node nodes.Item, url string, n int, types ...string) {
	b.Helper()
	d, err := deps.Load(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	sealer := sealkms.New(d)
	ts := nodes.Stamp(time.Now())
	if len(types) == 0 {
		types = []string{"organization.created"}
	}
	for range n {
		id := webhooks.NewID()
		sealed, err := sealer.Seal(context.Background(), id, []byte(webhooks.NewSecret()))
		if err != nil {
			b.Fatal(err)
		}
		it := webhooks.Item{PK: webhooks.PK(id), SK: webhooks.SK, Type: webhooks.ItemType, ID: id, ParentID: node.ID, NodeKind: node.Kind,
			Path: node.Node().Lineage(), Status: webhooks.StatusActive, Secrets: []webhooks.Sealed{{Ciphertext: sealed, CreatedAt: ts}},
			Attrs: webhooks.Attrs{URL: url, EventTypes: types}, Version: 2, CreatedAt: ts, UpdatedAt: ts}
		it.SetIndexKeys()
		if err := st.PutIf(context.Background(), it, store.NotExists()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWebhookPipeline creates organizations under a partner holding 0, 1 and 100
// active endpoints (bounded: 20, 20 and 5 changes, each run within 2 minutes) and
// measures, through the local pipeline (stream → stream router → the dispatcher's
// queue → dispatcher → the delivery queue → deliverer → a receiver on loopback):
// deliveries per second, the delay from a change's answer to its first delivery and
// to every delivery (p50, p99), and per change the DynamoDB, SQS and KMS calls of the
// dispatcher and the deliverer and the router's sends to the dispatcher's queue (the
// queues' receives and deletes are the event source mappings', made by the local
// runtime here and by Lambda in AWS, not counted). Run it alone:
//
//	go test ./infra/e2e -run '^$' -bench WebhookPipeline -benchtime 1x
func BenchmarkWebhookPipeline(b *testing.B) {
	tok := admin(b)
	var mu sync.Mutex
	arrived := map[string][]time.Time{} // the organization an event is about -> arrival of each delivery
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var ev struct {
			Data struct {
				Resource struct {
					ID string `json:"id"`
				} `json:"resource"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		arrived[ev.Data.Resource.ID] = append(arrived[ev.Data.Resource.ID], at)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	for _, c := range []struct{ endpoints, changes int }{{0, 20}, {1, 20}, {100, 5}} {
		b.Run(fmt.Sprintf("endpoints=%d", c.endpoints), func(b *testing.B) {
			for range b.N {
				dist := createDistributor(b, tok, unique("Bench Hook D"))
				part := createPartner(b, tok, dist.ID, unique("Bench Hook P"))
				seedEndpoints(b, nodeOf(b, part.ID), rcv.URL+"/bench", c.endpoints)
				// The seeded endpoints appear in GSI2 (eventually consistent) first, and
				// the dispatcher reads the distributor's and partner's changes before
				// the counting starts.
				time.Sleep(3 * time.Second)
				counter := &callCounter{n: map[string]int{}, dispatcherQueue: sys.Resources.Queues["WebhookDispatcherQueue"].URL}
				if counter.dispatcherQueue == "" {
					b.Fatal("no WebhookDispatcherQueue among the local queues")
				}
				awscall.SetObserver(counter.observe)
				start := time.Now()
				created := map[string]time.Time{}
				for i := range c.changes {
					o := createOrganization(b, tok, part.ID, unique(fmt.Sprintf("Bench Hook O%d", i)))
					created[o.ID] = time.Now()
				}
				want := c.changes * c.endpoints
				deadline := time.Now().Add(2 * time.Minute)
				var got int
				for {
					mu.Lock()
					got = 0
					for _, ts := range arrived {
						got += len(ts)
					}
					mu.Unlock()
					if got >= want || time.Now().After(deadline) {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if c.endpoints == 0 {
					// Nothing to wait for but the dispatcher: let it read the changes.
					time.Sleep(5 * time.Second)
				} else {
					// The last attempts' records follow their POSTs: count them too.
					time.Sleep(2 * time.Second)
				}
				awscall.SetObserver(iamRecorder.Observe)
				if got < want {
					b.Fatalf("%d of %d deliveries within 2 minutes", got, want)
				}
				mu.Lock()
				var delays, firsts []time.Duration
				last := start
				for _, ts := range arrived {
					for _, t := range ts {
						if t.After(last) {
							last = t
						}
					}
				}
				for id, ts := range arrived {
					first := ts[0]
					for _, t := range ts {
						delays = append(delays, t.Sub(created[id]))
						if t.Before(first) {
							first = t
						}
					}
					firsts = append(firsts, first.Sub(created[id]))
				}
				clear(arrived)
				mu.Unlock()
				counter.mu.Lock()
				per := func(fn, svc string) float64 { return float64(counter.n[fn+" "+svc]) / float64(c.changes) }
				routed := float64(counter.routed) / float64(c.changes)
				b.ReportMetric(per("webhook-dispatcher", "DynamoDB")+per("webhook-deliverer", "DynamoDB"), "dynamodb-calls/change")
				b.ReportMetric(routed+per("webhook-dispatcher", "SQS")+per("webhook-deliverer", "SQS"), "sqs-calls/change")
				b.ReportMetric(per("webhook-dispatcher", "KMS")+per("webhook-deliverer", "KMS"), "kms-calls/change")
				b.Logf("%d endpoints, %d changes: calls per change: router SQS %.2f (%d messages to the dispatcher's queue); dispatcher DynamoDB %.2f, SQS %.2f; deliverer DynamoDB %.2f, SQS %.2f, KMS %.2f",
					c.endpoints, c.changes, routed, counter.routedMessages, per("webhook-dispatcher", "DynamoDB"), per("webhook-dispatcher", "SQS"),
					per("webhook-deliverer", "DynamoDB"), per("webhook-deliverer", "SQS"), per("webhook-deliverer", "KMS"))
				counter.mu.Unlock()
				if want > 0 {
					q := func(ds []time.Duration, p float64) time.Duration {
						slices.Sort(ds)
						return ds[min(len(ds)-1, int(p*float64(len(ds))))]
					}
					rate := float64(want) / last.Sub(start).Seconds()
					b.ReportMetric(rate, "deliveries/s")
					b.ReportMetric(float64(q(firsts, 0.5).Milliseconds()), "first-p50-ms")
					b.ReportMetric(float64(q(firsts, 0.99).Milliseconds()), "first-p99-ms")
					b.ReportMetric(float64(q(delays, 0.5).Milliseconds()), "p50-ms")
					b.ReportMetric(float64(q(delays, 0.99).Milliseconds()), "p99-ms")
					b.Logf("%d deliveries in %s (%.1f/s); change → first delivery p50 %s, p99 %s; change → every delivery p50 %s, p99 %s",
						want, last.Sub(start).Round(time.Millisecond), rate,
						q(firsts, 0.5).Round(time.Millisecond), q(firsts, 0.99).Round(time.Millisecond),
						q(delays, 0.5).Round(time.Millisecond), q(delays, 0.99).Round(time.Millisecond))
				}
			}
		})
	}
}
