package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The store's single-item calls, reads and error mapping, against the fake (see
// fake_test.go): what each sends, and what each makes of DynamoDB's answers.

var errBoom = errors.New("boom")

func ccf() error { return &types.ConditionalCheckFailedException{Message: aws.String("no")} }

// wrapped fails t unless err wraps errBoom and starts with prefix (the call's name),
// so that a log says which call failed while errors.Is still finds the SDK's error.
func wrapped(t *testing.T, err error, prefix string) {
	t.Helper()
	if !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), prefix+": ") {
		t.Fatalf("err %v, want %q wrapping the SDK's error", err, prefix)
	}
}

type thing struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Name string `dynamodbav:"name"`
}

// unstorable is a value that refuses to be marshalled.
type unstorable struct{}

func (unstorable) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return nil, errors.New("not storable")
}

func TestGet(t *testing.T) {
	t.Run("an item is read strongly consistent, unmarshalled and metered", func(t *testing.T) {
		f := &fake{item: Item{"PK": s("A"), "SK": s("A"), "name": s("Ada")}}
		ctx, m := WithMeter(context.Background())
		var got thing
		if err := (&Store{DB: f, Table: "tbl"}).Get(ctx, Key("A", "A"), &got); err != nil || got.Name != "Ada" {
			t.Fatalf("%+v %v", got, err)
		}
		in := f.gets[0]
		if *in.TableName != "tbl" || !aws.ToBool(in.ConsistentRead) || !reflect.DeepEqual(in.Key, Key("A", "A")) {
			t.Fatalf("sent %+v", in)
		}
		if r, _ := m.Units(); m.RoundTrips() != 1 || r != 1 {
			t.Fatalf("%d trips, %v read", m.RoundTrips(), r)
		}
	})
	t.Run("no item is ErrNotFound", func(t *testing.T) {
		if err := (&Store{DB: &fake{}, Table: "tbl"}).Get(context.Background(), Key("A", "A"), &thing{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("an SDK error is wrapped", func(t *testing.T) {
		err := (&Store{DB: &fake{errs: []error{errBoom}}, Table: "tbl"}).Get(context.Background(), Key("A", "A"), &thing{})
		wrapped(t, err, "get item")
	})
	t.Run("an item of the wrong shape is an unmarshalling error", func(t *testing.T) {
		f := &fake{item: Item{"name": &types.AttributeValueMemberN{Value: "1"}}}
		var out struct {
			Name []bool `dynamodbav:"name"`
		}
		if err := (&Store{DB: f, Table: "tbl"}).Get(context.Background(), Key("A", "A"), &out); err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestBatchGet(t *testing.T) {
	keys := []Item{Key("A", "A"), Key("B", "B"), Key("C", "C")}
	st := func(f *fake) *Store { return &Store{DB: f, Table: "tbl"} }
	t.Run("keys left unprocessed are asked again until all are read", func(t *testing.T) {
		f := &fake{batches: []*dynamodb.BatchGetItemOutput{
			{
				Responses:        map[string][]Item{"tbl": {keys[0]}},
				UnprocessedKeys:  map[string]types.KeysAndAttributes{"tbl": {Keys: keys[1:], ConsistentRead: aws.Bool(true)}},
				ConsumedCapacity: []types.ConsumedCapacity{*capacity},
			},
			{Responses: map[string][]Item{"tbl": {keys[2]}}, ConsumedCapacity: []types.ConsumedCapacity{*capacity}},
		}}
		ctx, m := WithMeter(context.Background())
		got, err := st(f).BatchGet(ctx, keys)
		if err != nil || !reflect.DeepEqual(got, []Item{keys[0], keys[2]}) {
			t.Fatalf("%v %v", got, err)
		}
		if len(f.batchGets) != 2 || !reflect.DeepEqual(f.batchGets[1].RequestItems["tbl"].Keys, keys[1:]) {
			t.Fatalf("%d calls: %+v", len(f.batchGets), f.batchGets)
		}
		if first := f.batchGets[0].RequestItems["tbl"]; !aws.ToBool(first.ConsistentRead) || len(first.Keys) != 3 {
			t.Fatalf("first call %+v", first)
		}
		if m.RoundTrips() != 2 {
			t.Fatalf("%d metered", m.RoundTrips())
		}
	})
	t.Run("keys still unprocessed after five calls are an error", func(t *testing.T) {
		stuck := &dynamodb.BatchGetItemOutput{UnprocessedKeys: map[string]types.KeysAndAttributes{"tbl": {Keys: keys}}}
		f := &fake{batches: []*dynamodb.BatchGetItemOutput{stuck, stuck, stuck, stuck, stuck, stuck}}
		if _, err := st(f).BatchGet(context.Background(), keys); err == nil || len(f.batchGets) != 5 {
			t.Fatalf("err %v after %d calls", err, len(f.batchGets))
		}
	})
	t.Run("more keys than one call takes are refused without a call", func(t *testing.T) {
		f := &fake{}
		if _, err := st(f).BatchGet(context.Background(), make([]Item, MaxBatchGet+1)); err == nil || len(f.batchGets) != 0 {
			t.Fatalf("err %v after %d calls", err, len(f.batchGets))
		}
	})
	t.Run("no keys, no call", func(t *testing.T) {
		f := &fake{}
		if got, err := st(f).BatchGet(context.Background(), nil); err != nil || got != nil || len(f.batchGets) != 0 {
			t.Fatalf("%v %v after %d calls", got, err, len(f.batchGets))
		}
	})
	t.Run("an SDK error is wrapped", func(t *testing.T) {
		_, err := st(&fake{errs: []error{errBoom}}).BatchGet(context.Background(), keys)
		wrapped(t, err, "batch get")
	})
}

func TestPutIf(t *testing.T) {
	st := func(f *fake) *Store { return &Store{DB: f, Table: "tbl"} }
	for _, c := range []struct {
		name string
		cond *Condition
		// wantValues tells whether the request carries expression values.
		wantExpr   string
		wantValues bool
	}{
		{"an unconditional put", nil, "", false},
		{"a put if the item is new sends no values", NotExists(), "attribute_not_exists(#pk)", false},
		{"a put under a version sends its value", VersionIs(2), "#v = :v", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{}
			if err := st(f).PutIf(context.Background(), thing{PK: "A", SK: "A", Name: "Ada"}, c.cond); err != nil {
				t.Fatal(err)
			}
			in := f.puts[0]
			if *in.TableName != "tbl" || in.Item["name"].(*types.AttributeValueMemberS).Value != "Ada" || aws.ToString(in.ConditionExpression) != c.wantExpr ||
				(in.ExpressionAttributeValues != nil) != c.wantValues {
				t.Fatalf("sent %+v", in)
			}
		})
	}
	t.Run("a failed condition is ErrConditionFailed, and still a round trip", func(t *testing.T) {
		ctx, m := WithMeter(context.Background())
		if err := st(&fake{errs: []error{ccf()}}).PutIf(ctx, thing{PK: "A"}, NotExists()); !errors.Is(err, ErrConditionFailed) || m.RoundTrips() != 1 {
			t.Fatalf("err %v, %d metered", err, m.RoundTrips())
		}
	})
	t.Run("an SDK error is wrapped", func(t *testing.T) {
		wrapped(t, st(&fake{errs: []error{errBoom}}).PutIf(context.Background(), thing{PK: "A"}, nil), "put item")
	})
	t.Run("a value that is no item is refused without a call", func(t *testing.T) {
		f := &fake{}
		if err := st(f).PutIf(context.Background(), struct{ X unstorable }{}, nil); err == nil || len(f.puts) != 0 {
			t.Fatalf("err %v after %d calls", err, len(f.puts))
		}
	})
}

func TestDeleteIf(t *testing.T) {
	st := func(f *fake) *Store { return &Store{DB: f, Table: "tbl"} }
	t.Run("a conditional delete sends its condition", func(t *testing.T) {
		f := &fake{}
		if err := st(f).DeleteIf(context.Background(), Key("A", "A"), AttrIs("ownerId", "u1")); err != nil {
			t.Fatal(err)
		}
		in := f.deletes[0]
		if *in.TableName != "tbl" || *in.ConditionExpression != "#a = :a" || in.ExpressionAttributeNames["#a"] != "ownerId" {
			t.Fatalf("sent %+v", in)
		}
	})
	t.Run("a failed condition is no error: there was nothing of ours to delete", func(t *testing.T) {
		if err := st(&fake{errs: []error{ccf()}}).DeleteIf(context.Background(), Key("A", "A"), Exists()); err != nil {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("an unconditional delete sends no condition", func(t *testing.T) {
		f := &fake{}
		if err := st(f).DeleteIf(context.Background(), Key("A", "A"), nil); err != nil || f.deletes[0].ConditionExpression != nil {
			t.Fatalf("err %v, sent %+v", err, f.deletes[0])
		}
	})
	t.Run("an SDK error is wrapped", func(t *testing.T) {
		wrapped(t, st(&fake{errs: []error{errBoom}}).DeleteIf(context.Background(), Key("A", "A"), nil), "delete item")
	})
}

func TestQueryOnce(t *testing.T) {
	next := Item{"PK": s("P"), "SK": s("b")}
	t.Run("one Query, its limit bounding the items evaluated, its scanned count and next key kept", func(t *testing.T) {
		f := &fake{page: &dynamodb.QueryOutput{Items: []Item{{"PK": s("P")}}, ScannedCount: 7, LastEvaluatedKey: next, ConsumedCapacity: capacity}}
		ctx, m := WithMeter(context.Background())
		r, err := (&Store{DB: f, Table: "tbl"}).QueryOnce(ctx, dynamodb.QueryInput{Limit: aws.Int32(7)})
		if err != nil || len(r.Items) != 1 || r.Scanned != 7 || !reflect.DeepEqual(r.Next, next) {
			t.Fatalf("%+v %v", r, err)
		}
		if in := f.queries[0]; *in.TableName != "tbl" || *in.Limit != 7 || in.ReturnConsumedCapacity != types.ReturnConsumedCapacityTotal {
			t.Fatalf("sent %+v", in)
		}
		if m.RoundTrips() != 1 {
			t.Fatalf("%d metered", m.RoundTrips())
		}
	})
	t.Run("the end of the key range has no next key", func(t *testing.T) {
		f := &fake{page: &dynamodb.QueryOutput{ScannedCount: 0}}
		if r, err := (&Store{DB: f, Table: "tbl"}).QueryOnce(context.Background(), dynamodb.QueryInput{}); err != nil || r.Next != nil || r.Items != nil {
			t.Fatalf("%+v %v", r, err)
		}
	})
	t.Run("an SDK error is wrapped", func(t *testing.T) {
		_, err := (&Store{DB: &fake{errs: []error{errBoom}}, Table: "tbl"}).QueryOnce(context.Background(), dynamodb.QueryInput{})
		wrapped(t, err, "query")
	})
	t.Run("QueryPage wraps an SDK error too", func(t *testing.T) {
		_, err := (&Store{DB: &fake{errs: []error{errBoom}}, Table: "tbl"}).QueryPage(context.Background(), dynamodb.QueryInput{}, 3, nil)
		wrapped(t, err, "query")
	})
}

func TestErrorMapping(t *testing.T) {
	st := func(f *fake) *Store { return &Store{DB: f, Table: "tbl"} }
	t.Run("a transaction error that is no cancellation is wrapped, not retried", func(t *testing.T) {
		f := &fake{errs: []error{errBoom}}
		err := st(f).Transact(context.Background(), Delete(Key("A", "A"), nil))
		wrapped(t, err, "transact write")
		if len(f.transact) != 1 {
			t.Fatalf("%d calls", len(f.transact))
		}
	})
	t.Run("a cancellation by a failed condition is not retried", func(t *testing.T) {
		f := &fake{errs: []error{cancelled("ConditionalCheckFailed")}}
		if err := st(f).Transact(context.Background(), Delete(Key("A", "A"), nil)); err == nil || len(f.transact) != 1 {
			t.Fatalf("err %v after %d calls", err, len(f.transact))
		}
	})
	t.Run("a conflict's backoff ends with the request's context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f := &fake{errs: []error{cancelled("TransactionConflict")}}
		if err := st(f).Transact(ctx, Delete(Key("A", "A"), nil)); !errors.Is(err, context.Canceled) || len(f.transact) != 1 {
			t.Fatalf("err %v after %d calls", err, len(f.transact))
		}
	})
	t.Run("UpdateOne wraps an SDK error", func(t *testing.T) {
		_, err := st(&fake{errs: []error{errBoom}}).UpdateOne(context.Background(), Edit(Key("A", "A"), Expr{Update: "REMOVE x"}))
		wrapped(t, err, "update item")
	})
	t.Run("UpdateOne refuses a write that could not be built, without a call", func(t *testing.T) {
		f := &fake{}
		bad := Edit(Key("A", "A"), Expr{Update: "SET #a = :a", Names: map[string]string{"#a": "a"}, Values: map[string]any{":a": make(chan int)}})
		if _, err := st(f).UpdateOne(context.Background(), bad); err == nil || len(f.updates) != 0 {
			t.Fatalf("err %v after %d calls", err, len(f.updates))
		}
	})
}

func TestConditions(t *testing.T) {
	t.Run("Cond carries the builder's expression, names and values", func(t *testing.T) {
		c, err := Cond(expression.Name("status").Equal(expression.Value("active")))
		if err != nil || c.Expr != "#0 = :0" || c.Names["#0"] != "status" || c.Values[":0"].(*types.AttributeValueMemberS).Value != "active" {
			t.Fatalf("%+v %v", c, err)
		}
	})
	t.Run("Cond refuses an empty builder", func(t *testing.T) {
		if _, err := Cond(expression.ConditionBuilder{}); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("Exists and NotExists name the key, with no values", func(t *testing.T) {
		for _, c := range []*Condition{Exists(), NotExists()} {
			expr, names, values := c.parts()
			if !strings.Contains(*expr, "(#pk)") || names["#pk"] != "PK" || values != nil {
				t.Fatalf("%q %v %v", *expr, names, values)
			}
		}
	})
	t.Run("Check writes nothing but its condition", func(t *testing.T) {
		w := Check(Key("A", "A"), VersionIs(1))
		if w.item.ConditionCheck == nil || *w.item.ConditionCheck.ConditionExpression != "#v = :v" || w.item.Put != nil || w.item.Update != nil {
			t.Fatalf("%+v", w.item)
		}
	})
	t.Run("Edit with a built condition and no names of its own", func(t *testing.T) {
		cond := expression.AttributeExists(expression.Name("PK"))
		w := Edit(Key("A", "A"), Expr{Update: "REMOVE claimedUntil", If: &cond})
		if w.err != nil || w.item.Update.ExpressionAttributeNames["#0"] != "PK" || w.item.Update.ExpressionAttributeValues != nil {
			t.Fatalf("%+v %v", w.item.Update, w.err)
		}
	})
	t.Run("FailsWith keeps the write and names its error", func(t *testing.T) {
		gone := errors.New("gone")
		w := Delete(Key("A", "A"), Exists()).FailsWith(gone)
		if w.fail != gone || w.item.Delete == nil {
			t.Fatalf("%+v", w)
		}
	})
}

func TestPause(t *testing.T) {
	if err := Pause(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Pause(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}
