package cascade

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

func sampleEvent(t *testing.T) events.DynamoDBEvent {
	t.Helper()
	raw, err := os.ReadFile("../../events/stream-cascade-job.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestJobRootReadsJobRecordsOnly(t *testing.T) {
	job := sampleEvent(t).Records[0]
	if id, ok := jobRoot(job); !ok || id != "prt_01kar4sample0000000000000" {
		t.Fatalf("jobRoot(sample) = %q, %v", id, ok)
	}
	modify := job
	modify.EventName = "MODIFY"
	if _, ok := jobRoot(modify); !ok {
		t.Fatal("a MODIFY of the job (recorded progress) must run it")
	}
	remove := job
	remove.EventName = "REMOVE"
	node := job
	node.Change.Keys = map[string]events.DynamoDBAttributeValue{
		"PK": events.NewStringAttribute("NODE#prt_1"), "SK": events.NewStringAttribute("NODE"),
	}
	numeric := job
	numeric.Change.Keys = map[string]events.DynamoDBAttributeValue{
		"PK": events.NewNumberAttribute("1"), "SK": events.NewStringAttribute("CASCADE"),
	}
	empty := job
	empty.Change.Keys = map[string]events.DynamoDBAttributeValue{
		"PK": events.NewStringAttribute("CASCADE#"), "SK": events.NewStringAttribute("CASCADE"),
	}
	for name, rec := range map[string]events.DynamoDBEventRecord{"REMOVE": remove, "node": node, "numeric key": numeric, "no root": empty} {
		if id, ok := jobRoot(rec); ok {
			t.Errorf("%s: jobRoot = %q, want nothing", name, id)
		}
	}
}

// failingDB fails every call, as DynamoDB unreachable would.
type failingDB struct{ store.Client }

func (failingDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errors.New("unreachable")
}

// TestHandleReportsAFailedRun checks that a run that cannot work is reported as the
// record's failure, so that the stream gives the record again.
func TestHandleReportsAFailedRun(t *testing.T) {
	w := &Worker{Store: &store.Store{DB: failingDB{}, Table: "t"}}
	res, err := w.Handle(context.Background(), sampleEvent(t))
	if err != nil || len(res.BatchItemFailures) != 1 || res.BatchItemFailures[0].ItemIdentifier != "100000000000000000021" {
		t.Fatalf("Handle = %+v, %v", res, err)
	}
}

func TestBatchesFitOneTransaction(t *testing.T) {
	for _, kind := range []tree.Kind{tree.KindDistributor, tree.KindPartner, tree.KindOrganization, tree.KindCompany, tree.KindEndUser} {
		n := (MaxTransactItems - 1) / itemsPerNode(kind)
		batch := make([]*victim, n)
		for i := range batch {
			batch[i] = &victim{it: nodes.Item{ID: nodes.NewID(kind), Kind: kind, ParentID: "p", Path: []string{"platform", "p"}, Name: "n", Version: 1}}
		}
		r := &run{fields: DefaultFields}
		writes, err := r.writes("p", batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(writes) > MaxTransactItems || len(writes)+itemsPerNode(kind) <= MaxTransactItems {
			t.Errorf("%s: a batch of %d takes %d items: not the most that fit in %d", kind, n, len(writes), MaxTransactItems)
		}
	}
}

func TestDefaultFieldsNameEndUsersByEmail(t *testing.T) {
	got := DefaultFields(nodes.Item{Kind: tree.KindEndUser, Name: "a@example.com", Status: "active", Attrs: map[string]any{"firstName": "A"}})
	if got["email"] != "a@example.com" || got["status"] != "active" || got["firstName"] != "A" || got["name"] != nil {
		t.Fatalf("fields %v", got)
	}
}
