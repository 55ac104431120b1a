// Package store is the single-table DynamoDB access every operation shares: key
// lookups, one-Query pages, and all-or-nothing transactions whose condition failures
// are told apart per item. Every call is metered (round trips and consumed capacity)
// into the request's Meter, because that is what the operation costs.
package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/meter"
	"opsconsole/shared/problem"
)

// Item is one stored item in the SDK's representation.
type Item = map[string]types.AttributeValue

// Client is the part of the DynamoDB client the store uses.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Store is the table.
type Store struct {
	DB    Client
	Table string
}

// New is the store of table, with the DynamoDB client every function uses: cfg's,
// with the SDK's standard retryer (3 attempts; throttling, 5xx and transaction
// conflicts of the SDK's list are retried) but DynamoDB's short backoff instead of
// the SDK's default of up to 2 s, then 4 s: a function has 10 s, and makes several
// calls; what the retries do not absorb is answered 503 with Retry-After
// (problem.Unavailable) rather than run into the function's timeout.
func New(cfg aws.Config, table string) *Store {
	return &Store{DB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(Backoff)
		})
	}), Table: table}
}

// Backoff is the wait before retry attempt (1, 2, ...): up to 100 ms before the first,
// doubled per attempt to at most 1 s, jittered over its upper half (so the standard
// retryer's 3 attempts wait at most 300 ms in all).
func Backoff(attempt int, _ error) (time.Duration, error) {
	d := min(50*time.Millisecond<<min(attempt, 5), time.Second)
	return d/2 + rand.N(d/2), nil
}

// Key builds a primary key.
func Key(pk, sk string) Item {
	return Item{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}

// PKOf is the partition key of an item or key, "" when it has none.
func PKOf(it Item) string {
	if v, ok := it["PK"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// ErrNotFound is returned by Get when no item has the key.
var ErrNotFound = errors.New("item not found")

// Get reads one item, strongly consistent, into out.
func (s *Store) Get(ctx context.Context, key Item, out any) error {
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Table, Key: key, ConsistentRead: aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	if err != nil {
		return fmt.Errorf("get item: %w", err)
	}
	metered(ctx, "GetItem", res.ConsumedCapacity)
	if res.Item == nil {
		return ErrNotFound
	}
	return attributevalue.UnmarshalMap(res.Item, out)
}

// MaxBatchGet is BatchGetItem's limit of keys per call.
const MaxBatchGet = 100

// BatchGet reads up to MaxBatchGet items, strongly consistent, in one round trip
// (more only when DynamoDB leaves keys unprocessed). Missing items are left out.
func (s *Store) BatchGet(ctx context.Context, keys []Item) ([]Item, error) {
	if len(keys) > MaxBatchGet {
		return nil, fmt.Errorf("batch get of %d keys", len(keys))
	}
	var out []Item
	pending := map[string]types.KeysAndAttributes{s.Table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; len(pending[s.Table].Keys) > 0; attempt++ {
		if attempt == 5 {
			return nil, errors.New("batch get: keys still unprocessed")
		}
		res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: pending, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		})
		if err != nil {
			return nil, fmt.Errorf("batch get: %w", err)
		}
		for i := range res.ConsumedCapacity {
			metered(ctx, "BatchGetItem", &res.ConsumedCapacity[i])
		}
		out = append(out, res.Responses[s.Table]...)
		pending = res.UnprocessedKeys
	}
	return out, nil
}

// ErrConditionFailed is returned by PutIf when its condition does not hold.
var ErrConditionFailed = errors.New("condition failed")

// PutIf writes v alone when cond holds (a plain PutItem: half the cost of a
// one-item transaction).
// v may be an Item already marshalled.
func (s *Store) PutIf(ctx context.Context, v any, cond *Condition) error {
	av, ok := v.(Item)
	if !ok {
		var err error
		if av, err = attributevalue.MarshalMap(v); err != nil {
			return fmt.Errorf("marshal item: %w", err)
		}
	}
	in := &dynamodb.PutItemInput{TableName: &s.Table, Item: av, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}
	if cond != nil {
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = cond.parts()
	}
	res, err := s.DB.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		metered(ctx, "PutItem", nil)
		return ErrConditionFailed
	case err != nil:
		return fmt.Errorf("put item: %w", err)
	}
	metered(ctx, "PutItem", res.ConsumedCapacity)
	return nil
}

// UpdateOne applies one update (built with Update, Add, AddIf or Edit) on its own (a
// plain UpdateItem: half the cost of a one-item transaction) and returns the item's
// attributes after it. A failed condition is ErrConditionFailed.
func (s *Store) UpdateOne(ctx context.Context, w Write) (Item, error) {
	u := w.item.Update
	if w.err != nil {
		return nil, w.err
	}
	if u == nil {
		return nil, errors.New("update one: the write is not an update")
	}
	res, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Table, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
		ExpressionAttributeValues: u.ExpressionAttributeValues,
		ReturnValues:              types.ReturnValueAllNew, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		metered(ctx, "UpdateItem", nil)
		return nil, ErrConditionFailed
	case err != nil:
		return nil, fmt.Errorf("update item: %w", err)
	}
	metered(ctx, "UpdateItem", res.ConsumedCapacity)
	return res.Attributes, nil
}

// DeleteIf deletes key when cond holds; a failed condition is not an error.
func (s *Store) DeleteIf(ctx context.Context, key Item, cond *Condition) error {
	in := &dynamodb.DeleteItemInput{TableName: &s.Table, Key: key, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}
	if cond != nil {
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = cond.parts()
	}
	res, err := s.DB.DeleteItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete item: %w", err)
	}
	metered(ctx, "DeleteItem", res.ConsumedCapacity)
	return nil
}

// Page is one page of a Query.
type Page struct {
	Items []Item
	// Next is the key to start the following page at, or nil on the last page.
	Next Item
}

// QueryPage runs one Query for up to limit items. It asks for one item more than the
// page holds, so that a page ending exactly at the last item has no next cursor; when
// that extra item came, Next is built from the page's last item with keyAttrs (the
// table's and the index's key attributes). Otherwise Next is DynamoDB's own last
// evaluated key, which a filter or the 1 MB page cap can leave with more to read.
func (s *Store) QueryPage(ctx context.Context, in dynamodb.QueryInput, limit int, keyAttrs []string) (Page, error) {
	in.TableName = &s.Table
	in.Limit = aws.Int32(int32(limit + 1))
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	res, err := s.DB.Query(ctx, &in)
	if err != nil {
		return Page{}, fmt.Errorf("query: %w", err)
	}
	metered(ctx, "Query", res.ConsumedCapacity)
	p := Page{Items: res.Items, Next: res.LastEvaluatedKey}
	if len(p.Items) > limit {
		p.Items = p.Items[:limit]
		last := p.Items[limit-1]
		p.Next = Item{}
		for _, a := range keyAttrs {
			p.Next[a] = last[a]
		}
	}
	return p, nil
}

// Write is one write of a transaction (a put, an update, a delete or a condition
// check, built by the functions below) together with the error its condition failing
// means. Its fields are the store's own: no package outside it builds SDK writes.
type Write struct {
	item types.TransactWriteItem
	fail error
	// err is why the write could not be built (a value Edit could not marshal): the
	// transaction it is in fails with it before any call.
	err error
}

// FailsWith returns w reporting err when its condition fails (a Write without it
// fails the transaction with the SDK's cancellation error).
func (w Write) FailsWith(err error) Write {
	w.fail = err
	return w
}

// Transact writes all items or none. A failed condition is reported as the matching
// Write's OnConditionFail error (the first one, in order), so callers can answer
// "stale" for a version check and "conflict" for a uniqueness check.
//
// A transaction cancelled only because another one was writing the same items at the
// same moment (TransactionConflict, common when many creates add to one parent's
// children counter) is retried a few times with jittered backoff: the client never
// sees that contention.
func (s *Store) Transact(ctx context.Context, writes ...Write) error {
	items := make([]types.TransactWriteItem, len(writes))
	for i, w := range writes {
		if w.err != nil {
			return w.err
		}
		items[i] = w.item
		setTable(&items[i], s.Table)
	}
	for attempt := 0; ; attempt++ {
		res, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: items, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		})
		if err == nil {
			for i := range res.ConsumedCapacity {
				metered(ctx, "TransactWriteItems", &res.ConsumedCapacity[i])
			}
			return nil
		}
		metered(ctx, "TransactWriteItems", nil)
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return fmt.Errorf("transact write: %w", err)
		}
		conflict := false
		for i, reason := range tce.CancellationReasons {
			switch aws.ToString(reason.Code) {
			case "ConditionalCheckFailed":
				if i < len(writes) && writes[i].fail != nil {
					return writes[i].fail
				}
			case "TransactionConflict":
				conflict = true
			}
		}
		if !conflict || attempt == maxConflictRetries {
			if Retryable(err) {
				// Throttled, or contention that outlasted the retries: the caller
				// answers 503 (problem.Transient), and the same request may be sent again.
				return fmt.Errorf("transact write: %w", errors.Join(err, problem.ErrUnavailable))
			}
			return fmt.Errorf("transact write: %w", err)
		}
		if err := Pause(ctx, time.Duration(10+rand.IntN(40*(attempt+1)))*time.Millisecond); err != nil {
			return err
		}
	}
}

// Retryable reports a transaction cancelled by another transaction on one of its
// items, or by throttling: trying again shortly succeeds. The SDK does not retry
// these itself.
func Retryable(err error) bool {
	var conflict *types.TransactionConflictException
	if errors.As(err, &conflict) {
		return true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				return true
			}
		}
	}
	return false
}

// Pause waits d, or less if ctx ends first (then it returns ctx's error): the wait
// between retries of every writer that backs off.
func Pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxConflictRetries bounds the retries of a transaction that lost a conflict.
const maxConflictRetries = 8

func setTable(it *types.TransactWriteItem, table string) {
	switch {
	case it.Put != nil:
		it.Put.TableName = &table
	case it.Update != nil:
		it.Update.TableName = &table
	case it.Delete != nil:
		it.Delete.TableName = &table
	case it.ConditionCheck != nil:
		it.ConditionCheck.TableName = &table
	}
}

// Put is the write of v (marshalled to an item), with an optional condition.
func Put(v any, cond *Condition) (Write, error) {
	av, err := attributevalue.MarshalMap(v)
	if err != nil {
		return Write{}, fmt.Errorf("marshal item: %w", err)
	}
	p := &types.Put{Item: av}
	if cond != nil {
		p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues = cond.parts()
	}
	return Write{item: types.TransactWriteItem{Put: p}}, nil
}

// Update is the write that sets the attributes of set and removes those named in
// remove on the item with key, when cond holds. Updating in place, rather than
// putting the whole item, leaves alone the attributes other writers keep (a node's
// children counter).
func Update(key Item, set Item, remove []string, cond expression.ConditionBuilder) (Write, error) {
	// The builder marshals Go values, not AttributeValues, so the SET and REMOVE
	// clauses are written here, with placeholders (#a0, :a0) that cannot clash with
	// the builder's (#0, :0).
	c, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return Write{}, fmt.Errorf("update condition: %w", err)
	}
	names, values := c.Names(), c.Values()
	if values == nil {
		values = Item{}
	}
	var sets, removes []string
	for i, name := range slices.Sorted(maps.Keys(set)) {
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		names[n], values[v] = name, set[name]
		sets = append(sets, n+" = "+v)
	}
	for i, name := range remove {
		n := fmt.Sprintf("#r%d", i)
		names[n] = name
		removes = append(removes, n)
	}
	var expr []string
	if len(sets) > 0 {
		expr = append(expr, "SET "+strings.Join(sets, ", "))
	}
	if len(removes) > 0 {
		expr = append(expr, "REMOVE "+strings.Join(removes, ", "))
	}
	if len(expr) == 0 {
		return Write{}, errors.New("update changes nothing")
	}
	if len(values) == 0 {
		values = nil
	}
	return Write{item: types.TransactWriteItem{Update: &types.Update{
		Key: key, UpdateExpression: aws.String(strings.Join(expr, " ")), ConditionExpression: c.Condition(),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}}, nil
}

// Add is the write that adds n to the number attribute name of an item that must
// exist.
func Add(key Item, name string, n int) (Write, error) {
	return AddIf(key, name, n, expression.AttributeExists(expression.Name("PK")))
}

// AddIf is the write that adds n to the number attribute name of the item with key
// when cond holds (ADD creates a missing attribute at zero).
func AddIf(key Item, name string, n int, cond expression.ConditionBuilder) (Write, error) {
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name(name), expression.Value(n))).
		WithCondition(cond).Build()
	if err != nil {
		return Write{}, fmt.Errorf("add expression: %w", err)
	}
	return Write{item: types.TransactWriteItem{Update: &types.Update{
		Key: key, UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}}, nil
}

// Delete is the write that deletes key, with an optional condition.
func Delete(key Item, cond *Condition) Write {
	d := &types.Delete{Key: key}
	if cond != nil {
		d.ConditionExpression, d.ExpressionAttributeNames, d.ExpressionAttributeValues = cond.parts()
	}
	return Write{item: types.TransactWriteItem{Delete: d}}
}

// Check is the write that writes nothing but fails the transaction unless cond holds
// on the item with key.
func Check(key Item, cond *Condition) Write {
	c := &types.ConditionCheck{Key: key}
	c.ConditionExpression, c.ExpressionAttributeNames, c.ExpressionAttributeValues = cond.parts()
	return Write{item: types.TransactWriteItem{ConditionCheck: c}}
}

// Expr is an update written by hand, for what the builders above do not say: ADD to
// a set or to several counters at once, SET and ADD in one expression. Names and
// Values hold the placeholders of both Update and Condition; a value is marshalled
// from its Go form (see Set for a string set).
type Expr struct {
	Update string
	// Condition is optional.
	Condition string
	// If, optional too, is a condition built with the SDK's expression builder, in
	// place of Condition (its placeholders, #0 and :0 on, must not be used by hand).
	If     *expression.ConditionBuilder
	Names  map[string]string
	Values map[string]any
}

// Edit is the write of a hand-written update to the item with key. A value that
// cannot be marshalled fails the transaction (or UpdateOne) the write is given to.
func Edit(key Item, e Expr) Write {
	u := &types.Update{Key: key, UpdateExpression: aws.String(e.Update), ExpressionAttributeNames: maps.Clone(e.Names)}
	values := Item{}
	if e.Condition != "" {
		u.ConditionExpression = aws.String(e.Condition)
	}
	if e.If != nil {
		c, err := Cond(*e.If)
		if err != nil {
			return Write{err: err}
		}
		u.ConditionExpression = &c.Expr
		if u.ExpressionAttributeNames == nil {
			u.ExpressionAttributeNames = map[string]string{}
		}
		maps.Copy(u.ExpressionAttributeNames, c.Names)
		maps.Copy(values, c.Values)
	}
	for k, v := range e.Values {
		av, err := marshalValue(v)
		if err != nil {
			return Write{err: fmt.Errorf("update value %s: %w", k, err)}
		}
		values[k] = av
	}
	if len(values) > 0 {
		u.ExpressionAttributeValues = values
	}
	return Write{item: types.TransactWriteItem{Update: u}}
}

// Set is a string set value for an Expr (a []string alone marshals to a list).
func Set(values ...string) any { return &types.AttributeValueMemberSS{Value: values} }

func marshalValue(v any) (types.AttributeValue, error) {
	if av, ok := v.(types.AttributeValue); ok {
		return av, nil
	}
	av, err := attributevalue.Marshal(v)
	if err == nil && av == nil {
		// The SDK marshals what it cannot store (a func, a channel) to nothing.
		err = fmt.Errorf("a %T cannot be stored", v)
	}
	return av, err
}

// Cond turns a condition built with the SDK's expression builder into a Condition.
func Cond(b expression.ConditionBuilder) (*Condition, error) {
	c, err := expression.NewBuilder().WithCondition(b).Build()
	if err != nil {
		return nil, fmt.Errorf("condition: %w", err)
	}
	return &Condition{Expr: aws.ToString(c.Condition()), Names: c.Names(), Values: c.Values()}, nil
}

// Condition is a built condition expression.
type Condition struct {
	Expr   string
	Names  map[string]string
	Values Item
}

func (c *Condition) parts() (*string, map[string]string, Item) {
	if len(c.Values) == 0 {
		return &c.Expr, c.Names, nil
	}
	return &c.Expr, c.Names, c.Values
}

// NotExists holds when no item has the key being written.
func NotExists() *Condition {
	return &Condition{Expr: "attribute_not_exists(#pk)", Names: map[string]string{"#pk": "PK"}}
}

// Exists holds when an item has the key being written.
func Exists() *Condition {
	return &Condition{Expr: "attribute_exists(#pk)", Names: map[string]string{"#pk": "PK"}}
}

// VersionIs holds when the stored item's version is v.
func VersionIs(v int) *Condition {
	return &Condition{
		Expr:   "#v = :v",
		Names:  map[string]string{"#v": "version"},
		Values: Item{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(v)}},
	}
}

// AttrIs holds when the stored item's attribute name equals the string value.
func AttrIs(name, value string) *Condition {
	return &Condition{
		Expr:   "#a = :a",
		Names:  map[string]string{"#a": name},
		Values: Item{":a": &types.AttributeValueMemberS{Value: value}},
	}
}

// Meter counts one request's DynamoDB round trips and consumed capacity units (see
// package meter, which the API's middleware reads without linking DynamoDB).
type Meter = meter.Meter

// WithMeter attaches a fresh Meter to ctx.
func WithMeter(ctx context.Context) (context.Context, *Meter) { return meter.With(ctx) }

// MeterFrom returns ctx's Meter, or a throwaway one.
func MeterFrom(ctx context.Context) *Meter { return meter.From(ctx) }

// metered adds one call of op to ctx's Meter, with the capacity DynamoDB reported.
func metered(ctx context.Context, op string, cc *types.ConsumedCapacity) {
	var read, write float64
	switch {
	case cc == nil:
	case cc.ReadCapacityUnits != nil || cc.WriteCapacityUnits != nil:
		read, write = aws.ToFloat64(cc.ReadCapacityUnits), aws.ToFloat64(cc.WriteCapacityUnits)
	case strings.HasPrefix(op, "Get") || op == "Query" || op == "BatchGetItem":
		// On-demand tables report only the total; a write operation's total is writes.
		read = aws.ToFloat64(cc.CapacityUnits)
	default:
		write = aws.ToFloat64(cc.CapacityUnits)
	}
	meter.From(ctx).Add(op, read, write)
}
