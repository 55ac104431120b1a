package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// Allowance is how many calls of an expensive operation one node may make per window.
// The allowances in force are named in one place, shared/throttle (nodelimit.go).
type Allowance struct {
	// Name names the counter (and the limit in the docs), such as "invitations";
	// operations that share a Name share one allowance per node.
	Name string
	// Max is the number of calls allowed per window; the next one is a 429.
	Max int
	// Window is the length of the fixed windows the calls are counted in.
	Window time.Duration
}

// Counter counts calls against a node's allowance. Package api links no DynamoDB
// client (the docs functions use it), so the counting itself is shared/throttle's
// (throttle.NodeCounter, counted in the table).
type Counter interface {
	// Count counts one call of a against node and returns how long until the node may
	// call again when this one is over the allowance, 0 when it is allowed.
	Count(ctx context.Context, a Allowance, node string) (wait time.Duration, err error)
}

// NodeLimit bounds an expensive operation per node of the tree, so that one tenant
// cannot spend the capacity every tenant shares (Cognito's and SES's quotas, the tree
// deleter's work). An Operation with a NodeLimit counts each call that passed the
// guard (authenticated, authorized, target found) before its handler runs, whatever
// the handler answers then: a call refused by the guard is never counted, so that no
// one can spend a node's allowance but the node's own users; and counting before the
// work is what makes a parallel burst count exactly. Over the allowance the answer is
// 429 throttled with Retry-After. Build one with throttle.PerNode or throttle.PerTarget.
type NodeLimit struct {
	Allowance
	// Node names the node the call is counted against, read after the guard
	// (CallerOf, TargetOf and TargetNodeOf answer); "" counts nothing: the cheap
	// variant of a route (a delete without cascade=true). Nil for a public operation,
	// which has no guard: its handler charges the node it finds with ChargeNode.
	Node func(r *http.Request) string
	// Counter counts the calls.
	Counter Counter
}

// Charge counts the call r against the node that l.Node names, if any, and returns a
// throttled problem (having set Retry-After on w) when it is over the allowance.
func (l *NodeLimit) Charge(w http.ResponseWriter, r *http.Request) error {
	if l == nil || l.Node == nil {
		return nil
	}
	return l.ChargeNode(w, r, l.Node(r))
}

// ChargeNode counts the call r against node ("" counts nothing). The guard calls it
// through Charge; a public operation, which has no guard, calls it from its handler
// once it knows the node (signup, per partner, counts only a partner open to signups).
func (l *NodeLimit) ChargeNode(w http.ResponseWriter, r *http.Request, node string) error {
	if l == nil || node == "" {
		return nil
	}
	if l.Counter == nil {
		// A limit that counts nothing would be no limit: refuse rather than serve
		// unbounded.
		return problem.Internal()
	}
	wait, err := l.Counter.Count(r.Context(), l.Allowance, node)
	if err != nil {
		return err
	}
	if wait <= 0 {
		return nil
	}
	SetRetryAfter(w, wait)
	return problem.Throttled("this node has made the " + strconv.Itoa(l.Max) + " " + l.Name +
		" its allowance takes per " + window(l.Window) + "; retry after the time in Retry-After")
}

// SetRetryAfter sets the Retry-After header to wait in whole seconds, rounded up and
// at least 1, so that a client retrying at that moment is in the next window.
func SetRetryAfter(w http.ResponseWriter, wait time.Duration) {
	s := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(s, 1), 10))
}

// window writes d for a message: "hour", "15m0s".
func window(d time.Duration) string {
	switch d {
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return d.String()
}

// TargetNodeOf returns the node the operation's Target loaded (the guard's node), and
// false for an operation without a Target.
func TargetNodeOf(ctx context.Context) (tree.Node, bool) {
	n, ok := ctx.Value(targetNodeKey).(tree.Node)
	return n, ok
}

// TargetNodeID is a NodeLimit's Node that counts against the target's own node: what
// an operation on one node's resources (an export, an owner's SMTP test) takes.
func TargetNodeID(r *http.Request) string {
	n, _ := TargetNodeOf(r.Context())
	return n.ID
}
