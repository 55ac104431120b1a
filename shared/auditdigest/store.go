package auditdigest

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/store"
)

// digestItem is a digest as stored: DIGEST#<node> / <periodStart>. No TTL: a digest
// outlives the entries it covers (AuditRetentionDays), so that the chain stays whole.
type digestItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	Type   string `dynamodbav:"type"`
	Digest `dynamodbav:",inline"`
}

func digestKey(node string) string { return "DIGEST#" + node }

// Stored is d as the item that stores it (put it with store.NotExists: a digest is
// written once).
func Stored(d Digest) any {
	return digestItem{PK: digestKey(d.NodeID), SK: d.PeriodStart, Type: "audit-digest", Digest: d}
}

// Get reads node's digest of the period starting at start (store.ErrNotFound when
// there is none).
func Get(ctx context.Context, st *store.Store, node, start string) (Digest, error) {
	var it digestItem
	err := st.Get(ctx, store.Key(digestKey(node), start), &it)
	return it.Digest, err
}

// Previous is node's newest digest before period start, nil for none (one Query of
// one item, strongly consistent).
func Previous(ctx context.Context, st *store.Store, node, start string) (*Digest, error) {
	key := expression.Key("PK").Equal(expression.Value(digestKey(node))).And(expression.Key("SK").LessThan(expression.Value(start)))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, err
	}
	r, err := st.QueryOnce(ctx, dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), ScanIndexForward: aws.Bool(false), Limit: aws.Int32(1), ConsistentRead: aws.Bool(true),
	})
	if err != nil || len(r.Items) == 0 {
		return nil, err
	}
	var it digestItem
	if err := attributevalue.UnmarshalMap(r.Items[0], &it); err != nil {
		return nil, err
	}
	return &it.Digest, nil
}
