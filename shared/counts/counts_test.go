package counts

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/store"
)

func TestCountsFromItem(t *testing.T) {
	tests := []struct {
		name  string
		raw   map[string]any
		want  Counts
		total int
	}{
		{"keys and type are not counts", map[string]any{"PK": "NODE#d", "SK": "COUNTS", "type": "counts"}, Counts{}, 0},
		{
			"kind#status attributes become kind then status",
			map[string]any{"organization#approved": 3.0, "organization#pending": 1.0, "company#active": 2.0},
			Counts{"organization": {"approved": 3, "pending": 1}, "company": {"active": 2}}, 6,
		},
		{"zeros left by a child's removal are omitted", map[string]any{"partner#active": 0.0, "partner#suspended": 1.0},
			Counts{"partner": {"suspended": 1}}, 1},
		{"a status may hold a #: the first # splits", map[string]any{"partner#a#b": 1.0}, Counts{"partner": {"a#b": 1}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fromItem(tc.raw)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("fromItem = %v, want %v", got, tc.want)
			}
			if got.Total() != tc.total {
				t.Errorf("Total = %d, want %d", got.Total(), tc.total)
			}
		})
	}
}

func TestCountsUpdate(t *testing.T) {
	tests := []struct {
		name, from, to, expr string
		names                map[string]string
	}{
		{"a new child adds one", "", "active", "SET #type = :type ADD #to :plus",
			map[string]string{"#type": "type", "#to": "partner#active"}},
		{"a removed child takes one off", "active", "", "SET #type = :type ADD #from :minus",
			map[string]string{"#type": "type", "#from": "partner#active"}},
		{"a status change does both", "active", "a.b[0]", "SET #type = :type ADD #to :plus, #from :minus",
			map[string]string{"#type": "type", "#to": "partner#a.b[0]", "#from": "partner#active"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := sent(t, countsUpdate("d", "partner", tc.from, tc.to))
			if got := aws.ToString(u.UpdateExpression); got != tc.expr {
				t.Errorf("expression %q, want %q", got, tc.expr)
			}
			if !reflect.DeepEqual(u.ExpressionAttributeNames, tc.names) {
				t.Errorf("names %v, want %v", u.ExpressionAttributeNames, tc.names)
			}
			if !reflect.DeepEqual(u.Key, Key("d")) {
				t.Errorf("key %v", u.Key)
			}
		})
	}
}

// record builds a stream record as Lambda delivers it, from DynamoDB JSON images.
func record(t *testing.T, name, keys, newImage, oldImage string) events.DynamoDBEventRecord {
	t.Helper()
	raw := `{"eventName": "` + name + `", "dynamodb": {"SequenceNumber": "1", "StreamViewType": "NEW_AND_OLD_IMAGES", "Keys": ` + keys
	if newImage != "" {
		raw += `, "NewImage": ` + newImage
	}
	if oldImage != "" {
		raw += `, "OldImage": ` + oldImage
	}
	raw += `}}`
	var r events.DynamoDBEventRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

const (
	nodeKeys  = `{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "NODE"}}`
	active    = `{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "NODE"}, "type": {"S": "node"}, "id": {"S": "prt_1"}, "kind": {"S": "partner"}, "parentId": {"S": "dst_1"}, "status": {"S": "active"}, "version": {"N": "4"}, "name": {"S": "A"}}`
	renamed   = `{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "NODE"}, "type": {"S": "node"}, "id": {"S": "prt_1"}, "kind": {"S": "partner"}, "parentId": {"S": "dst_1"}, "status": {"S": "active"}, "version": {"N": "5"}, "name": {"S": "B"}}`
	suspended = `{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "NODE"}, "type": {"S": "node"}, "id": {"S": "prt_1"}, "kind": {"S": "partner"}, "parentId": {"S": "dst_1"}, "status": {"S": "suspended"}, "version": {"N": "5"}, "name": {"S": "A"}}`
	platform  = `{"PK": {"S": "NODE#platform"}, "SK": {"S": "NODE"}, "type": {"S": "node"}, "id": {"S": "platform"}, "kind": {"S": "platform"}, "status": {"S": "active"}, "version": {"N": "1"}}`
)

func TestRead(t *testing.T) {
	base := change{seq: "1", pk: "NODE#prt_1", id: "prt_1", kind: "partner", parentID: "dst_1", node: true, ancestors: []string{"dst_1"}}
	with := func(f func(*change)) change { c := base; f(&c); return c }
	tests := []struct {
		name string
		rec  events.DynamoDBEventRecord
		want *change // nil: ignored
	}{
		{"an INSERT counts the new status at the new version", record(t, "INSERT", nodeKeys, active, ""),
			ptr(with(func(c *change) {
				c.status, c.v, c.counted = "active", 4, contribution{facets: []string{"partner#active"}}
			}))},
		{"a MODIFY that changes the status counts the new one", record(t, "MODIFY", nodeKeys, suspended, active),
			ptr(with(func(c *change) {
				c.status, c.v, c.counted = "suspended", 5, contribution{facets: []string{"partner#suspended"}}
			}))},
		{"a MODIFY that keeps the status is skipped", record(t, "MODIFY", nodeKeys, renamed, active), nil},
		{"a REMOVE is the version after the removed one, counted nowhere", record(t, "REMOVE", nodeKeys, "", active),
			ptr(with(func(c *change) { c.v, c.removed = 5, true }))},
		{"the platform has no parent to count it", record(t, "INSERT", `{"PK": {"S": "NODE#platform"}, "SK": {"S": "NODE"}}`, platform, ""), nil},
		{"a counts item is not a node", record(t, "MODIFY", `{"PK": {"S": "NODE#dst_1"}, "SK": {"S": "COUNTS"}}`,
			`{"PK": {"S": "NODE#dst_1"}, "SK": {"S": "COUNTS"}, "type": {"S": "counts"}, "partner#active": {"N": "2"}}`,
			`{"PK": {"S": "NODE#dst_1"}, "SK": {"S": "COUNTS"}, "type": {"S": "counts"}, "partner#active": {"N": "1"}}`), nil},
		{"a marker is not a node", record(t, "INSERT", `{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "COUNTED"}}`,
			`{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "COUNTED"}, "type": {"S": "counted"}, "v": {"N": "1"}, "status": {"S": "active"}, "parentId": {"S": "dst_1"}, "kind": {"S": "partner"}}`, ""), nil},
		{"a node image without a version is logged and skipped", record(t, "INSERT", nodeKeys,
			`{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "NODE"}, "type": {"S": "node"}, "id": {"S": "prt_1"}, "kind": {"S": "partner"}, "parentId": {"S": "dst_1"}, "status": {"S": "active"}}`, ""), nil},
		{"a version that is not a number is logged and skipped", record(t, "INSERT", nodeKeys,
			`{"PK": {"S": "NODE#prt_1"}, "SK": {"S": "NODE"}, "type": {"S": "node"}, "id": {"S": "prt_1"}, "kind": {"S": "partner"}, "parentId": {"S": "dst_1"}, "status": {"S": "active"}, "version": {"S": "one"}}`, ""), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := read(context.Background(), tc.rec)
			switch {
			case tc.want == nil && ok:
				t.Errorf("read = %+v, want the record ignored", got)
			case tc.want != nil && !ok:
				t.Errorf("record ignored, want %+v", *tc.want)
			case tc.want != nil && !reflect.DeepEqual(got, *tc.want):
				t.Errorf("read = %+v, want %+v", got, *tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// untouchable fails the test on any call the consumer could make (the embedded nil
// Client panics on the others).
type untouchable struct {
	store.Client
	t *testing.T
}

func (u untouchable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	u.t.Error("GetItem called")
	return nil, errors.New("untouchable")
}

func (u untouchable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	u.t.Error("PutItem called")
	return nil, errors.New("untouchable")
}

func (u untouchable) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	u.t.Error("TransactWriteItems called")
	return nil, errors.New("untouchable")
}

// TestHandleIgnoresWhatItDoesNotCount hands the consumer the audit writer's sample
// event (a change record and a node MODIFY that keeps the status) and the platform's
// INSERT: it answers without a failure and without a single DynamoDB call.
func TestHandleIgnoresWhatItDoesNotCount(t *testing.T) {
	raw, err := os.ReadFile("../../events/stream-change-record.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Records = append(ev.Records, record(t, "INSERT", `{"PK": {"S": "NODE#platform"}, "SK": {"S": "NODE"}}`, platform, ""))
	c := &Consumer{Store: &store.Store{DB: untouchable{t: t}, Table: "t"}}
	res, err := c.Handle(context.Background(), ev)
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", res, err)
	}
}

// sent is the update w becomes in the TransactWriteItems call the store makes of it,
// read from a client that records the call (a fake: the test needs no table).
func sent(t *testing.T, w store.Write) *types.Update {
	t.Helper()
	rec := &recorder{}
	if err := (&store.Store{DB: rec, Table: "t"}).Transact(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if rec.in == nil || len(rec.in.TransactItems) != 1 || rec.in.TransactItems[0].Update == nil {
		t.Fatalf("the store sent %+v", rec.in)
	}
	return rec.in.TransactItems[0].Update
}

// recorder is a store.Client that records the transaction it is given and answers
// it with success; every other call is left to the nil interface (and would panic).
type recorder struct {
	store.Client
	in *dynamodb.TransactWriteItemsInput
}

func (r *recorder) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.in = in
	return &dynamodb.TransactWriteItemsOutput{}, nil
}
