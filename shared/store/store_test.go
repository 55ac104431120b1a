package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func cancelled(codes ...string) error {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i] = types.CancellationReason{Code: aws.String(c)}
	}
	return &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestTransact(t *testing.T) {
	stale, taken := errors.New("stale"), errors.New("taken")
	build := func(t *testing.T) []Write {
		put, err := Put(map[string]string{"PK": "A", "SK": "A"}, NotExists())
		if err != nil {
			t.Fatal(err)
		}
		upd, err := Update(Key("B", "B"), Item{"name": s("x")}, nil, expression.Name("version").Equal(expression.Value(1)))
		if err != nil {
			t.Fatal(err)
		}
		return []Write{put.FailsWith(taken), upd.FailsWith(stale), Delete(Key("C", "C"), nil), Check(Key("D", "D"), Exists())}
	}
	for _, c := range []struct {
		name  string
		errs  []error
		want  error
		calls int
	}{
		{"success", nil, nil, 1},
		{"a failed condition is that write's error", []error{cancelled("None", "ConditionalCheckFailed", "None", "None")}, stale, 1},
		{"the first failed condition in order wins", []error{cancelled("ConditionalCheckFailed", "ConditionalCheckFailed", "None", "None")}, taken, 1},
		{"a conflict is retried until it passes", []error{cancelled("TransactionConflict"), cancelled("None", "TransactionConflict")}, nil, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{errs: c.errs}
			ctx, m := WithMeter(context.Background())
			err := (&Store{DB: f, Table: "tbl"}).Transact(ctx, build(t)...)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if len(f.transact) != c.calls || m.RoundTrips() != c.calls {
				t.Fatalf("%d calls, %d metered, want %d", len(f.transact), m.RoundTrips(), c.calls)
			}
			items := f.transact[0].TransactItems
			if *items[0].Put.TableName != "tbl" || *items[1].Update.TableName != "tbl" ||
				*items[2].Delete.TableName != "tbl" || *items[3].ConditionCheck.TableName != "tbl" {
				t.Fatalf("a write lacks the table: %+v", items)
			}
		})
	}
	t.Run("a failed condition without an error of its own is the SDK's error", func(t *testing.T) {
		f := &fake{errs: []error{cancelled("None", "None", "ConditionalCheckFailed", "None")}}
		err := (&Store{DB: f, Table: "tbl"}).Transact(context.Background(), build(t)...)
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a conflict that never passes ends", func(t *testing.T) {
		errs := make([]error, maxConflictRetries+1)
		for i := range errs {
			errs[i] = cancelled("TransactionConflict")
		}
		f := &fake{errs: errs}
		if err := (&Store{DB: f, Table: "tbl"}).Transact(context.Background(), build(t)...); err == nil {
			t.Fatal("no error")
		}
		if len(f.transact) != maxConflictRetries+1 {
			t.Fatalf("%d calls", len(f.transact))
		}
	})
	t.Run("a write that could not be built fails before any call", func(t *testing.T) {
		f := &fake{}
		bad := Edit(Key("A", "A"), Expr{Update: "SET #a = :a", Names: map[string]string{"#a": "a"}, Values: map[string]any{":a": func() {}}})
		if err := (&Store{DB: f, Table: "tbl"}).Transact(context.Background(), bad); err == nil || len(f.transact) != 0 {
			t.Fatalf("err %v after %d calls", err, len(f.transact))
		}
	})
}

func TestUpdateOne(t *testing.T) {
	st := func(f *fake) *Store { return &Store{DB: f, Table: "tbl"} }
	t.Run("an update is sent on its own and its new attributes returned", func(t *testing.T) {
		f := &fake{}
		got, err := st(f).UpdateOne(context.Background(), Edit(Key("A", "A"), Expr{
			Update: "ADD #n :n", Condition: "attribute_exists(PK)", Names: map[string]string{"#n": "n"}, Values: map[string]any{":n": 1},
		}))
		if err != nil || got["n"] == nil {
			t.Fatalf("%v %v", got, err)
		}
		in := f.updates[0]
		if *in.TableName != "tbl" || *in.UpdateExpression != "ADD #n :n" || *in.ConditionExpression != "attribute_exists(PK)" ||
			in.ReturnValues != types.ReturnValueAllNew {
			t.Fatalf("sent %+v", in)
		}
	})
	t.Run("a failed condition is ErrConditionFailed", func(t *testing.T) {
		f := &fake{errs: []error{&types.ConditionalCheckFailedException{Message: aws.String("no")}}}
		if _, err := st(f).UpdateOne(context.Background(), Edit(Key("A", "A"), Expr{Update: "REMOVE x"})); !errors.Is(err, ErrConditionFailed) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a write that is not an update is refused without a call", func(t *testing.T) {
		f := &fake{}
		if _, err := st(f).UpdateOne(context.Background(), Delete(Key("A", "A"), nil)); err == nil || len(f.updates) != 0 {
			t.Fatalf("err %v after %d calls", err, len(f.updates))
		}
	})
}

func TestWrites(t *testing.T) {
	t.Run("Update writes SET and REMOVE with the builder's condition", func(t *testing.T) {
		w, err := Update(Key("A", "A"), Item{"b": s("2"), "a": s("1")}, []string{"c"}, expression.Name("version").Equal(expression.Value(3)))
		if err != nil {
			t.Fatal(err)
		}
		u := w.item.Update
		if got := *u.UpdateExpression; got != "SET #a0 = :a0, #a1 = :a1 REMOVE #r0" {
			t.Fatalf("expression %q", got)
		}
		if u.ExpressionAttributeNames["#a0"] != "a" || u.ExpressionAttributeNames["#r0"] != "c" || *u.ConditionExpression != "#0 = :0" {
			t.Fatalf("update %+v", u)
		}
	})
	t.Run("Update that changes nothing is an error", func(t *testing.T) {
		if _, err := Update(Key("A", "A"), nil, nil, expression.AttributeExists(expression.Name("PK"))); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("AddIf adds under its condition; Add requires the item", func(t *testing.T) {
		w, err := Add(Key("A", "A"), "children", -2)
		if err != nil {
			t.Fatal(err)
		}
		u := w.item.Update
		if got := strings.TrimSpace(*u.UpdateExpression); got != "ADD #1 :0" || u.ExpressionAttributeNames["#1"] != "children" {
			t.Fatalf("expression %q, names %v", got, u.ExpressionAttributeNames)
		}
		if u.ExpressionAttributeValues[":0"].(*types.AttributeValueMemberN).Value != "-2" || *u.ConditionExpression != "attribute_exists (#0)" ||
			u.ExpressionAttributeNames["#0"] != "PK" {
			t.Fatalf("update %+v %q", u.ExpressionAttributeValues, *u.ConditionExpression)
		}
	})
	t.Run("Edit marshals values, keeps sets, and merges a built condition", func(t *testing.T) {
		cond := expression.Name("status").Equal(expression.Value("active"))
		w := Edit(Key("A", "A"), Expr{
			Update: "ADD #ids :id SET #t = :t", If: &cond,
			Names:  map[string]string{"#ids": "ids", "#t": "type"},
			Values: map[string]any{":id": Set("u1"), ":t": 7},
		})
		if w.err != nil {
			t.Fatal(w.err)
		}
		u := w.item.Update
		want := Item{":id": &types.AttributeValueMemberSS{Value: []string{"u1"}}, ":t": &types.AttributeValueMemberN{Value: "7"}, ":0": s("active")}
		if !reflect.DeepEqual(u.ExpressionAttributeValues, want) {
			t.Fatalf("values %#v", u.ExpressionAttributeValues)
		}
		if u.ExpressionAttributeNames["#0"] != "status" || u.ExpressionAttributeNames["#ids"] != "ids" || *u.ConditionExpression != "#0 = :0" {
			t.Fatalf("update %+v", u)
		}
	})
	t.Run("Put and Delete carry their conditions", func(t *testing.T) {
		p, err := Put(struct {
			PK string `dynamodbav:"PK"`
		}{"A"}, VersionIs(4))
		if err != nil {
			t.Fatal(err)
		}
		if *p.item.Put.ConditionExpression != "#v = :v" || p.item.Put.ExpressionAttributeValues[":v"].(*types.AttributeValueMemberN).Value != "4" {
			t.Fatalf("put %+v", p.item.Put)
		}
		d := Delete(Key("A", "A"), AttrIs("ownerId", "u1"))
		if *d.item.Delete.ConditionExpression != "#a = :a" {
			t.Fatalf("delete %+v", d.item.Delete)
		}
		if d := Delete(Key("A", "A"), nil); d.item.Delete.ConditionExpression != nil {
			t.Fatalf("unconditional delete %+v", d.item.Delete)
		}
	})
}

func TestQueryPage(t *testing.T) {
	items := func(n int) []Item {
		out := make([]Item, n)
		for i := range out {
			out[i] = Item{"PK": s("P"), "SK": s(string(rune('a' + i))), "x": s("y")}
		}
		return out
	}
	for _, c := range []struct {
		name     string
		out      *dynamodb.QueryOutput
		n        int
		wantNext Item
	}{
		{"a page with one more item ends at the limit, its next key from the last item kept",
			&dynamodb.QueryOutput{Items: items(4)}, 3, Item{"PK": s("P"), "SK": s("c")}},
		{"a page ending exactly at the last item has no next key", &dynamodb.QueryOutput{Items: items(3)}, 3, nil},
		{"a short page keeps DynamoDB's own next key", &dynamodb.QueryOutput{Items: items(2), LastEvaluatedKey: Item{"PK": s("P"), "SK": s("b")}}, 2,
			Item{"PK": s("P"), "SK": s("b")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{page: c.out}
			p, err := (&Store{DB: f, Table: "tbl"}).QueryPage(context.Background(), dynamodb.QueryInput{}, 3, []string{"PK", "SK"})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != c.n || !reflect.DeepEqual(p.Next, c.wantNext) {
				t.Fatalf("%d items, next %v", len(p.Items), p.Next)
			}
			if *f.queries[0].Limit != 4 || *f.queries[0].TableName != "tbl" {
				t.Fatalf("query %+v", f.queries[0])
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"a conflicting transaction", cancelled("None", "TransactionConflict"), true},
		{"throttled", cancelled("ThrottlingError"), true},
		{"a failed condition", cancelled("ConditionalCheckFailed"), false},
		{"a conflict exception", &types.TransactionConflictException{}, true},
		{"anything else", errors.New("boom"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Retryable(c.err); got != c.want {
				t.Fatalf("Retryable = %v", got)
			}
		})
	}
}

func TestMeter(t *testing.T) {
	ctx, m := WithMeter(context.Background())
	metered(ctx, "GetItem", &types.ConsumedCapacity{CapacityUnits: aws.Float64(0.5)})
	metered(ctx, "PutItem", &types.ConsumedCapacity{CapacityUnits: aws.Float64(1)})
	metered(ctx, "Query", &types.ConsumedCapacity{ReadCapacityUnits: aws.Float64(2), WriteCapacityUnits: aws.Float64(0)})
	metered(ctx, "TransactWriteItems", nil)
	r, w := m.Units()
	if m.RoundTrips() != 4 || r != 2.5 || w != 1 {
		t.Fatalf("%d trips, %v read, %v write", m.RoundTrips(), r, w)
	}
	if MeterFrom(context.Background()).RoundTrips() != 0 {
		t.Fatal("a context without a meter has one")
	}
}
