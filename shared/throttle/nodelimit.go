package throttle

import (
	"context"
	"net/http"
	"time"

	"opsconsole/shared/api"
	"opsconsole/shared/store"
)

// The allowances per node of the expensive operations, all in this one place (the
// README and docs/operations.md, "Limits", state them; TestNodeLimitsDocumented in
// shared/apidocs checks that they do). Each is counted per node of the tree in
// fixed windows, so that one tenant cannot spend the capacity every tenant shares;
// the figures are generous for a real tenant's work and small against the shared
// quotas.
//
// A new expensive operation takes its allowance with one line in its api.Operation,
// `NodeLimit: throttle.PerTarget(s.Store, throttle.Exports)` (or PerNode, to count
// against another node than its target), once the allowance is declared here and in
// NodeAllowances; the document then owes the operation its 429 (TestNodeLimitsDocumented).
var (
	// Invitations are the invitation emails a node's users send (POST /v1/users,
	// POST /v1/users/{id}/resend-invite, POST /v1/end-users/{id}/invite, one
	// allowance for the three): each makes a Cognito account and sends an email, and
	// both Cognito's AdminCreateUser quota and SES's sending reputation are shared.
	// 100 an hour onboards a whole company in an afternoon.
	Invitations = api.Allowance{Name: "invitations", Max: 100, Window: time.Hour}
	// Cascades are the cascading deletes of a node's children (DELETE ...?cascade=true
	// of a node that has children): each sets the tree deleter working through a
	// whole subtree, one Lambda run after another. 10 an hour is more than any
	// reorganisation needs.
	Cascades = api.Allowance{Name: "cascades", Max: 10, Window: time.Hour}
	// Signups are the public signups to one partner (POST /v1/signup/{partnerId}),
	// each an email to an address nobody has verified yet. 20 an hour per partner, on
	// top of the limits per email and per address (shared/signup).
	Signups = api.Allowance{Name: "signups", Max: 20, Window: time.Hour}
	// Exports are the audit log exports started on a node (POST
	// /v1/audit-logs/exports), counted against the exported node: each reads up to a
	// million entries and writes a file. 10 an hour covers any review or audit.
	Exports = api.Allowance{Name: "exports", Max: 10, Window: time.Hour}
	// SMTPTests are the test emails sent through an owner's own mail server (POST
	// …/smtp/test on a client service, partner or organization), counted against the
	// owner: each opens a connection to a server the tenant names and may wait up to
	// 15 s on it. 20 an hour is plenty to get a configuration right.
	SMTPTests = api.Allowance{Name: "smtp-tests", Max: 20, Window: time.Hour}
	// WebhookTests are the test events sent to a node's webhook endpoints (POST
	// /v1/webhook-endpoints/{id}/test), counted against the node holding the endpoint,
	// so more endpoints do not multiply it: each is a request to a server the tenant
	// names, retried on the delivery schedule while it fails. 20 an hour is plenty to
	// get a receiver right.
	WebhookTests = api.Allowance{Name: "webhook-tests", Max: 20, Window: time.Hour}
	// WebhookRecoveries are the recoveries of a node's webhook endpoints (POST
	// /v1/webhook-endpoints/{id}/recover), counted against the node holding the
	// endpoint: each sends every failed delivery of a span again, with no cap on their
	// count (up to 30 days of them). 10 an hour covers a receiver's outage and its
	// second try.
	WebhookRecoveries = api.Allowance{Name: "webhook-recoveries", Max: 10, Window: time.Hour}
)

// NodeAllowances are every allowance per node: the node sweeper (shared/sweep) forgets
// a removed node's counters of each.
var NodeAllowances = []api.Allowance{Invitations, Cascades, Signups, Exports, SMTPTests, WebhookTests, WebhookRecoveries}

// NodeScope is the counter scope of allowance a (THROTTLE#node-<name>#<node id>).
func NodeScope(a api.Allowance) string { return "node-" + a.Name }

// NodeCounter is the api.Counter of the node limits, counted in the table like every
// attempt counter here: one UpdateItem per call, exact under a parallel burst.
type NodeCounter struct {
	Store *store.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Count implements api.Counter. A refused call stays counted, as with sign-ins: a
// node that keeps calling past its allowance does not get through sooner.
func (c NodeCounter) Count(ctx context.Context, a api.Allowance, node string) (time.Duration, error) {
	l := &Limiter{Store: c.Store, Window: a.Window, Now: c.Now}
	at, err := l.Begin(ctx, Key{Scope: NodeScope(a), Value: node, Max: a.Max})
	if err != nil {
		return 0, err
	}
	if at.Allowed {
		return 0, nil
	}
	return at.RetryAfter, nil
}

// PerNode is allowance a counted in st against the node that node names from a
// guarded request ("" counts nothing), for an api.Operation's NodeLimit.
func PerNode(st *store.Store, a api.Allowance, node func(r *http.Request) string) *api.NodeLimit {
	return &api.NodeLimit{Allowance: a, Node: node, Counter: NodeCounter{Store: st}}
}

// PerTarget is allowance a counted in st against the operation's target node.
func PerTarget(st *store.Store, a api.Allowance) *api.NodeLimit {
	return PerNode(st, a, api.TargetNodeID)
}

// ForgetNode removes every node-limit counter of node: what the node sweeper does
// when the node is gone.
func ForgetNode(ctx context.Context, st *store.Store, node string) error {
	for _, a := range NodeAllowances {
		if err := Forget(ctx, st, NodeScope(a), node); err != nil {
			return err
		}
	}
	return nil
}
