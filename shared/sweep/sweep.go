// Package sweep removes what a deleted node leaves outside its own items: the console
// users at the node (a company's admins, an end user's sign-in account), their Cognito
// accounts, their emails' unique keys (so the same address can be invited elsewhere),
// pending activations and password resets, idempotency keys and attempt counters, the
// licenses the node held (shared/licenses; a plain DELETE of a childless node is not
// refused for its licenses: they go with it, each with its own license.deleted entry),
// a deleted organization's client services with their listing copies and alias
// claims (shared/clientservices; likewise, each with its client-service.deleted entry),
// the node's API clients with their Cognito users (shared/apiclients; each with its
// api_client.deleted entry; apiclients.go), a distributor's, partner's or
// organization's webhook endpoints (webhooks.go; each with its webhook-endpoint.deleted
// entry, their deliveries left to their TTL), the node's own ADMINS and SIGNUP#
// items and its allowance counters (shared/throttle), and a distributor's status
// replicas if its delete left any (shared/nodes, status.go).
//
// It is the node-sweeper function: the table's stream hands it the REMOVE record of
// every node item, whoever removed it (DELETE of a childless node, the tree deleter's
// removal of each node of a cascade, DELETE of an end-user record), so one path
// serves them all, and a node with many users never makes a request or a cascade's
// transaction bigger. Each step is idempotent (a replayed or retried record finds less
// to do and ends the same), and a record that fails is reported as the batch's item
// failure, so the stream gives it again.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/admins"
	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/clientservices"
	"opsconsole/shared/counts"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"opsconsole/shared/idempotency"
	"opsconsole/shared/identity"
	"opsconsole/shared/licenses"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// Cognito is what the sweep asks of Cognito.
type Cognito interface {
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, opts ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
}

// Sweeper is the node-sweeper function's handler.
type Sweeper struct {
	Store   *store.Store
	Cognito Cognito
	PoolID  string
}

// SystemActor is who the audit log names for a removal the service makes itself: the
// users of a deleted node go because their node went, which its own entry records
// with who deleted it.
var SystemActor = audit.Actor{UserID: "system", Role: "system"}

// usersPage bounds the users read by one Query of a node's users.
const usersPage = 100

// maxPasses bounds the pages one sweep of a node reads (100,000 users or licenses at
// 100 a page, or an index that keeps listing removed ones): past it the record fails
// and the stream gives it again, rather than one invocation spinning to its timeout.
const maxPasses = 1000

// Handle sweeps the node of each REMOVE record of a node item; other records (the
// template's filter passes none) are skipped.
func (s *Sweeper) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var res events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		id, ok := removedNode(rec)
		if !ok {
			continue
		}
		if err := s.Node(ctx, id); err != nil {
			api.Log(ctx).ErrorContext(ctx, "sweep: node not swept; the stream gives it again", "nodeId", id, "error", err.Error())
			// The records after it come again too (a stream resumes from the first
			// failure), so there is no point in sweeping them now.
			res.BatchItemFailures = append(res.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			return res, nil
		}
	}
	return res, nil
}

// removedNode is the id of the node item a REMOVE record is about.
func removedNode(rec events.DynamoDBEventRecord) (string, bool) {
	if rec.EventName != string(events.DynamoDBOperationTypeRemove) {
		return "", false
	}
	pk, sk := rec.Change.Keys["PK"], rec.Change.Keys["SK"]
	if pk.DataType() != events.DataTypeString || sk.DataType() != events.DataTypeString || sk.String() != nodes.SK {
		return "", false
	}
	id, ok := strings.CutPrefix(pk.String(), nodes.PK(""))
	return id, ok && id != ""
}

// Node removes what node id left behind. The node must be gone: a node that exists
// again (ids are never reused, so only a test could do this) is left alone.
func (s *Sweeper) Node(ctx context.Context, id string) error {
	if _, err := nodes.Get(ctx, s.Store, id); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for pass := 0; ; pass++ {
		if pass > 0 && pass%10 == 0 {
			// Ten pages that kept listing someone: the index is behind the deletions
			// (it lags the table a little). Wait a moment rather than read it hot.
			if err := store.Pause(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
		if pass == maxPasses {
			return fmt.Errorf("node %s: its users are still listed after %d pages; the stream gives the record again", id, maxPasses)
		}
		ids, err := s.usersAt(ctx, id)
		if err != nil {
			return err
		}
		for _, uid := range ids {
			if err := s.User(ctx, uid); err != nil {
				return fmt.Errorf("user %s: %w", uid, err)
			}
		}
		// The index lags the table a little: read again until it lists nobody, so a
		// page read before the last deletions showed is not taken for the end.
		if len(ids) == 0 {
			break
		}
	}
	for pass := 0; ; pass++ {
		if pass > 0 && pass%10 == 0 {
			if err := store.Pause(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
		if pass == maxPasses {
			return fmt.Errorf("node %s: its licenses are still listed after %d pages; the stream gives the record again", id, maxPasses)
		}
		held, err := s.licensesOf(ctx, id)
		if err != nil {
			return err
		}
		for _, l := range held {
			if err := s.License(ctx, l); err != nil {
				return fmt.Errorf("license %s: %w", l.ID, err)
			}
		}
		// As for users: read until the index lists none.
		if len(held) == 0 {
			break
		}
	}
	// Only organizations have client services: other kinds cost no Query.
	if kind, _ := nodes.KindOfID(id); kind == tree.KindOrganization {
		for {
			held, err := s.clientServicesOf(ctx, id)
			if err != nil {
				return err
			}
			for _, c := range held {
				if err := s.ClientService(ctx, c); err != nil {
					return fmt.Errorf("client service %s: %w", c.ID, err)
				}
			}
			// As for users: read until the index lists none.
			if len(held) == 0 {
				break
			}
		}
	}
	if err := s.apiClientsOfNode(ctx, id); err != nil {
		return err
	}
	if err := s.endpoints(ctx, id); err != nil {
		return err
	}
	leftover := []store.Item{admins.Key(id), nodes.SignupKey(id), nodes.SMTPKey(id)}
	if kind, _ := nodes.KindOfID(id); nodes.HasStatusReplicas(kind) {
		// A distributor's delete removes its status replicas in its own transaction; a
		// node removed by any other way (straight from the table) must not leave them
		// answering for it.
		leftover = append(leftover, nodes.StatusKeys(id)...)
	}
	for _, k := range leftover {
		if err := s.Store.DeleteIf(ctx, k, nil); err != nil {
			return err
		}
	}
	// The subtree totals (every shard) and their expiry trie: the tree counter checks
	// that the node exists in every transaction that writes them, so nothing writes
	// them again now.
	for _, prefix := range []string{counts.TotalsPrefix, counts.UntilPrefix} {
		if err := s.Store.DeletePrefix(ctx, nodes.PK(id), prefix); err != nil {
			return err
		}
	}
	// The node's allowance counters (invitations, cascades, signups) name it too.
	return throttle.ForgetNode(ctx, s.Store, id)
}

// usersAt is up to a page of the ids of the console users at node id.
func (s *Sweeper) usersAt(ctx context.Context, nodeID string) ([]string, error) {
	r, err := s.Store.QueryOnce(ctx, dynamodb.QueryInput{
		IndexName:                 aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: identity.UsersKey(nodeID)}},
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

// licensesOf is up to a page of the licenses node nodeID holds, as GSI1 projects them.
func (s *Sweeper) licensesOf(ctx context.Context, nodeID string) ([]licenses.Item, error) {
	r, err := s.Store.QueryOnce(ctx, dynamodb.QueryInput{
		IndexName:                 aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: licenses.HolderKey(nodeID)}},
		Limit:                     aws.Int32(usersPage),
	})
	if err != nil {
		return nil, err
	}
	out := make([]licenses.Item, 0, len(r.Items))
	for _, av := range r.Items {
		var it licenses.Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// License removes license l, whose holder is gone, with its change record
// (license.deleted, by SystemActor), in one transaction. Changed since it was read,
// it is read again; already gone, it is done.
func (s *Sweeper) License(ctx context.Context, l licenses.Item) error {
	rec, err := audit.RecordBy(SystemActor, api.Meta{}, licenses.Change("deleted", &l, nil))
	if err != nil {
		return err
	}
	changed := errors.New("the license changed")
	err = s.Store.Transact(ctx, store.Delete(licenses.Key(l.ID), store.VersionIs(l.Version)).FailsWith(changed), rec)
	if !errors.Is(err, changed) {
		return err
	}
	var now licenses.Item
	switch err := s.Store.Get(ctx, licenses.Key(l.ID), &now); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return s.License(ctx, now)
}

// clientServicesOf is up to a page of organization orgID's client services, as GSI1
// projects them (the listing copies are not in GSI1).
func (s *Sweeper) clientServicesOf(ctx context.Context, orgID string) ([]clientservices.Item, error) {
	r, err := s.Store.QueryOnce(ctx, dynamodb.QueryInput{
		IndexName:                 aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: clientservices.ScopeKey(orgID, "")}},
		Limit:                     aws.Int32(usersPage),
	})
	if err != nil {
		return nil, err
	}
	out := make([]clientservices.Item, 0, len(r.Items))
	for _, av := range r.Items {
		var it clientservices.Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// ClientService removes client service c, whose organization is gone, with its
// listing copy, its alias claim and its change record (client-service.deleted, by
// SystemActor), in one transaction. Changed since it was read, it is read again;
// already gone, it is done.
func (s *Sweeper) ClientService(ctx context.Context, c clientservices.Item) error {
	rec, err := audit.RecordBy(SystemActor, api.Meta{}, clientservices.Change("deleted", &c, nil))
	if err != nil {
		return err
	}
	changed := errors.New("the client service changed")
	err = s.Store.Transact(ctx, append(clientservices.Removal(c, changed), rec)...)
	if !errors.Is(err, changed) {
		return err
	}
	var now clientservices.Item
	switch err := s.Store.Get(ctx, clientservices.Key(c.ID), &now); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return s.ClientService(ctx, now)
}

// User removes console user id whose node is gone: the Cognito account first (so a
// retry after a failure further on still finds the user item, and with it the email
// to delete), then, in one transaction, the user item, their email's unique key, a
// pending activation and reset, and the change record (user.deleted, by SystemActor);
// then their idempotency keys and their email's attempt counters. A user already gone
// is done.
func (s *Sweeper) User(ctx context.Context, id string) error {
	var u identity.UserItem
	switch err := s.Store.Get(ctx, identity.UserKey(id), &u); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	_, err := s.Cognito.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &s.PoolID, Username: &u.Email})
	var nf *ciptypes.UserNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("cognito: %w", err)
	}
	rec, err := audit.RecordBy(SystemActor, api.Meta{}, audit.Change{
		Action: "user.deleted",
		Target: audit.Target{Type: "user", ID: u.ID, Name: u.Email},
		Scope:  tree.Node{ID: u.NodeID, Kind: u.NodeKind, Path: u.NodePath}.Lineage(),
		Before: map[string]any{
			"email": u.Email, "firstName": u.FirstName, "lastName": u.LastName,
			"role": string(u.Role), "nodeId": u.NodeID, "status": u.Status,
		},
		Version: u.Version,
	})
	if err != nil {
		return err
	}
	changed, notTheirs := errors.New("the user changed"), errors.New("the email is not the user's")
	writes := []store.Write{
		store.Delete(identity.UserKey(u.ID), store.VersionIs(u.Version)).FailsWith(changed),
		store.Delete(identity.ResetKey(u.ID), nil),
		rec,
	}
	if u.ActivationHash != "" {
		writes = append(writes, store.Delete(identity.ActivationKey(u.ActivationHash), nil))
	}
	email := store.Delete(identity.EmailKey(u.Email), store.AttrIs("ownerId", u.ID)).FailsWith(notTheirs)
	err = s.Store.Transact(ctx, append(writes, email)...)
	if errors.Is(err, notTheirs) {
		// Never seen (a user holds their email until they go), but were it so the
		// address is someone else's now, and stays theirs.
		err = s.Store.Transact(ctx, writes...)
	}
	switch {
	case errors.Is(err, changed):
		// Changed or removed since it was read: read it again.
		return s.User(ctx, id)
	case err != nil:
		return err
	}
	if err := idempotency.Forget(ctx, s.Store, u.ID); err != nil {
		return err
	}
	scopes, values := identity.EmailCounters(u.Email)
	for i := range scopes {
		if err := throttle.Forget(ctx, s.Store, scopes[i], values[i]); err != nil {
			return err
		}
	}
	return nil
}

// Function builds the node-sweeper's handler from a function's deps, with its own
// Cognito client: for the function table (shared/lambdas) and the function's main.
func Function(d deps.Deps) function.StreamHandler {
	return (&Sweeper{Store: d.Store, Cognito: cip.NewFromConfig(d.Config.AWS), PoolID: d.Config.UserPoolID}).Handle
}
