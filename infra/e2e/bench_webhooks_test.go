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

	"opsconsole/shared/awscall"
	"opsconsole/shared/deps"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/webhooks"
	"opsconsole/shared/webhooks/sealkms"
)

// callCounter counts the AWS calls of the webhook functions by function and service,
// beside the IAM recorder (which keeps observing).
type callCounter struct {
	mu sync.Mutex
	n  map[string]int // "<function> <service>"
}

func (c *callCounter) observe(ctx context.Context, call awscall.Call) {
	iamRecorder.Observe(ctx, call)
	if call.Function != "webhook-dispatcher" && call.Function != "webhook-deliverer" {
		return
	}
	c.mu.Lock()
	c.n[call.Function+" "+call.Service]++
	c.mu.Unlock()
}

// seedEndpoints writes n active endpoints of node straight into the table, each
// exactly as a verified create leaves it (its secret sealed with the KMS key), all on
// url: verifying 100 through their challenges would measure the challenge.
func seedEndpoints(b *testing.B, node nodes.Item, url string, n int) {
	b.Helper()
	d, err := deps.Load(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	sealer := sealkms.New(d)
	ts := nodes.Stamp(time.Now())
	for range n {
		id := webhooks.NewID()
		sealed, err := sealer.Seal(context.Background(), id, []byte(webhooks.NewSecret()))
		if err != nil {
			b.Fatal(err)
		}
		it := webhooks.Item{PK: webhooks.PK(id), SK: webhooks.SK, Type: webhooks.ItemType, ID: id, ParentID: node.ID, NodeKind: node.Kind,
			Path: node.Node().Lineage(), Status: webhooks.StatusActive, Secrets: []webhooks.Sealed{{Ciphertext: sealed, CreatedAt: ts}},
			Attrs: webhooks.Attrs{URL: url, EventTypes: []string{"organization.created"}}, Version: 2, CreatedAt: ts, UpdatedAt: ts}
		it.SetIndexKeys()
		if err := st.PutIf(context.Background(), it, store.NotExists()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWebhookPipeline creates organizations under a partner holding 0, 1 and 100
// active endpoints (bounded: 20, 20 and 5 changes, each run within 2 minutes) and
// measures, through the local pipeline (stream → dispatcher → SQS → deliverer →
// a receiver on loopback): deliveries per second, the delay from a change's answer to
// each first delivery (p50, p99), and the DynamoDB, SQS and KMS calls of the
// dispatcher and the deliverer per change. Run it alone:
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
				counter := &callCounter{n: map[string]int{}}
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
				}
				end := time.Now()
				awscall.SetObserver(iamRecorder.Observe)
				if got < want {
					b.Fatalf("%d of %d deliveries within 2 minutes", got, want)
				}
				mu.Lock()
				var delays []time.Duration
				last := start
				for _, ts := range arrived {
					for _, t := range ts {
						if t.After(last) {
							last = t
						}
					}
				}
				for id, ts := range arrived {
					for _, t := range ts {
						delays = append(delays, t.Sub(created[id]))
					}
				}
				clear(arrived)
				mu.Unlock()
				counter.mu.Lock()
				per := func(fn, svc string) float64 { return float64(counter.n[fn+" "+svc]) / float64(c.changes) }
				b.ReportMetric(per("webhook-dispatcher", "DynamoDB")+per("webhook-deliverer", "DynamoDB"), "dynamodb-calls/change")
				b.ReportMetric(per("webhook-dispatcher", "SQS")+per("webhook-deliverer", "SQS"), "sqs-calls/change")
				b.ReportMetric(per("webhook-deliverer", "KMS"), "kms-calls/change")
				b.Logf("%d endpoints, %d changes: calls per change: dispatcher DynamoDB %.1f, SQS %.1f; deliverer DynamoDB %.1f, SQS %.1f, KMS %.1f",
					c.endpoints, c.changes, per("webhook-dispatcher", "DynamoDB"), per("webhook-dispatcher", "SQS"),
					per("webhook-deliverer", "DynamoDB"), per("webhook-deliverer", "SQS"), per("webhook-deliverer", "KMS"))
				counter.mu.Unlock()
				if want > 0 {
					slices.Sort(delays)
					q := func(p float64) time.Duration { return delays[min(len(delays)-1, int(p*float64(len(delays))))] }
					rate := float64(want) / last.Sub(start).Seconds()
					b.ReportMetric(rate, "deliveries/s")
					b.ReportMetric(float64(q(0.5).Milliseconds()), "p50-ms")
					b.ReportMetric(float64(q(0.99).Milliseconds()), "p99-ms")
					b.Logf("%d deliveries in %s (%.1f/s); change → delivery p50 %s, p99 %s", want, last.Sub(start).Round(time.Millisecond), rate, q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond))
				}
				_ = end
			}
		})
	}
}
