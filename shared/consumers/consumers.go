// Package consumers is the table of the table stream's consumers: for each, which
// stream records it wants, what of their images it is sent, and whether its queue
// keeps each item's records in order. The stream-router function (shared/router) is
// the stream's one reader: it matches every record against this table and sends it
// to the queue of each consumer that wants it; each consumer is an SQS-triggered
// function whose stream handler (function.StreamHandler, unchanged) runs behind
// FromQueue, the adapter from SQS. Why a router and not a mapping per consumer, and
// what each record costs: docs/streams.md.
//
// The package links no AWS client: the router (SQS) and every consumer import it.
//
// Adding a consumer, in three steps (the webhook dispatcher and the dashboard
// counters come this way):
//  1. A function whose handler is a function.StreamHandler, built with
//     deps.Consumer in shared/lambdas and its main (shared/lambdas' four steps).
//  2. One entry in Table below: its function name, Match (the filter, a plain
//     function of the record, table-tested in consumers_test.go), Images (only the
//     attributes it reads, so that messages stay small) and Ordered (a FIFO queue,
//     one message group per item) when it needs each item's records in order.
//  3. In template.yaml: its queue (FifoQueue when Ordered, a RedrivePolicy to its
//     dead-letter queue, VisibilityTimeout six times the function's timeout), the
//     dead-letter queue (FIFO too when Ordered), the function's SQS event on the
//     queue with FunctionResponseTypes [ReportBatchItemFailures], and on the
//     StreamRouterFunction the environment variable QueueEnv(name) (!Ref the queue)
//     and the queue's Arn in its sqs:SendMessage statement; the DLQ in the
//     DeadLetterDepthAlarm. TestConsumersInTemplate (infra/template) fails until all
//     of that is there, and on any third DynamoDB or Kinesis mapping of the stream.
package consumers

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Consumer is one reader of the table's stream, behind the router.
type Consumer struct {
	// Name is the consumer's function (its folder under functions/).
	Name string
	// Match tells whether the consumer wants the record: the filter that an event
	// source mapping's FilterCriteria would hold.
	Match func(events.DynamoDBEventRecord) bool
	// Images is what of the record's NewImage and OldImage the consumer is sent.
	Images Images
	// Ordered consumers have a FIFO queue: the records of one item (its key) form one
	// message group, delivered in stream order, and the stream record's eventID
	// deduplicates a record the router sends twice within SQS's 5 minutes.
	Ordered bool
}

// Table is every consumer, in the order the router sends a record's messages.
var Table = []Consumer{
	{
		// The audit log's entries, from the change records (shared/audit).
		Name: "audit-writer",
		Match: func(r events.DynamoDBEventRecord) bool {
			return r.EventName == insert && str(r.Change.NewImage, "type") == changeType
		},
		Images: WholeImages,
	},
	{
		// Each node's children counts (shared/counts): every change of a node item, in
		// order per node; it reads nothing but these attributes of the images.
		Name:    "tree-counter",
		Match:   func(r events.DynamoDBEventRecord) bool { return str(r.Change.Keys, "SK") == nodeSK },
		Images:  Attributes("type", "id", "kind", "parentId", "status", "version"),
		Ordered: true,
	},
	{
		// Cascading deletes (shared/cascade): each INSERT or MODIFY of a job item runs
		// the job, which it reads from the table; one job's records in order.
		Name: "tree-deleter",
		Match: func(r events.DynamoDBEventRecord) bool {
			return (r.EventName == insert || r.EventName == modify) && str(r.Change.Keys, "SK") == cascadeSK
		},
		Images:  KeysOnly,
		Ordered: true,
	},
	{
		// What a deleted node leaves (shared/sweep): it needs the node's key only.
		Name: "node-sweeper",
		Match: func(r events.DynamoDBEventRecord) bool {
			return r.EventName == remove && str(r.Change.Keys, "SK") == nodeSK
		},
		Images: KeysOnly,
	},
}

// The facts the filters test. They are the domain packages' constants (nodes.SK,
// the cascade job's sort key, audit.ChangeType), written out so that the router does
// not link those packages; consumers_test.go checks they agree.
const (
	nodeSK     = "NODE"
	cascadeSK  = "CASCADE"
	changeType = "change"

	insert = string(events.DynamoDBOperationTypeInsert)
	modify = string(events.DynamoDBOperationTypeModify)
	remove = string(events.DynamoDBOperationTypeRemove)
)

// str is a string attribute of an image or key, "" when absent or not a string.
func str(m map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := m[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// Named is the consumer of that name.
func Named(name string) (Consumer, bool) {
	for _, c := range Table {
		if c.Name == name {
			return c, true
		}
	}
	return Consumer{}, false
}

// QueueEnv is the router's environment variable holding the consumer's queue URL:
// QUEUE_URL_ and the name in capitals, dashes as underscores
// (tree-counter → QUEUE_URL_TREE_COUNTER).
func QueueEnv(name string) string {
	return "QUEUE_URL_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Images is what of a record's images a consumer is sent.
type Images struct {
	whole bool
	attrs []string
}

// WholeImages sends the images as they are.
var WholeImages = Images{whole: true}

// KeysOnly sends no image: the record's keys, event name and sequence number.
var KeysOnly = Images{}

// Attributes sends only the named attributes of each image.
func Attributes(names ...string) Images { return Images{attrs: names} }

// project returns img as the consumer is sent it.
func (im Images) project(img map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
	if img == nil || im.whole {
		return img
	}
	if len(im.attrs) == 0 {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(im.attrs))
	for _, a := range im.attrs {
		if v, ok := img[a]; ok {
			out[a] = v
		}
	}
	return out
}

// maxGroupID is SQS's limit on a MessageGroupId.
const maxGroupID = 128

// GroupID is an ordered consumer's message group for the record: the item's key
// (PK and SK), or its SHA-256 when longer than SQS allows.
func GroupID(r events.DynamoDBEventRecord) string {
	id := str(r.Change.Keys, "PK") + "|" + str(r.Change.Keys, "SK")
	if len(id) <= maxGroupID {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
