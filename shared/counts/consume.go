package counts

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
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

// The marker says, in the counted item's own partition (PK NODE#<child>, USER#<sub>
// or LICENSE#<id>, SK COUNTED), which version of the item its parent's counts and its
// ancestors' totals reflect and what it is counted as there (its status, its facets,
// a license's validUntil). It is what makes the counter idempotent: a record is
// applied only when its version is newer than the marker's, and what it takes the
// item out of is the marker's, not the record's old image, so replays, retries and
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
	ParentID string `dynamodbav:"parentId"`
	Kind     string `dynamodbav:"kind"`
	// Facets, Series and Until are what the item adds to each ancestor's totals as
	// counted (none once removed); a marker written before the totals existed has
	// none, so the item's next change counts it there for the first time.
	Facets    []string `dynamodbav:"facets,omitempty"`
	Series    string   `dynamodbav:"series,omitempty"`
	Until     string   `dynamodbav:"until,omitempty"`
	ExpiresAt int64    `dynamodbav:"expiresAt,omitempty"`
}

// contribution is what the item adds to its ancestors' totals as counted.
func (m marker) contribution() contribution {
	return contribution{facets: m.Facets, series: m.Series, until: m.Until}
}

// markerIs holds when the stored marker still has the version that was read.
func markerIs(v int) *store.Condition {
	return &store.Condition{
		Expr:   "#v = :v",
		Names:  map[string]string{"#v": "v"},
		Values: store.Item{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(v)}},
	}
}

// image is what the counter reads of an item's stream image: a node, a console user
// or a license (the fields of the three that it counts by).
type image struct {
	Type     string   `dynamodbav:"type"`
	ID       string   `dynamodbav:"id"`
	Kind     string   `dynamodbav:"kind"`
	ParentID string   `dynamodbav:"parentId"`
	Path     []string `dynamodbav:"path"`
	// NodeID and NodePath place a console user.
	NodeID   string   `dynamodbav:"nodeId"`
	NodePath []string `dynamodbav:"nodePath"`
	Status   string   `dynamodbav:"status"`
	Version  int      `dynamodbav:"version"`
	Attrs    struct {
		// Virtual flags a virtual company; Type and ValidUntil are a license's.
		Virtual    bool   `dynamodbav:"virtual"`
		Type       string `dynamodbav:"type"`
		ValidUntil string `dynamodbav:"validUntil"`
	} `dynamodbav:"attrs"`
}

// The sort keys of the items counted, and their kinds in markers.
const (
	userSK      = "USER"
	licenseSK   = "LICENSE"
	kindUser    = "user"
	kindLicense = "license"
)

// change is an item's state as of one version, read from one stream record.
type change struct {
	seq string
	// pk is the item's partition, where its marker is kept.
	pk                 string
	id, kind, parentID string
	status             string // "" when the item is removed
	v                  int
	removed            bool
	// node is set for node items, whose parent's children counts move with status.
	node bool
	// ancestors are the nodes whose totals hold the item (root first), and counted
	// what it adds to them.
	ancestors []string
	counted   contribution
	// at is the record's stream time (ApproximateCreationDateTime) as a stamp, what
	// the totals' asOf becomes; "" when the record has none.
	at string
}

// contributionOf is what an item in img adds to each ancestor's totals.
func contributionOf(sk string, img image) contribution {
	switch sk {
	case nodes.SK:
		c := contribution{facets: []string{nodeFacet(img.Kind, img.Status)}}
		if img.Kind == string(tree.KindCompany) && img.Attrs.Virtual {
			c.facets = append(c.facets, VirtualFacet)
		}
		return c
	case userSK:
		return contribution{facets: []string{UserFacet(img.Status)}}
	case licenseSK:
		c := contribution{facets: []string{LicenseFacet(img.Attrs.Type, img.Status)}}
		if s, ok := Series(img.Attrs.Type, img.Status); ok && img.Attrs.ValidUntil != "" {
			c.series, c.until = s, img.Attrs.ValidUntil
		}
		return c
	}
	return contribution{}
}

// totalled reports whether nodes of kind keep subtree totals: every kind with a
// dashboard, that is every node but an end user's record (a leaf).
func totalled(kind tree.Kind) bool { return kind != "" && kind != tree.KindEndUser }

// ancestorsOf are the nodes whose totals count the item of img: a node's and a
// license's path (a license's holder is the last), a user's node and its path.
func ancestorsOf(sk string, img image) []string {
	var line []string
	switch sk {
	case userSK:
		line = append(slices.Clone(img.NodePath), img.NodeID)
	case nodes.SK:
		// The parent is the path's last node; an image without a path (written by
		// hand) is still counted under its parent.
		line = img.Path
		if !slices.Contains(line, img.ParentID) {
			line = append(slices.Clone(line), img.ParentID)
		}
	default:
		line = img.Path
	}
	out := make([]string, 0, len(line))
	for _, id := range line {
		// An end user's record (a console user's node, for an end user's account)
		// has no dashboard.
		if k, ok := nodes.KindOfID(id); id != "" && (!ok || totalled(k)) {
			out = append(out, id)
		}
	}
	return out
}

// Consumer is the tree-counter function: it turns the stream records of node items
// into their parents' counts, and those of nodes, console users and licenses into the
// totals of every ancestor.
type Consumer struct {
	Store *store.Store
}

// Errors a transaction item's failed condition means.
var errMarkerMoved = errors.New("the item's marker changed since it was read")

// ancestorGone is the failed condition of the check that ancestor i still exists.
type ancestorGone struct{ i int }

func (a ancestorGone) Error() string { return fmt.Sprintf("ancestor %d no longer exists", a.i) }

// maxAttempts bounds the tries of one record against moved markers and transaction
// conflicts; past it the record is reported failed and Lambda retries the batch.
const maxAttempts = 8

// Handle is the stream function's handler. It applies records in order, each in one
// transaction. A record that cannot be applied is reported as the batch's only item
// failure (ReportBatchItemFailures): Lambda checkpoints before it and retries from
// it, so it and every record after it come again; the records before it are done,
// and were they replayed anyway, their markers would make them no-ops.
func (c *Consumer) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		ch, ok := read(ctx, rec)
		if !ok {
			continue
		}
		if err := c.apply(ctx, ch); err != nil {
			api.Log(ctx).ErrorContext(ctx, "item not counted; the batch is retried from its record",
				"sequenceNumber", ch.seq, "item", ch.pk, "parent", ch.parentID, "version", ch.v, "error", err.Error())
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			return resp, nil
		}
	}
	return resp, nil
}

// read turns a stream record into the change it makes to counts and totals, or false
// when it makes none: not a node, user or license item, the platform (it has no
// parent), or a MODIFY that changes nothing counted (a rename: only the version
// moves, and the next counted change is newer than any marker either way).
func read(ctx context.Context, rec events.DynamoDBEventRecord) (change, bool) {
	skv, ok := rec.Change.Keys["SK"]
	if !ok || skv.DataType() != events.DataTypeString {
		return change{}, false
	}
	sk := skv.String()
	wantType := map[string]string{nodes.SK: "node", userSK: kindUser, licenseSK: kindLicense}[sk]
	if wantType == "" {
		return change{}, false
	}
	seq := rec.Change.SequenceNumber
	var img, old image
	decode := func(from map[string]events.DynamoDBAttributeValue, into *image) bool {
		if from == nil {
			return false
		}
		if err := attributevalue.UnmarshalMap(audit.FromStreamImage(from), into); err != nil {
			// A record we cannot read will not become readable on retry; log it and
			// move on rather than block the shard (as the audit writer does).
			api.Log(ctx).ErrorContext(ctx, "unreadable record", "sequenceNumber", seq, "error", err.Error())
			return false
		}
		return true
	}
	ch := change{seq: seq}
	if t := rec.Change.ApproximateCreationDateTime.Time; !t.IsZero() {
		ch.at = nodes.Stamp(t)
	}
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
		if rec.Change.OldImage != nil && decode(rec.Change.OldImage, &old) && old.Status == img.Status &&
			reflect.DeepEqual(contributionOf(sk, old), contributionOf(sk, img)) {
			return ch, false
		}
		ch.v, ch.status = img.Version, img.Status
	case events.DynamoDBOperationTypeRemove:
		if !decode(rec.Change.OldImage, &img) {
			return ch, false
		}
		// A delete removes the item whose last version is n; its effect is the n+1st
		// state of the item, newer than every record before it.
		ch.v, ch.removed = img.Version+1, true
	default:
		return ch, false
	}
	if img.Type != wantType || img.ID == tree.PlatformID {
		return ch, false
	}
	if sk == nodes.SK && img.ParentID == "" {
		return ch, false
	}
	if img.ID == "" || img.Version < 1 || (sk == nodes.SK && img.Kind == "") || (sk == userSK && img.NodeID == "") ||
		(sk == licenseSK && len(img.Path) == 0) {
		api.Log(ctx).ErrorContext(ctx, "record without id, kind, place or version", "sequenceNumber", seq)
		return ch, false
	}
	ch.id, ch.parentID, ch.ancestors = img.ID, img.ParentID, ancestorsOf(sk, img)
	switch sk {
	case nodes.SK:
		ch.pk, ch.kind, ch.node = nodes.PK(img.ID), img.Kind, true
	case userSK:
		ch.pk, ch.kind, ch.parentID = "USER#"+img.ID, kindUser, img.NodeID
	case licenseSK:
		ch.pk, ch.kind = "LICENSE#"+img.ID, kindLicense
	}
	if !ch.removed {
		ch.counted = contributionOf(sk, img)
	}
	return ch, true
}

// apply counts the change unless its version, or a newer one, is counted already.
// It reads the marker, then writes in one transaction the new marker (on condition
// that it is still the one read), the parent's children counts (nodes), the totals
// of every ancestor and a check that each of them still exists. An ancestor that is
// gone (deleted, its totals with it) is left out and the transaction built again: its
// totals must never come back. A marker that moved meanwhile is read again; a
// conflict with another transaction is retried after a short, growing, jittered pause.
func (c *Consumer) apply(ctx context.Context, ch change) error {
	gone := map[int]bool{}
	for attempt := 1; ; attempt++ {
		var prev marker
		err := c.Store.Get(ctx, store.Key(ch.pk, markerSK), &prev)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if found && prev.V >= ch.v {
			return nil // this version or a newer one is counted already
		}
		writes, err := c.writes(ch, prev, found, gone)
		if err != nil {
			return err
		}
		err = c.Store.Transact(ctx, writes...)
		var g ancestorGone
		switch {
		case err == nil:
			return nil
		case errors.As(err, &g):
			// Not an attempt: at most one per ancestor.
			gone[g.i] = true
			attempt--
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

// writes are the transaction of one change: the marker, the parent's counts (a
// node's, when the counted status changes), and for each ancestor not known to be
// gone its totals' updates and the check that it exists.
func (c *Consumer) writes(ch change, prev marker, found bool, gone map[int]bool) ([]store.Write, error) {
	next := marker{
		PK: ch.pk, SK: markerSK, Type: markerType,
		V: ch.v, Status: ch.status, ParentID: ch.parentID, Kind: ch.kind,
		Facets: ch.counted.facets, Series: ch.counted.series, Until: ch.counted.until,
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
	d := deltaOf(prev.contribution(), ch.counted)
	for i, a := range ch.ancestors {
		if gone[i] {
			continue
		}
		if ch.node && a == ch.parentID && prev.Status != ch.status {
			writes = append(writes, countsUpdate(ch.parentID, ch.kind, prev.Status, ch.status))
		}
		ws := d.writes(a, ch.id, ch.at)
		if len(ws) == 0 && !(ch.node && a == ch.parentID) {
			continue
		}
		// An ancestor's delete removes its counts item in the same transaction as its
		// node item (and the sweeper its totals after it), so checking the node here
		// means the ADD never recreates a removed counts or totals item: nothing is
		// counted on a deleted node.
		writes = append(writes, ws...)
		writes = append(writes, store.Check(nodes.Key(a), store.Exists()).FailsWith(ancestorGone{i}))
	}
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

// backoff is the pause before attempt+1: 10 ms doubled per attempt, half of it
// jittered so that two writers that conflicted do not meet again.
func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << attempt
	return d/2 + rand.N(d/2)
}
