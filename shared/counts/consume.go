package counts

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// The marker says, in the child's own partition (PK NODE#<child>, SK COUNTED), which
// version of the child its parent's counts reflect and under which status it is
// counted there. It is what makes the counter idempotent: a record is applied only
// when its version is newer than the marker's, and the count it takes the child out
// of is the marker's status, not the record's old image, so replays, retries and
// records arriving out of order all end at the counts of the newest version.
const (
	markerSK   = "COUNTED"
	markerType = "counted"
	// markerTTL is how long a removed child's marker stays. It must outlive every
	// record of the child that could still be delivered: the stream keeps records
	// 24 h, and the mapping gives up on them after 24 h (MaximumRecordAgeInSeconds).
	// Until TTL removes it, a replayed INSERT finds it and cannot count the child again.
	markerTTL = 48 * time.Hour
)

type marker struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	Type   string `dynamodbav:"type"`
	V      int    `dynamodbav:"v"`
	Status string `dynamodbav:"status"` // "" once removed
	// ParentID and Kind say whose counts hold the child, for whoever reads the table.
	// A node never changes parent or kind (the API has no move), so the counter
	// takes both from the record.
	ParentID  string `dynamodbav:"parentId"`
	Kind      string `dynamodbav:"kind"`
	ExpiresAt int64  `dynamodbav:"expiresAt,omitempty"`
}

func markerKey(id string) store.Item { return store.Key(nodes.PK(id), markerSK) }

// markerIs holds when the stored marker still has the version that was read.
func markerIs(v int) *store.Condition {
	return &store.Condition{
		Expr:   "#v = :v",
		Names:  map[string]string{"#v": "v"},
		Values: store.Item{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(v)}},
	}
}

// nodeImage is what the counter reads of a node item's stream image.
type nodeImage struct {
	Type     string `dynamodbav:"type"`
	ID       string `dynamodbav:"id"`
	Kind     string `dynamodbav:"kind"`
	ParentID string `dynamodbav:"parentId"`
	Status   string `dynamodbav:"status"`
	Version  int    `dynamodbav:"version"`
}

// change is a child's state as of one version, read from one stream record.
type change struct {
	seq                string
	id, kind, parentID string
	status             string // "" when the child is removed
	v                  int
	removed            bool
}

// Consumer is the tree-counter function: it turns the stream records of node items
// into their parents' counts.
type Consumer struct {
	Store *store.Store
}

// Errors a transaction item's failed condition means.
var (
	errMarkerMoved = errors.New("the child's marker changed since it was read")
	errParentGone  = errors.New("the parent node no longer exists")
)

// maxAttempts bounds the tries of one record against moved markers and transaction
// conflicts; past it the record is reported failed and Lambda retries the batch.
const maxAttempts = 8

// Handle is the stream function's handler. It applies node records in order, each
// in one transaction. A record that cannot be applied is reported as the batch's
// only item failure (ReportBatchItemFailures): Lambda checkpoints before it and
// retries from it, so it and every record after it come again; the records before it
// are done, and were they replayed anyway, their markers would make them no-ops.
func (c *Consumer) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		ch, ok := read(ctx, rec)
		if !ok {
			continue
		}
		if err := c.apply(ctx, ch); err != nil {
			api.Log(ctx).ErrorContext(ctx, "child not counted; the batch is retried from its record",
				"sequenceNumber", ch.seq, "node", ch.id, "parent", ch.parentID, "version", ch.v, "error", err.Error())
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			return resp, nil
		}
	}
	return resp, nil
}

// read turns a stream record into the change it makes to its parent's counts, or
// false when it makes none: not a node item, the platform (it has no parent), or a
// MODIFY that leaves the status as it was (a rename: only the version moves, and the
// next status change is newer than any marker either way).
func read(ctx context.Context, rec events.DynamoDBEventRecord) (change, bool) {
	if sk, ok := rec.Change.Keys["SK"]; !ok || sk.DataType() != events.DataTypeString || sk.String() != nodes.SK {
		return change{}, false
	}
	seq := rec.Change.SequenceNumber
	var img, old nodeImage
	decode := func(from map[string]events.DynamoDBAttributeValue, into *nodeImage) bool {
		if from == nil {
			return false
		}
		if err := attributevalue.UnmarshalMap(audit.FromStreamImage(from), into); err != nil {
			// A record we cannot read will not become readable on retry; log it and
			// move on rather than block the shard (as the audit writer does).
			api.Log(ctx).ErrorContext(ctx, "unreadable node record", "sequenceNumber", seq, "error", err.Error())
			return false
		}
		return true
	}
	ch := change{seq: seq}
	switch events.DynamoDBOperationType(rec.EventName) {
	case events.DynamoDBOperationTypeInsert:
		if !decode(rec.Change.NewImage, &img) {
			return ch, false
		}
		ch.v, ch.status = img.Version, img.Status
	case events.DynamoDBOperationTypeModify:
		if !decode(rec.Change.NewImage, &img) {
			return ch, false
		}
		if rec.Change.OldImage != nil && decode(rec.Change.OldImage, &old) && old.Status == img.Status {
			return ch, false
		}
		ch.v, ch.status = img.Version, img.Status
	case events.DynamoDBOperationTypeRemove:
		if !decode(rec.Change.OldImage, &img) {
			return ch, false
		}
		// A delete removes the item whose last version is n; its effect is the n+1st
		// state of the child, newer than every record before it.
		ch.v, ch.removed = img.Version+1, true
	default:
		return ch, false
	}
	if img.Type != "node" || img.ID == tree.PlatformID || img.ParentID == "" {
		return ch, false
	}
	if img.ID == "" || img.Kind == "" || img.Version < 1 {
		api.Log(ctx).ErrorContext(ctx, "node record without id, kind or version", "sequenceNumber", seq)
		return ch, false
	}
	ch.id, ch.kind, ch.parentID = img.ID, img.Kind, img.ParentID
	return ch, true
}

// apply counts the change unless its version, or a newer one, is counted already.
// It reads the marker, then writes in one transaction the new marker (on condition
// that it is still the one read), the counts' adjustment and a check that the parent
// still exists. A marker that moved meanwhile is read again; a conflict with another
// transaction is retried after a short, growing, jittered pause.
func (c *Consumer) apply(ctx context.Context, ch change) error {
	for attempt := 1; ; attempt++ {
		var prev marker
		err := c.Store.Get(ctx, markerKey(ch.id), &prev)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if found && prev.V >= ch.v {
			return nil // this version or a newer one is counted already
		}
		writes, err := c.writes(ch, prev, found)
		if err != nil {
			return err
		}
		err = c.Store.Transact(ctx, writes...)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errParentGone):
			return c.parentGone(ctx, prev, found)
		case errors.Is(err, errMarkerMoved) || store.Retryable(err):
			if attempt == maxAttempts {
				return fmt.Errorf("%d attempts: %w", attempt, err)
			}
			if !errors.Is(err, errMarkerMoved) {
				if err := store.Pause(ctx, backoff(attempt)); err != nil {
					return err
				}
			}
		default:
			return err
		}
	}
}

// writes are the transaction of one change: the marker, the parent's counts (when
// the counted status changes) and the parent's existence, in that order.
func (c *Consumer) writes(ch change, prev marker, found bool) ([]store.Write, error) {
	next := marker{
		PK: nodes.PK(ch.id), SK: markerSK, Type: markerType,
		V: ch.v, Status: ch.status, ParentID: ch.parentID, Kind: ch.kind,
	}
	if ch.removed {
		next.ExpiresAt = time.Now().Add(markerTTL).Unix()
	}
	cond := store.NotExists()
	if found {
		cond = markerIs(prev.V)
	}
	put, err := store.Put(next, cond)
	if err != nil {
		return nil, err
	}
	writes := []store.Write{put.FailsWith(errMarkerMoved)}
	if prev.Status != ch.status {
		writes = append(writes, countsUpdate(ch.parentID, ch.kind, prev.Status, ch.status))
	}
	// The parent's delete removes its counts item in the same transaction as its node
	// item, so checking the node here means the ADD never recreates a removed counts
	// item: a child of a deleted parent is not counted anywhere.
	writes = append(writes, store.Check(nodes.Key(ch.parentID), store.Exists()).FailsWith(errParentGone))
	return writes, nil
}

// countsUpdate moves one child of kind from status from to status to ("" is
// "not counted") in parent's counts item. ADD creates the item and the attribute at
// zero when they are missing, so the first child needs no separate create.
//
// The names are written out rather than built with the expression package: its Name
// splits on "." and even NameNoDotSplit reads a trailing "[n]" as a list index, and a
// status is an opaque string.
func countsUpdate(parentID, kind, from, to string) store.Write {
	names := map[string]string{"#type": "type"}
	values := map[string]any{":type": countsType}
	var adds []string
	if to != "" {
		names["#to"] = attrName(kind, to)
		values[":plus"] = 1
		adds = append(adds, "#to :plus")
	}
	if from != "" {
		names["#from"] = attrName(kind, from)
		values[":minus"] = -1
		adds = append(adds, "#from :minus")
	}
	return store.Edit(Key(parentID), store.Expr{
		Update: "SET #type = :type ADD " + strings.Join(adds, ", "),
		Names:  names, Values: values,
	})
}

// parentGone ends a change whose parent was deleted: there is nothing to count. A
// marker the child already has would never be given its expiry by the child's
// REMOVE (which meets the same missing parent), so it gets it now; from here on every
// record of the child meets the missing parent, marker or not.
func (c *Consumer) parentGone(ctx context.Context, prev marker, found bool) error {
	if !found || prev.ExpiresAt != 0 {
		return nil
	}
	prev.ExpiresAt = time.Now().Add(markerTTL).Unix()
	if err := c.Store.PutIf(ctx, prev, markerIs(prev.V)); err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return err
	}
	return nil
}

// backoff is the pause before attempt+1: 10 ms doubled per attempt, half of it
// jittered so that two writers that conflicted do not meet again.
func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << attempt
	return d/2 + rand.N(d/2)
}
