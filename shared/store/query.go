package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Read is what one Query returned: the items that passed its filter, how many items
// it evaluated (ScannedCount: what it was charged for) and where the next read starts
// (nil when the key range is exhausted).
type Read struct {
	Items   []Item
	Scanned int
	Next    Item
}

// QueryOnce runs in as one metered Query, with in.Limit bounding the items it
// evaluates (before any filter), not the items it returns. It is the step of readers
// that filter on non-key attributes and keep reading within a budget of their own.
func (s *Store) QueryOnce(ctx context.Context, in dynamodb.QueryInput) (Read, error) {
	in.TableName = &s.Table
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	res, err := s.DB.Query(ctx, &in)
	if err != nil {
		return Read{}, fmt.Errorf("query: %w", err)
	}
	metered(ctx, "Query", res.ConsumedCapacity)
	return Read{Items: res.Items, Scanned: int(res.ScannedCount), Next: res.LastEvaluatedKey}, nil
}

// DeletePartition deletes every item of partition pk, a page of keys at a time (one
// Query and a DeleteItem per item): for partitions that belong to one owner and go
// with it, such as a deleted account's idempotency keys or attempt counters. It
// answers how many items it deleted.
func (s *Store) DeletePartition(ctx context.Context, pk string) (int, error) {
	return s.deleteRange(ctx, pk, "")
}

// DeletePrefix deletes the items of partition pk whose sort key begins with prefix,
// as DeletePartition does: for the many items a node keeps beside it that go with it
// (its totals' expiry trie).
func (s *Store) DeletePrefix(ctx context.Context, pk, prefix string) error {
	_, err := s.deleteRange(ctx, pk, prefix)
	return err
}

func (s *Store) deleteRange(ctx context.Context, pk, prefix string) (int, error) {
	n := 0
	var start Item
	cond, values := "PK = :pk", Item{":pk": &types.AttributeValueMemberS{Value: pk}}
	if prefix != "" {
		cond += " AND begins_with(SK, :sk)"
		values[":sk"] = &types.AttributeValueMemberS{Value: prefix}
	}
	for {
		r, err := s.QueryOnce(ctx, dynamodb.QueryInput{
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeValues: values,
			ProjectionExpression:      aws.String("PK, SK"),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return n, err
		}
		for _, it := range r.Items {
			if err := s.DeleteIf(ctx, Item{"PK": it["PK"], "SK": it["SK"]}, nil); err != nil {
				return n, err
			}
			n++
		}
		if r.Next == nil {
			return n, nil
		}
		start = r.Next
	}
}
