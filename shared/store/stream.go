package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// GetImage reads one item, strongly consistent, in the form a stream record carries
// it (a routed record whose images did not fit in an SQS message, shared/consumers);
// nil when no item has the key. The key is a stream record's Keys.
func (s *Store) GetImage(ctx context.Context, key map[string]events.DynamoDBAttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	k := make(Item, len(key))
	for n, v := range key {
		switch v.DataType() {
		case events.DataTypeString:
			k[n] = &types.AttributeValueMemberS{Value: v.String()}
		case events.DataTypeNumber:
			k[n] = &types.AttributeValueMemberN{Value: v.Number()}
		case events.DataTypeBinary:
			k[n] = &types.AttributeValueMemberB{Value: v.Binary()}
		default:
			return nil, fmt.Errorf("key attribute %s is not a string, number or binary", n)
		}
	}
	res, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Table, Key: k, ConsistentRead: aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	if err != nil {
		return nil, fmt.Errorf("get item: %w", err)
	}
	metered(ctx, "GetItem", res.ConsumedCapacity)
	if res.Item == nil {
		return nil, nil
	}
	return StreamImage(res.Item), nil
}

// StreamImage is an item in the stream records' representation.
func StreamImage(it Item) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(it))
	for k, v := range it {
		out[k] = streamValue(v)
	}
	return out
}

func streamValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamValue(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(StreamImage(x.Value))
	}
	return events.NewNullAttribute()
}
