package audit

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// entryKey is the partition of a node's audit log: every entry of its subtree.
func entryKey(nodeID string) string { return "AUDIT#" + nodeID }

// targetKey is the partition of one thing's history: every entry about it, kept
// after the thing itself is deleted.
func targetKey(targetID string) string { return "AUDITT#" + targetID }

// Items are the items one change record becomes: its entry in the audit partition of
// each node of scope (root first), then in its target's history, each expiring
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
		av, err := attributevalue.MarshalMap(entryItem{PK: entryKey(node), SK: sk, Type: "audit", Entry: e, ExpiresAt: expires})
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
}

// maxBatch is BatchWriteItem's limit.
const maxBatch = 25

// Handle is the stream function's handler. Entries have deterministic keys and are
// written whole, so a replayed record rewrites the same items and changes nothing.
// A record whose entries cannot be written is reported, with every record after it,
// as a batch item failure; Lambda retries from it and order is kept.
func (c *Consumer) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	type pending struct {
		seq     string
		entries []types.WriteRequest
	}
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
		p := pending{seq: rec.Change.SequenceNumber}
		items, err := Items(ch.Entry, ch.Scope, c.Retention)
		if err != nil {
			return resp, fmt.Errorf("marshal entry: %w", err)
		}
		for _, av := range items {
			p.entries = append(p.entries, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
		}
		work = append(work, p)
	}
	// Pack whole records into batches of at most 25 writes.
	for i := 0; i < len(work); {
		var batch []types.WriteRequest
		j := i
		for j < len(work) && (len(batch) == 0 || len(batch)+len(work[j].entries) <= maxBatch) {
			batch = append(batch, work[j].entries...)
			j++
		}
		if err := c.write(ctx, batch); err != nil {
			api.Log(ctx).ErrorContext(ctx, "audit entries not written", "fromSequenceNumber", work[i].seq, "error", err.Error())
			for _, p := range work[i:] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: p.seq})
			}
			return resp, nil
		}
		i = j
	}
	return resp, nil
}

func (c *Consumer) write(ctx context.Context, reqs []types.WriteRequest) error {
	for start := 0; start < len(reqs); start += maxBatch {
		chunk := reqs[start:min(start+maxBatch, len(reqs))]
		for attempt := 0; len(chunk) > 0; attempt++ {
			if attempt == 5 {
				return fmt.Errorf("%d writes still unprocessed", len(chunk))
			}
			if attempt > 0 {
				time.Sleep(c.Backoff << attempt)
			}
			out, err := c.Store.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems:           map[string][]types.WriteRequest{c.Store.Table: chunk},
				ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
			})
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			chunk = out.UnprocessedItems[c.Store.Table]
		}
	}
	return nil
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
