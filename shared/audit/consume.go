package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/api"
	"opsconsole/shared/store"
)

// entryItem is an audit entry as stored in one node's audit partition, or in its
// target's history partition (which alone carries the scope: the lineage whose
// admins may read that history).
type entryItem struct {
	PK    string `dynamodbav:"PK"`
	SK    string `dynamodbav:"SK"`
	Type  string `dynamodbav:"type"`
	Entry `dynamodbav:",inline"`
	Scope []string `dynamodbav:"scope,omitempty"`
	// ExpiresAt (Unix seconds) is when the table's TTL removes the entry: its time
	// plus the retention (AuditRetentionDays), the one way an entry ever leaves.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// DefaultEntryRetention is how long entries are kept when AUDIT_RETENTION_DAYS is
// unset: the template parameter AuditRetentionDays's default.
const DefaultEntryRetention = 400 * 24 * time.Hour

// EntryRetentionFromEnv is AUDIT_RETENTION_DAYS (whole days) as a duration, or
// DefaultEntryRetention when it is unset or not a positive number.
func EntryRetentionFromEnv() time.Duration {
	if d, err := strconv.Atoi(os.Getenv("AUDIT_RETENTION_DAYS")); err == nil && d > 0 {
		return time.Duration(d) * 24 * time.Hour
	}
	return DefaultEntryRetention
}

// entryKey is the partition of a node's audit log: every entry of its subtree (for
// the platform and distributors, the prefix of its shards: shards.go).
func entryKey(nodeID string) string { return "AUDIT#" + nodeID }

// targetKey is the partition of one thing's history: every entry about it, kept
// after the thing itself is deleted.
func targetKey(targetID string) string { return "AUDITT#" + targetID }

// Items are the items one change record becomes: its entry in the audit partition of
// each node of scope (root first; for the platform and distributors the shard of the
// entry's id, entryKeyOf), then in its target's history, each expiring
// retention after the entry's time (never when retention is 0). Their keys and expiry
// are fixed by the entry, so writing them again changes nothing.
func Items(e Entry, scope []string, retention time.Duration) ([]store.Item, error) {
	sk := e.At + "#" + e.ID
	var expires int64
	if at, err := time.Parse(TimeFormat, e.At); err == nil && retention > 0 {
		expires = at.Add(retention).Unix()
	}
	out := make([]store.Item, 0, len(scope)+1)
	for _, node := range scope {
		av, err := attributevalue.MarshalMap(entryItem{PK: entryKeyOf(node, e.ID), SK: sk, Type: "audit", Entry: e, ExpiresAt: expires})
		if err != nil {
			return nil, err
		}
		out = append(out, av)
	}
	if e.Target.ID != "" {
		av, err := attributevalue.MarshalMap(entryItem{PK: targetKey(e.Target.ID), SK: sk, Type: "audit", Entry: e, Scope: scope, ExpiresAt: expires})
		if err != nil {
			return nil, err
		}
		out = append(out, av)
	}
	return out, nil
}

// Consumer turns stream records of change records into audit entries.
type Consumer struct {
	Store *store.Store
	// Backoff is the wait before retrying unprocessed writes.
	Backoff time.Duration
	// Retention is how long the entries are kept (EntryRetentionFromEnv); 0 keeps
	// them for ever.
	Retention time.Duration
	// Period is the digest period (DigestPeriodFromEnv); 0 means DefaultDigestPeriod.
	Period time.Duration
	// Now is the clock that stamps arrivals; nil means time.Now.
	Now func() time.Time
}

// maxBatch bounds the items written at once (and so the records a failure reports).
const maxBatch = 25

// markerRetention is how long an arrival period's markers stay: the digest maker
// reads them once, minutes after the period ends.
const markerRetention = 7 * 24 * time.Hour

// Handle is the stream function's handler. Each item is put only if it does not
// exist (attribute_not_exists), stamped with its arrival (arrival.go): a replayed
// record finds its items there and changes nothing, not even their arrival. Before
// the entries, one marker per arrival period names the nodes they go to, for the
// digest maker. A record whose entries cannot be written is reported, with every
// record after it, as a batch item failure; Lambda retries from it and order is kept.
func (c *Consumer) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	type pending struct {
		seq     string
		entries []store.Item
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	period := c.Period
	if period <= 0 {
		period = DefaultDigestPeriod
	}
	arrived := now().UTC()
	active := map[time.Time]map[string]bool{}
	var work []pending
	for _, rec := range ev.Records {
		if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
			continue
		}
		img := rec.Change.NewImage
		if t, ok := img["type"]; !ok || t.DataType() != events.DataTypeString || t.String() != ChangeType {
			continue
		}
		var ch changeItem
		if err := attributevalue.UnmarshalMap(FromStreamImage(img), &ch); err != nil {
			// A record we cannot read will not become readable on retry; log it and
			// move on rather than block the shard.
			api.Log(ctx).ErrorContext(ctx, "unreadable change record", "sequenceNumber", rec.Change.SequenceNumber, "error", err.Error())
			continue
		}
		items, err := Items(ch.Entry, ch.Scope, c.Retention)
		if err != nil {
			return resp, fmt.Errorf("marshal entry: %w", err)
		}
		p := stamp(items, ch.Entry.At, arrived, period)
		if active[p] == nil {
			active[p] = map[string]bool{}
		}
		for _, n := range ch.Scope {
			active[p][n] = true
		}
		work = append(work, pending{seq: rec.Change.SequenceNumber, entries: items})
	}
	if len(work) == 0 {
		return resp, nil
	}
	fail := func(from int, err error) (events.DynamoDBEventResponse, error) {
		api.Log(ctx).ErrorContext(ctx, "audit entries not written", "fromSequenceNumber", work[from].seq, "error", err.Error())
		for _, p := range work[from:] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: p.seq})
		}
		return resp, nil
	}
	if err := c.mark(ctx, active, arrived); err != nil {
		return fail(0, err)
	}
	// Whole records, at most maxBatch items at once.
	for i := 0; i < len(work); {
		var batch []store.Item
		j := i
		for j < len(work) && (len(batch) == 0 || len(batch)+len(work[j].entries) <= maxBatch) {
			batch = append(batch, work[j].entries...)
			j++
		}
		if err := c.write(ctx, batch); err != nil {
			return fail(i, err)
		}
		i = j
	}
	return resp, nil
}

// mark puts one marker per arrival period: the nodes whose partitions get entries.
func (c *Consumer) mark(ctx context.Context, active map[time.Time]map[string]bool, now time.Time) error {
	for p, set := range active {
		nodes := make([]string, 0, len(set))
		for n := range set {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		marker := store.Item{
			"PK": &types.AttributeValueMemberS{Value: queueKey(p)}, "SK": &types.AttributeValueMemberS{Value: ulid.Make().String()},
			"type": &types.AttributeValueMemberS{Value: "audit-arrivals"}, "nodes": &types.AttributeValueMemberSS{Value: nodes},
			"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(markerRetention).Unix(), 10)},
		}
		if err := c.Store.PutIf(ctx, marker, nil); err != nil {
			return fmt.Errorf("arrival marker: %w", err)
		}
	}
	return nil
}

// write puts the items, each only if it is not there yet, a few at a time.
func (c *Consumer) write(ctx context.Context, items []store.Item) error {
	var wg sync.WaitGroup
	errs := make([]error, len(items))
	sem := make(chan struct{}, 8)
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for attempt := 0; ; attempt++ {
				err := c.Store.PutIf(ctx, it, store.NotExists())
				if err == nil || errors.Is(err, store.ErrConditionFailed) {
					// Written now, or by an earlier delivery of the same record.
					return
				}
				if attempt == 4 {
					errs[i] = err
					return
				}
				time.Sleep(c.Backoff << attempt)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// FromStreamImage converts a stream image from the Lambda event into the SDK's
// attribute values. The events accessors panic on a type mismatch, so each value's
// DataType is checked first.
func FromStreamImage(img map[string]events.DynamoDBAttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		out[k] = fromStream(v)
	}
	return out
}

func fromStream(v events.DynamoDBAttributeValue) types.AttributeValue {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			out[i] = fromStream(e)
		}
		return &types.AttributeValueMemberL{Value: out}
	case events.DataTypeMap:
		return &types.AttributeValueMemberM{Value: FromStreamImage(v.Map())}
	default:
		return &types.AttributeValueMemberNULL{Value: true}
	}
}
