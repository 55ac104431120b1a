package impersonation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Callers are identity.Callers that also resolve login-as sessions (api.ActingCallers):
// every protected function is built with them, so X-Impersonation-Id works on every route.
type Callers struct {
	identity.Callers
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ api.ActingCallers = Callers{}

// CallerActingAs implements api.ActingCallers. Two chains run in parallel, so the
// request's DynamoDB latency stays two round trips deep:
//   - the real user: GetItem USER#<sub>, then (below the platform) the BatchGetItem of
//     their lineage (identity.Callers.Caller);
//   - the session: GetItem IMPERSONATION#<id> (strongly consistent), then one
//     BatchGetItem (strongly consistent) of the target's nodes strictly below the
//     impersonator's node, and of the target user for a user session.
//
// Cost per impersonated request: +1 GetItem and +1 BatchGetItem (1 read unit each per
// item), no extra round trip in depth.
func (c Callers) CallerActingAs(ctx context.Context, sub, sessionID string) (real, acting tree.Caller, err error) {
	var (
		wg            sync.WaitGroup
		sess          Item
		sessErr       error
		below         []store.Item
		keys          []store.Item
		lineageBroken bool
	)
	wg.Go(func() {
		if sessErr = c.Store.Get(ctx, Key(sessionID), &sess); sessErr != nil {
			return
		}
		ids, ok := belowImpersonator(sess)
		if !ok {
			lineageBroken = true
			return
		}
		for _, id := range ids {
			keys = append(keys, nodes.Key(id))
		}
		if sess.TargetKind == TargetUser {
			keys = append(keys, identity.UserKey(sess.TargetID))
		}
		below, sessErr = c.Store.BatchGet(ctx, keys)
	})
	real, err = c.Callers.Caller(ctx, sub)
	wg.Wait()
	if err != nil {
		return tree.Caller{}, tree.Caller{}, err
	}
	if errors.Is(sessErr, store.ErrNotFound) {
		return real, tree.Caller{}, problem.ImpersonationEnded()
	}
	if sessErr != nil {
		return real, tree.Caller{}, sessErr
	}
	// Someone else's session, an ended or expired one, or one whose target is no
	// longer strictly inside the real user's subtree, all read alike.
	if lineageBroken || !Stands(sess, real, c.now()) {
		return real, tree.Caller{}, problem.ImpersonationEnded()
	}
	if len(below) != len(keys) {
		// A node of the target's lineage, or the target user, is gone.
		return real, tree.Caller{}, problem.ImpersonationEnded()
	}
	for _, it := range below {
		if strings.HasPrefix(store.PKOf(it), "USER#") {
			var u identity.UserItem
			if err := attributevalue.UnmarshalMap(it, &u); err != nil {
				return real, tree.Caller{}, err
			}
			if !StillStandsFor(sess, u) {
				return real, tree.Caller{}, problem.ImpersonationEnded()
			}
			continue
		}
		// The same rule as the real user's own lineage (nodes.Blocking): a node being
		// deleted, or in a status that blocks, ends what the session may do.
		_, blocked, err := nodes.Blocking(it)
		if err != nil {
			return real, tree.Caller{}, err
		}
		if blocked {
			return real, tree.Caller{}, api.ErrBranchSuspended
		}
	}
	acting = ActingCaller(real, sess)
	return real, acting, nil
}

func (c Callers) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
