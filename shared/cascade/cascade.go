// Package cascade deletes a node together with its whole subtree.
//
// A cascade has two halves. Begin, called by the DELETE handler, marks the root as
// being deleted and writes a job item, in one transaction with the audit record: from
// that moment every user of the subtree is refused (identity treats the mark like a
// suspension) and creates under the root are refused (levels checks the mark), and
// the API answers 202. The job item's stream record starts the Worker (the
// tree-deleter function), which removes the subtree leaves first, each node in the
// same transaction as its parent's children counter, its unique name, its counts
// item and its audit record, exactly like a single delete.
//
// The work is resumable because nothing about it is remembered but the table itself:
// each run walks what is left of the subtree from the root, so a run that crashes
// midway is simply run again (the stream retries its record), and a run that reaches
// its time budget writes its progress to the job item, whose MODIFY record starts the
// next run. Nothing can be orphaned, because a node is only ever deleted by a
// transaction whose condition is that it has no children left.
package cascade

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// DeletingAttr is the node attribute that marks a node being deleted by a cascade:
// a Deletion. It is set on the root by Begin and on each node of the subtree that has
// children before the worker empties it, so no child can be created under it
// meanwhile. A user whose lineage holds a marked node is refused like one below a
// suspended node.
const DeletingAttr = "deleting"

// StatusDeleting is the status the API answers for a node being deleted (the 202
// body), and the status the audit record of the cascade's start moves the node to.
const StatusDeleting = "deleting"

// Deletion is the value of DeletingAttr.
type Deletion struct {
	JobID     string `dynamodbav:"jobId" json:"jobId"`
	StartedAt string `dynamodbav:"startedAt" json:"startedAt"`
}

// Job items: PK CASCADE#<rootId>, SK CASCADE, type cascade.
const (
	jobPrefix = "CASCADE#"
	jobSK     = "CASCADE"
	// JobType is the job item's type attribute.
	JobType = "cascade"
)

// JobKey is the key of the job deleting the subtree of node rootID.
func JobKey(rootID string) store.Item { return store.Key(jobPrefix+rootID, jobSK) }

// Job is a cascade as stored: what to delete, on whose behalf, and how far it got.
// It exists from Begin until the root is gone.
type Job struct {
	PK       string    `dynamodbav:"PK"`
	SK       string    `dynamodbav:"SK"`
	Type     string    `dynamodbav:"type"`
	ID       string    `dynamodbav:"jobId"`
	RootID   string    `dynamodbav:"rootId"`
	RootKind tree.Kind `dynamodbav:"rootKind"`
	RootName string    `dynamodbav:"rootName"`
	// Actor and the request's id, source IP and user agent are copied into the audit
	// record of every node the job removes: the log names who asked, and from where.
	Actor     audit.Actor `dynamodbav:"actor"`
	RequestID string      `dynamodbav:"requestId,omitempty"`
	SourceIP  string      `dynamodbav:"sourceIp,omitempty"`
	UserAgent string      `dynamodbav:"userAgent,omitempty"`
	StartedAt string      `dynamodbav:"startedAt"`
	// Deleted counts the nodes removed by the runs that recorded their progress (a run
	// that crashed removed nodes it did not count).
	Deleted int `dynamodbav:"deleted"`
	// Runs counts the runs that recorded their progress; Heartbeat is the last one's
	// end (RFC 3339).
	Runs      int    `dynamodbav:"runs"`
	Heartbeat string `dynamodbav:"heartbeat,omitempty"`
	// IdleRuns counts the consecutive runs that removed nothing. At MaxIdleRuns the
	// job is Stalled (the time it gave up): no run starts again until an operator
	// removes the attribute, which itself starts one.
	IdleRuns int    `dynamodbav:"idleRuns"`
	Stalled  string `dynamodbav:"stalled,omitempty"`
}

// Meta is the request metadata the job recorded, for the audit records.
func (j Job) Meta() api.Meta {
	return api.Meta{RequestID: j.RequestID, SourceIP: j.SourceIP, UserAgent: j.UserAgent}
}

// GetJob reads the job deleting rootID's subtree, strongly consistent;
// store.ErrNotFound when there is none (never begun, or finished).
func GetJob(ctx context.Context, st *store.Store, rootID string) (Job, error) {
	var j Job
	err := st.Get(ctx, JobKey(rootID), &j)
	return j, err
}

// Errors a condition of Begin's transaction failing means.
var (
	errRootChanged = errors.New("the root changed, or is being deleted already")
	errJobExists   = errors.New("a job for the root exists already")
)

// Begin starts deleting root and its subtree on behalf of r's caller, in one
// transaction: the root is marked (DeletingAttr) if it is still at root.Version and
// not being deleted already, the job item is written, and so is the audit record
// (action "<kind>.deletion-started"; auditFields are the root's fields as the audit
// log shows them, nil for DefaultFields). The caller answers 202.
//
// It returns nil when the root is being deleted already (a repeated request is
// answered 202 again), problem.Stale when root.Version is not the stored version, and
// problem.NotFound when the root is gone.
func Begin(r *http.Request, st *store.Store, root nodes.Item, auditFields map[string]any) error {
	if root.ID == "" || root.ID == tree.PlatformID || len(root.Path) == 0 {
		return fmt.Errorf("cascade: %q cannot be deleted", root.ID)
	}
	ctx := r.Context()
	now := time.Now().UTC()
	mark := Deletion{JobID: strings.ToLower(ulid.Make().String()), StartedAt: now.Format(time.RFC3339)}
	markAV, err := attributevalue.Marshal(mark)
	if err != nil {
		return err
	}
	upd, err := store.Update(nodes.Key(root.ID), store.Item{DeletingAttr: markAV}, nil,
		expression.Name("version").Equal(expression.Value(root.Version)).
			And(expression.AttributeNotExists(expression.Name(DeletingAttr))))
	if err != nil {
		return err
	}
	meta := api.MetaOf(r)
	put, err := store.Put(Job{
		PK: jobPrefix + root.ID, SK: jobSK, Type: JobType, ID: mark.JobID,
		RootID: root.ID, RootKind: root.Kind, RootName: root.Name,
		Actor:     audit.ActorOf(api.CallerOf(ctx)),
		RequestID: meta.RequestID, SourceIP: meta.SourceIP, UserAgent: meta.UserAgent,
		StartedAt: mark.StartedAt,
	}, store.NotExists())
	if err != nil {
		return err
	}
	if auditFields == nil {
		auditFields = DefaultFields(root)
	}
	after := maps.Clone(auditFields)
	after["status"] = StatusDeleting
	rec, err := audit.Record(r, audit.Change{
		Action: string(root.Kind) + ".deletion-started",
		Target: audit.Target{Type: string(root.Kind), ID: root.ID, Name: root.Name},
		Scope:  audit.NodeScope(root.Node()),
		Before: auditFields, After: after,
		// The mark leaves the root's version alone: this is its current one.
		Version: root.Version,
	})
	if err != nil {
		return err
	}
	// A distributor's status replicas take the mark in the same transaction: the caller
	// check reads them, not the node (nodes.ReadLineage).
	writes := append([]store.Write{upd.FailsWith(errRootChanged), put.FailsWith(errJobExists), rec},
		nodes.StatusWrites(root, markAV)...)
	err = st.Transact(ctx, writes...)
	switch {
	case err == nil, errors.Is(err, errJobExists):
		return nil
	case errors.Is(err, errRootChanged):
		var stored map[string]any
		switch err := st.Get(ctx, nodes.Key(root.ID), &stored); {
		case errors.Is(err, store.ErrNotFound):
			return problem.NotFound(string(root.Kind))
		case err != nil:
			return err
		}
		if _, deleting := stored[DeletingAttr]; deleting {
			return nil
		}
		return problem.Stale()
	}
	return err
}

// DefaultFields are a node's fields as the audit log shows them: its name ("email"
// for end users), status and own fields, like the levels' records.
func DefaultFields(it nodes.Item) map[string]any {
	name := "name"
	if it.Kind == tree.KindEndUser {
		name = "email"
	}
	m := map[string]any{name: it.Name, "status": it.Status}
	maps.Copy(m, it.Attrs)
	return m
}
