// Package throttle limits attempts per key (an account, an IP address) in fixed time
// windows, counted in the table: one item per key and window, whose counter is
// incremented before each attempt (so that a burst of parallel attempts is counted
// exactly, never checked all at once against a stale count) and given back when the
// attempt succeeds. Items carry expiresAt for TTL clean-up, but no correctness rests on
// TTL (DynamoDB Local never expires items): a window's key names its start, so an
// expired window is never read or counted again, whether or not TTL has removed it.
//
// The same counters hold the allowances per node of the expensive operations
// (nodelimit.go): the figures, and the api.Counter that counts them.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/store"
)

// Key is one thing whose attempts are counted.
type Key struct {
	// Scope names what is counted, such as "signin-email"; Value is the one counted,
	// such as the email address.
	Scope, Value string
	// Max is the number of attempts allowed per window; the next one is refused.
	Max int
}

func (k Key) pk() string { return PK(k.Scope, k.Value) }

// PK is the partition of the windows counted for scope and value.
func PK(scope, value string) string { return "THROTTLE#" + scope + "#" + value }

// Limiter counts attempts in the table.
type Limiter struct {
	Store  *store.Store
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Attempt is one counted attempt, to be settled with Succeeded (or left as a failure).
type Attempt struct {
	l      *Limiter
	keys   []Key
	window int64
	// Allowed is false when a key was over its limit: the attempt must not be made.
	Allowed bool
	// RetryAfter is how long until the window ends, when the attempt is refused.
	RetryAfter time.Duration
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// windowOf is the start of the window holding t, in Unix seconds.
func (l *Limiter) windowOf(t time.Time) int64 {
	w := int64(l.Window / time.Second)
	return t.Unix() / w * w
}

// Begin counts one attempt against every key (one UpdateItem each, in parallel) and
// tells whether it may be made: it may not when any key has already had Max attempts
// in this window that were not given back. A refused attempt stays counted, so that
// hammering does not help.
func (l *Limiter) Begin(ctx context.Context, keys ...Key) (*Attempt, error) {
	now := l.now()
	a := &Attempt{l: l, keys: keys, window: l.windowOf(now), Allowed: true}
	end := time.Unix(a.window, 0).Add(l.Window)
	counts := make([]int, len(keys))
	err := l.each(ctx, keys, func(ctx context.Context, i int, k Key) error {
		n, err := l.add(ctx, k, a.window, end, 1)
		counts[i] = n
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if counts[i] > k.Max {
			a.Allowed = false
			a.RetryAfter = end.Sub(now)
		}
	}
	return a, nil
}

// Settle gives back what a successful step earned: the keys of the scopes in clear
// lose their whole count for the window (an account that signed in starts afresh),
// those in giveBack just this attempt (so that an address's successful sign-ins never
// count against it); the others keep it counted, as a failure. One call per key
// settled, in parallel.
func (a *Attempt) Settle(ctx context.Context, clear, giveBack []string) error {
	end := time.Unix(a.window, 0).Add(a.l.Window)
	var keys []Key
	for _, k := range a.keys {
		if slices.Contains(clear, k.Scope) || slices.Contains(giveBack, k.Scope) {
			keys = append(keys, k)
		}
	}
	return a.l.each(ctx, keys, func(ctx context.Context, _ int, k Key) error {
		if slices.Contains(clear, k.Scope) {
			return a.l.Store.DeleteIf(ctx, a.l.key(k, a.window), nil)
		}
		_, err := a.l.add(ctx, k, a.window, end, -1)
		return err
	})
}

func (l *Limiter) key(k Key, window int64) store.Item {
	return store.Key(k.pk(), "WINDOW#"+strconv.FormatInt(window, 10))
}

// add adds n to the key's counter of the window and returns the new count.
func (l *Limiter) add(ctx context.Context, k Key, window int64, end time.Time, n int) (int, error) {
	item, err := l.Store.UpdateOne(ctx, store.Edit(l.key(k, window), store.Expr{
		Update: "ADD #n :n SET #t = :t, #e = :e",
		Names:  map[string]string{"#n": "attempts", "#t": "type", "#e": "expiresAt"},
		Values: map[string]any{":n": n, ":t": "throttle", ":e": end.Unix()},
	}))
	if err != nil {
		return 0, fmt.Errorf("throttle %s: %w", k.Scope, err)
	}
	v, ok := item["attempts"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("throttle: the counter is not a number")
	}
	c, err := strconv.Atoi(v.Value)
	if err != nil {
		return 0, fmt.Errorf("throttle: counter %q: %w", v.Value, err)
	}
	return c, nil
}

// each runs f for every key at once and joins their errors.
func (l *Limiter) each(ctx context.Context, keys []Key, f func(ctx context.Context, i int, k Key) error) error {
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(ctx, i, k)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Forget removes every window counted for scope and value (one Query of the key's
// partition, a delete per window): what an account's removal does with the counters
// of its email (shared/sweep), so nothing of a deleted account stays in the table.
func Forget(ctx context.Context, st *store.Store, scope, value string) error {
	_, err := st.DeletePartition(ctx, Key{Scope: scope, Value: value}.pk())
	return err
}
