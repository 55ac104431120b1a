package sweep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/apiclients"
	"opsconsole/shared/audit"
	"opsconsole/shared/idempotency"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// apiClientsOfNode removes every API client of node id (shared/apiclients), page by
// page, until the index lists none. End-user records never have one, so they cost no
// Query.
func (s *Sweeper) apiClientsOfNode(ctx context.Context, id string) error {
	if kind, _ := nodes.KindOfID(id); kind == tree.KindEndUser {
		return nil
	}
	for pass := 0; ; pass++ {
		if pass > 0 && pass%10 == 0 {
			// As for users: the index is behind the deletions; wait a moment.
			if err := store.Pause(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
		if pass == maxPasses {
			return fmt.Errorf("node %s: its API clients are still listed after %d pages; the stream gives the record again", id, maxPasses)
		}
		ids, err := s.apiClientsAt(ctx, id)
		if err != nil {
			return err
		}
		for _, cid := range ids {
			if err := s.APIClient(ctx, cid); err != nil {
				return fmt.Errorf("API client %s: %w", cid, err)
			}
		}
		// As for users: read until the index lists none.
		if len(ids) == 0 {
			return nil
		}
	}
}

// apiClientsAt is up to a page of the ids of node nodeID's API clients (GSI1 projects
// neither the Cognito username nor the lineage: APIClient reads the item).
func (s *Sweeper) apiClientsAt(ctx context.Context, nodeID string) ([]string, error) {
	r, err := s.Store.QueryOnce(ctx, dynamodb.QueryInput{
		IndexName:                 aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: identity.ClientsKey(nodeID)}},
		ProjectionExpression:      aws.String("id"),
		Limit:                     aws.Int32(usersPage),
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(r.Items))
	for _, it := range r.Items {
		if v, ok := it["id"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, v.Value)
		}
	}
	return ids, nil
}

// APIClient removes API client id, whose node is gone, as User removes a user: its
// Cognito user first (so a retry after a failure further on still finds the item, and
// with it the username; a user already gone is fine), then, in one transaction, its
// item and its change record (api_client.deleted, by SystemActor); then its
// idempotency keys (a client is a caller too) and its failed-token counters. Its tokens
// are refused from the node's removal on (its lineage is gone), whatever of this is
// done yet. Changed since it was read, it is read again; already gone, it is done.
func (s *Sweeper) APIClient(ctx context.Context, id string) error {
	var c identity.ClientItem
	switch err := s.Store.Get(ctx, identity.ClientKey(id), &c); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	if c.CognitoUser != "" {
		_, err := s.Cognito.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &s.PoolID, Username: &c.CognitoUser})
		var nf *ciptypes.UserNotFoundException
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("cognito: %w", err)
		}
	}
	rec, err := audit.RecordBy(SystemActor, api.Meta{}, apiclients.Change("deleted", &c, nil))
	if err != nil {
		return err
	}
	changed := errors.New("the API client changed")
	err = s.Store.Transact(ctx, store.Delete(identity.ClientKey(c.ID), store.VersionIs(c.Version)).FailsWith(changed), rec)
	switch {
	case errors.Is(err, changed):
		// Changed or removed since it was read: read it again.
		return s.APIClient(ctx, id)
	case err != nil:
		return err
	}
	if err := idempotency.Forget(ctx, s.Store, c.ID); err != nil {
		return err
	}
	return throttle.Forget(ctx, s.Store, apiclients.TokenClientScope, c.ID)
}
