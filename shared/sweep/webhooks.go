package sweep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/webhooks"
)

// endpoints removes the webhook endpoints of node id (a distributor, partner or
// organization; other kinds have none and cost no Query), each with its
// webhook-endpoint.deleted entry by SystemActor. An endpoint is one item: its
// listings are GSI1 and GSI2 entries of that item (no copies), and its sealed
// secrets are an attribute of it, so they go with it. Its deliveries
// (WEBHOOK#<id> / DELIVERY#…) are left to expire by their TTL, 30 days after their
// event, as when an admin deletes an endpoint: nothing reads them once the endpoint
// is gone (the deliverer drops a job whose endpoint is missing, the log's route
// answers 404), TTL deletes cost nothing, and the dispatcher may still be writing
// deliveries of the node's last changes (its own queue, read beside this one), which
// a sweep could not wait for anyway.
func (s *Sweeper) endpoints(ctx context.Context, id string) error {
	if kind, _ := nodes.KindOfID(id); !webhooks.Holder(kind) {
		return nil
	}
	for pass := 0; ; pass++ {
		if pass > 0 && pass%10 == 0 {
			if err := store.Pause(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
		if pass == maxPasses {
			return fmt.Errorf("node %s: its webhook endpoints are still listed after %d pages; the stream gives the record again", id, maxPasses)
		}
		held, err := s.endpointsOf(ctx, id)
		if err != nil {
			return err
		}
		for _, e := range held {
			if err := s.Endpoint(ctx, e); err != nil {
				return fmt.Errorf("webhook endpoint %s: %w", e.ID, err)
			}
		}
		// As for users: read until the index lists none.
		if len(held) == 0 {
			return nil
		}
	}
}

// endpointsOf is up to a page of node nodeID's webhook endpoints, of any status, as
// GSI1 projects them (every audited field: the sealed secrets are not projected and
// not needed).
func (s *Sweeper) endpointsOf(ctx context.Context, nodeID string) ([]webhooks.Item, error) {
	r, err := s.Store.QueryOnce(ctx, dynamodb.QueryInput{
		IndexName:                 aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: webhooks.ScopeKey(nodeID, "")}},
		Limit:                     aws.Int32(usersPage),
	})
	if err != nil {
		return nil, err
	}
	out := make([]webhooks.Item, 0, len(r.Items))
	for _, av := range r.Items {
		var it webhooks.Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// Endpoint removes webhook endpoint e, whose node is gone, with its change record
// (webhook-endpoint.deleted, by SystemActor), in one transaction. Changed since it
// was read (verified or disabled by the deliverer meanwhile, say), it is read
// again; already gone, it is done.
func (s *Sweeper) Endpoint(ctx context.Context, e webhooks.Item) error {
	rec, err := audit.RecordBy(SystemActor, api.Meta{}, webhooks.Change("deleted", &e, nil, nil))
	if err != nil {
		return err
	}
	changed := errors.New("the webhook endpoint changed")
	err = s.Store.Transact(ctx, store.Delete(webhooks.Key(e.ID), store.VersionIs(e.Version)).FailsWith(changed), rec)
	if !errors.Is(err, changed) {
		return err
	}
	var now webhooks.Item
	switch err := s.Store.Get(ctx, webhooks.Key(e.ID), &now); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return s.Endpoint(ctx, now)
}
