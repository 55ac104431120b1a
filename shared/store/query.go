package store

import (
	"context"
	"fmt"

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
