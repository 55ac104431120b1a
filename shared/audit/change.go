// Package audit records every change made through the API and turns the records into
// the audit log. A change record is written in the same transaction as the change
// itself; the table's stream delivers it to Consume, which copies it into the audit
// partition of every node whose subtree holds the target, so each admin reads their
// subtree's log with one Query, newest first.
package audit

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/api"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Retention is how long a change record stays in the table after the stream has
// carried it. The audit entries themselves are kept.
const Retention = 7 * 24 * time.Hour

// TimeFormat is fixed width, so that entries sort by time as strings.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Actor is who made a change.
type Actor struct {
	UserID string `json:"userId" dynamodbav:"userId"`
	Email  string `json:"email,omitempty" dynamodbav:"email,omitempty"`
	Role   string `json:"role" dynamodbav:"role"`
	// Impersonator is set when the change was made through a login-as session: the
	// real user behind it, while UserID, Email and Role are whom they acted as (for a
	// session on a node, the real user's id and email with the node's admin role).
	Impersonator *Impersonator `json:"impersonator,omitempty" dynamodbav:"impersonator,omitempty"`
	// Type is "api_client" when an API client made the change (UserID is then its
	// client id too, so that actorId finds its changes); empty for a person.
	Type     string `json:"type,omitempty" dynamodbav:"type,omitempty"`
	ClientID string `json:"clientId,omitempty" dynamodbav:"clientId,omitempty"`
	Name     string `json:"name,omitempty" dynamodbav:"name,omitempty"`
	NodeID   string `json:"nodeId,omitempty" dynamodbav:"nodeId,omitempty"`
	// CreatedBy is the user who created the API client.
	CreatedBy *Creator `json:"createdBy,omitempty" dynamodbav:"createdBy,omitempty"`
}

// ActorAPIClient is the type of an actor that is an API client.
const ActorAPIClient = "api_client"

// Creator is the user who created an API client, as the audit log names them.
type Creator struct {
	UserID string `json:"userId" dynamodbav:"userId"`
	Email  string `json:"email,omitempty" dynamodbav:"email,omitempty"`
}

// Impersonator is the real user of a login-as session, as the audit log names them.
type Impersonator struct {
	UserID    string `json:"userId" dynamodbav:"userId"`
	Email     string `json:"email,omitempty" dynamodbav:"email,omitempty"`
	Role      string `json:"role" dynamodbav:"role"`
	SessionID string `json:"sessionId,omitempty" dynamodbav:"sessionId,omitempty"`
}

// Target is what a change was made to.
type Target struct {
	Type string `json:"type" dynamodbav:"type"`
	ID   string `json:"id" dynamodbav:"id"`
	Name string `json:"name,omitempty" dynamodbav:"name,omitempty"`
}

// FieldChange is one field's value before and after; absent is nil.
type FieldChange struct {
	Field  string `json:"field" dynamodbav:"field"`
	Before any    `json:"before" dynamodbav:"before"`
	After  any    `json:"after" dynamodbav:"after"`
}

// Entry is one audit log entry as the API shows it.
type Entry struct {
	ID        string        `json:"id" dynamodbav:"id"`
	At        string        `json:"at" dynamodbav:"at"`
	Actor     Actor         `json:"actor" dynamodbav:"actor"`
	Action    string        `json:"action" dynamodbav:"action"`
	Target    Target        `json:"target" dynamodbav:"target"`
	Changes   []FieldChange `json:"changes" dynamodbav:"changes"`
	RequestID string        `json:"requestId,omitempty" dynamodbav:"requestId,omitempty"`
	SourceIP  string        `json:"sourceIp,omitempty" dynamodbav:"sourceIp,omitempty"`
	UserAgent string        `json:"userAgent,omitempty" dynamodbav:"userAgent,omitempty"`
}

// ChangeType is the value of the type attribute of change records, which the stream
// consumer's filter selects on.
const ChangeType = "change"

// changeItem is a change record as stored.
type changeItem struct {
	PK    string `dynamodbav:"PK"`
	SK    string `dynamodbav:"SK"`
	Type  string `dynamodbav:"type"`
	Entry `dynamodbav:",inline"`
	// Scope is the lineage of the target: every node whose audit log shows the change.
	Scope []string `dynamodbav:"scope"`
	// State is the target's audited fields after the change (before it, for a
	// deletion), secrets redacted: what a webhook event shows of the resource
	// (shared/webhooks). The audit entries do not copy it.
	State map[string]any `dynamodbav:"state,omitempty"`
	// Version is the target's version after the change (its last version, for a
	// deletion); absent for a target without versions (see Change.Version).
	Version   int   `dynamodbav:"version,omitempty"`
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// ChangeRecord is a change record as the stream carries it: the entry, the target's
// lineage, its state and its version (see changeItem).
type ChangeRecord struct {
	Entry
	Scope   []string
	State   map[string]any
	Version int
}

// DecodeChangeRecord reads a change record from its item (a stream image converted
// by FromStreamImage).
func DecodeChangeRecord(it store.Item) (ChangeRecord, error) {
	var ch changeItem
	if err := attributevalue.UnmarshalMap(it, &ch); err != nil {
		return ChangeRecord{}, err
	}
	return ChangeRecord{Entry: ch.Entry, Scope: ch.Scope, State: ch.State, Version: ch.Version}, nil
}

// redactState is fields with every secret's value replaced.
func redactState(fields map[string]any) map[string]any {
	if fields == nil {
		return nil
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		if secret(k) && v != nil {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

// Change describes one mutation for the record.
type Change struct {
	Action string
	Target Target
	// Scope is the target's lineage (tree.Node.Lineage).
	Scope         []string
	Before, After map[string]any
	// Version is the target's version after the change, the one its ETag shows (for
	// a deletion, its last version; for a change that leaves the version alone, such
	// as a partner's signup switch, the current one). 0 means the target has no
	// versions (an audit export); the record then carries none. For a mail settings
	// change (<owner>.smtp-set, -removed) it is the settings' own version, the ETag of
	// …/{id}/smtp, not the owner's.
	Version int
}

// Record builds the transaction item that writes the change record of c, made by the
// caller of r. Add it to the same transaction as the change.
func Record(r *http.Request, c Change) (store.Write, error) {
	return RecordBy(ActorOf(api.CallerOf(r.Context())), api.MetaOf(r), c)
}

// ActorOf is the actor of a change made by caller.
func ActorOf(caller tree.Caller) Actor {
	a := Actor{UserID: caller.UserID, Email: caller.Email, Role: string(caller.Role)}
	if i := caller.Impersonator; i != nil {
		a.Impersonator = &Impersonator{UserID: i.UserID, Email: i.Email, Role: string(i.Role), SessionID: i.SessionID}
	}
	if cl := caller.Client; cl != nil {
		a.Type, a.ClientID, a.Name, a.NodeID = ActorAPIClient, cl.ID, cl.Name, caller.Node.ID
		a.CreatedBy = &Creator{UserID: cl.CreatedByUserID, Email: cl.CreatedByEmail}
	}
	return a
}

// RecordBy builds the transaction item that writes the change record of c, made by
// actor in the request meta describes (its id, source IP and user agent). It is Record
// for work that runs without the request, such as a stream consumer finishing what a
// request began: the record still names who asked, and from where.
func RecordBy(actor Actor, meta api.Meta, c Change) (store.Write, error) {
	put, err := store.Put(newChangeItem(actor, meta, c, time.Now().UTC()), store.NotExists())
	if err != nil {
		return store.Write{}, fmt.Errorf("change record: %w", err)
	}
	return put, nil
}

// newChangeItem is the change record of c, made at now.
func newChangeItem(actor Actor, meta api.Meta, c Change, now time.Time) changeItem {
	id := ulid.Make().String()
	return changeItem{
		PK: "CHANGE#" + id, SK: "CHANGE", Type: ChangeType,
		Entry: Entry{
			ID: id, At: now.Format(TimeFormat),
			Actor:  actor,
			Action: c.Action, Target: c.Target,
			Changes:   Diff(c.Before, c.After),
			RequestID: meta.RequestID, SourceIP: meta.SourceIP, UserAgent: meta.UserAgent,
		},
		Scope:     c.Scope,
		State:     redactState(stateOf(c)),
		Version:   c.Version,
		ExpiresAt: now.Add(Retention).Unix(),
	}
}

// stateOf is the target's fields after c, or before it for a deletion.
func stateOf(c Change) map[string]any {
	if c.After != nil {
		return c.After
	}
	return c.Before
}

// Redacted replaces the value of every secret field in the log.
const Redacted = "[redacted]"

func secret(field string) bool {
	f := strings.ToLower(field)
	return strings.Contains(f, "password") || strings.Contains(f, "secret") || strings.Contains(f, "token")
}

// Diff lists the fields whose values differ between before and after, sorted by name,
// with secrets redacted. A nil map stands for a thing that did not (or no longer)
// exists.
func Diff(before, after map[string]any) []FieldChange {
	fields := map[string]bool{}
	for k := range before {
		fields[k] = true
	}
	for k := range after {
		fields[k] = true
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	changes := []FieldChange{}
	for _, f := range names {
		b, a := before[f], after[f]
		if reflect.DeepEqual(b, a) {
			continue
		}
		if secret(f) {
			if b != nil {
				b = Redacted
			}
			if a != nil {
				a = Redacted
			}
		}
		changes = append(changes, FieldChange{Field: f, Before: b, After: a})
	}
	return changes
}

// NodeScope is the audit scope of a change to node n.
func NodeScope(n tree.Node) []string { return n.Lineage() }
