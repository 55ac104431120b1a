package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"golang.org/x/sync/errgroup"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/webhooks"
)

// EventData is the data of a change's event: the resource as the audit log records
// it (its fields after the change, before it for a deletion; secrets redacted), its
// version (after the change, the one its ETag then shows; its last one for a
// deletion), the changed fields' before and after, and who changed it (with the
// impersonator during a login-as session). Every resource of the catalog has
// versions; Version is omitted only for a change record that carries none (one
// written before change records carried versions).
type EventData struct {
	Resource map[string]any      `json:"resource"`
	Version  int                 `json:"version,omitempty"`
	Changes  []audit.FieldChange `json:"changes"`
	Actor    audit.Actor         `json:"actor"`
}

// DataOf is the event data of change record rec.
func DataOf(rec audit.ChangeRecord) EventData {
	res := map[string]any{}
	for k, v := range rec.State {
		res[k] = v
	}
	res["type"], res["id"] = webhooks.EventName(rec.Target.Type), rec.Target.ID
	if rec.Target.Name != "" {
		res["name"] = rec.Target.Name
	}
	changes := rec.Changes
	if changes == nil {
		changes = []audit.FieldChange{}
	}
	return EventData{Resource: res, Version: rec.Version, Changes: changes, Actor: rec.Actor}
}

// Dispatcher turns change records into deliveries: the stream consumer of the
// webhook-dispatcher function.
type Dispatcher struct {
	Store *store.Store
	Jobs  *Jobs
}

// endpointsOf reads node nodeID's active endpoints: one Query of its GSI2 partition
// (more pages only past 1 MB, some thousands of endpoints).
func (d *Dispatcher) endpointsOf(ctx context.Context, nodeID string) ([]webhooks.Item, error) {
	in, _, err := webhooks.ListInput(nodeID, webhooks.StatusActive)
	if err != nil {
		return nil, err
	}
	var out []webhooks.Item
	for {
		page, err := d.Store.QueryOnce(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, av := range page.Items {
			var it webhooks.Item
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, err
			}
			out = append(out, it)
		}
		if page.Next == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.Next
	}
}

// Handle is the stream consumer. For each change record whose action is an event of
// the catalog it reads the active endpoints of every node of the change's lineage
// that can have endpoints (one Query per level, shared by the batch), writes a
// pending delivery per endpoint that subscribed to the type and queues it, ten at a
// time (FanOut). A delivery's key is fixed by the event and the endpoint, so a
// replayed record writes nothing twice; it queues again only a delivery that has had
// no attempt (the crash may have come between the write and the queue), which at
// worst sends the same webhook-id twice. A record that fails is reported with every record after it, so
// Lambda retries from it in order.
func (d *Dispatcher) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	cache := map[string][]webhooks.Item{}
	for i, rec := range ev.Records {
		if err := d.record(ctx, rec, cache); err != nil {
			api.Log(ctx).ErrorContext(ctx, "webhook dispatch failed", "sequenceNumber", rec.Change.SequenceNumber, "error", err.Error())
			for _, r := range ev.Records[i:] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			}
			return resp, nil
		}
	}
	return resp, nil
}

func (d *Dispatcher) record(ctx context.Context, rec events.DynamoDBEventRecord, cache map[string][]webhooks.Item) error {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
		return nil
	}
	img := rec.Change.NewImage
	if t, ok := img["type"]; !ok || t.DataType() != events.DataTypeString || t.String() != audit.ChangeType {
		return nil
	}
	ch, err := audit.DecodeChangeRecord(audit.FromStreamImage(img))
	if err != nil {
		api.Log(ctx).ErrorContext(ctx, "unreadable change record", "sequenceNumber", rec.Change.SequenceNumber, "error", err.Error())
		return nil
	}
	if ch.Target.Type == webhooks.Kind {
		if j, ok := EndpointJob(ch); ok {
			return d.Jobs.SendNow(ctx, []Job{j})
		}
		return nil
	}
	typ, ok := webhooks.TypeOfAction(ch.Action)
	if !ok {
		return nil
	}
	at, err := time.Parse(audit.TimeFormat, ch.At)
	if err != nil {
		at = time.Now()
	}
	var targets []webhooks.Item
	for _, nodeID := range ch.Scope {
		kind, ok := nodes.KindOfID(nodeID)
		if !ok || !webhooks.Holder(kind) {
			continue
		}
		eps, seen := cache[nodeID]
		if !seen {
			if eps, err = d.endpointsOf(ctx, nodeID); err != nil {
				return err
			}
			cache[nodeID] = eps
		}
		for _, ep := range eps {
			if webhooks.Matches(ep.Attrs.EventTypes, typ) {
				targets = append(targets, ep)
			}
		}
	}
	// Ten at a time, one SQS batch's worth: the ten deliveries are written at once,
	// then queued before the next ten are written, so a change with many endpoints
	// has its first deliveries on their way after one write's delay instead of after
	// all of them. The calls are the same as writing all, then queuing all.
	for start := 0; start < len(targets); start += FanOut {
		jobs, err := d.deliveries(ctx, targets[start:min(start+FanOut, len(targets))], ch, typ, at)
		if err != nil {
			return err
		}
		if len(jobs) > 0 {
			if err := d.Jobs.SendNow(ctx, jobs); err != nil {
				return err
			}
		}
	}
	return nil
}

// FanOut is how many deliveries of one change the dispatcher writes at once and then
// queues in one SendMessageBatch (whose limit is ten messages).
const FanOut = 10

// deliveries writes the deliveries of change ch to eps concurrently and returns the
// jobs to queue, in the order of eps.
func (d *Dispatcher) deliveries(ctx context.Context, eps []webhooks.Item, ch audit.ChangeRecord, typ string, at time.Time) ([]Job, error) {
	queue := make([]bool, len(eps))
	var g errgroup.Group
	for i, ep := range eps {
		g.Go(func() error {
			var err error
			queue[i], err = d.deliveryFor(ctx, ep, ch, typ, at)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var jobs []Job
	for i, ep := range eps {
		if queue[i] {
			jobs = append(jobs, Job{Kind: JobDeliver, EndpointID: ep.ID, Delivery: ch.ID})
		}
	}
	return jobs, nil
}

// deliveryFor writes the delivery of change ch to ep, telling whether it is to be
// queued: when new, or when a replay finds it without any attempt.
func (d *Dispatcher) deliveryFor(ctx context.Context, ep webhooks.Item, ch audit.ChangeRecord, typ string, at time.Time) (bool, error) {
	dl, err := webhooks.NewDelivery(ep.ID, ch.ID, typ, at, DataOf(ch))
	if err != nil {
		return false, err
	}
	err = d.Store.PutIf(ctx, dl, store.NotExists())
	if !errors.Is(err, store.ErrConditionFailed) {
		return err == nil, err
	}
	var have webhooks.Delivery
	if err := d.Store.Get(ctx, webhooks.DeliveryKey(ep.ID, ch.ID), &have); err != nil {
		return false, fmt.Errorf("read the delivery written before: %w", err)
	}
	return have.Status == webhooks.DeliveryPending && len(have.Attempts) == 0, nil
}

// EndpointJob is the work a change of an endpoint asks for, if any: the challenge
// of an endpoint that became pending (created, its URL changed, enabled, or asked
// again), a test, a redelivery or a recovery. The API functions write only the
// change record; the job follows from it here, so no committed request loses its
// work to a failed send.
func EndpointJob(ch audit.ChangeRecord) (Job, bool) {
	verb := strings.TrimPrefix(ch.Action, webhooks.Kind+".")
	str := func(k string) string { s, _ := ch.State[k].(string); return s }
	id := ch.Target.ID
	switch verb {
	case "created", "enabled", "verification-requested":
		return Job{Kind: JobVerify, EndpointID: id}, str("status") == webhooks.StatusPending
	case "updated":
		for _, c := range ch.Changes {
			if c.Field == "url" {
				return Job{Kind: JobVerify, EndpointID: id}, str("status") == webhooks.StatusPending
			}
		}
	case "tested", "redelivered":
		field := map[string]string{"tested": "tested", "redelivered": "redelivered"}[verb]
		u, ok := webhooks.EventULID(str(field), "dlv_")
		return Job{Kind: JobDeliver, EndpointID: id, Delivery: u, Manual: verb == "redelivered"}, ok
	case "recovered":
		return Job{Kind: JobRecover, EndpointID: id, Since: str("recoveredSince"), Until: str("recoveredUntil")}, str("recoveredSince") != ""
	}
	return Job{}, false
}
