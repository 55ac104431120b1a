package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fake is a fake Client: it records every request the store sends and answers from
// what the test gave it (an item, pages of a batch read, a query page) or with the
// errors it is given, one per call, then success. It does not evaluate expressions
// or keep a table: it exists for unit tests of the store's own logic (the requests
// it builds, how it maps condition failures and SDK errors, its paging, retries and
// metering), including what a real table cannot be made to produce on demand (a
// cancellation by a conflicting transaction, keys left unprocessed). The real path,
// expressions evaluated by DynamoDB, is covered against DynamoDB Local by the local
// tests (shared/cascade, shared/counts, infra/streams) and the e2e suite.
type fake struct {
	Client
	errs []error

	gets      []*dynamodb.GetItemInput
	item      Item
	batchGets []*dynamodb.BatchGetItemInput
	// batches answer the batch reads in turn; past the last, a read answers nothing.
	batches  []*dynamodb.BatchGetItemOutput
	puts     []*dynamodb.PutItemInput
	deletes  []*dynamodb.DeleteItemInput
	transact []*dynamodb.TransactWriteItemsInput
	updates  []*dynamodb.UpdateItemInput
	queries  []*dynamodb.QueryInput
	page     *dynamodb.QueryOutput
}

// capacity is what the fake reports each call consumed.
var capacity = &types.ConsumedCapacity{CapacityUnits: aws.Float64(1)}

func (f *fake) next() error {
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func (f *fake) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets = append(f.gets, in)
	if err := f.next(); err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: f.item, ConsumedCapacity: capacity}, nil
}

func (f *fake) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.batchGets = append(f.batchGets, in)
	if err := f.next(); err != nil {
		return nil, err
	}
	if len(f.batches) == 0 {
		return &dynamodb.BatchGetItemOutput{}, nil
	}
	out := f.batches[0]
	f.batches = f.batches[1:]
	return out, nil
}

func (f *fake) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.puts = append(f.puts, in)
	if err := f.next(); err != nil {
		return nil, err
	}
	return &dynamodb.PutItemOutput{ConsumedCapacity: capacity}, nil
}

func (f *fake) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.deletes = append(f.deletes, in)
	if err := f.next(); err != nil {
		return nil, err
	}
	return &dynamodb.DeleteItemOutput{ConsumedCapacity: capacity}, nil
}

func (f *fake) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.transact = append(f.transact, in)
	if err := f.next(); err != nil {
		return nil, err
	}
	return &dynamodb.TransactWriteItemsOutput{ConsumedCapacity: []types.ConsumedCapacity{{CapacityUnits: aws.Float64(2)}}}, nil
}

func (f *fake) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, in)
	if err := f.next(); err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemOutput{Attributes: Item{"n": &types.AttributeValueMemberN{Value: "1"}}}, nil
}

func (f *fake) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.queries = append(f.queries, in)
	if err := f.next(); err != nil {
		return nil, err
	}
	return f.page, nil
}
