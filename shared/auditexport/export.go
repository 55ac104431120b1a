// Package auditexport takes an audit log out as a file: POST /v1/audit-logs/exports
// records an export (its query, format and who asked) with its change record
// (audit.exported) in one transaction and queues it; the audit-exporter function,
// fed by that SQS queue, reads the entries oldest first and streams them to S3
// (NDJSON or CSV); GET /v1/audit-logs/exports/{id} tells its state and, once it is
// done, a presigned link valid ten minutes. It is a package of its own, apart from
// shared/audit, so that the functions that only record changes do not link the S3
// and SQS clients.
package auditexport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// The formats of an export file.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// The states of an export: pending (queued), running (the job is reading), done (the
// file is in the bucket) and failed (Reason says why; nothing to download).
const (
	StatusPending = "pending"
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
)

// Action is the audit action of starting an export: who took the log out is on record,
// in the log of the exported node and of every node above it.
const Action = "audit.exported"

// TargetType is the audit target type of an export: the audit log (actions are
// <target type>.<verb>), with the export's id as the target's id and the exported
// node's id as its name.
const TargetType = "audit"

// URLExpiry is how long a download link is valid.
const URLExpiry = 10 * time.Minute

// Retention is how long an export and its file are kept: the bucket's lifecycle rule
// (template.yaml, AuditExportBucket) deletes the file after as many days, and the
// export item expires with it (table TTL; DynamoDB Local never expires, so nothing
// rests on it).
const Retention = 7 * 24 * time.Hour

// MaxEntries bounds the entries one export writes; a larger selection fails with a
// reason that asks for a narrower range.
const MaxEntries = 1_000_000

// idPattern is an export id: exp_ and a ULID.
var idPattern = regexp.MustCompile(`^exp_[0-9A-HJKMNP-TV-Z]{26}$`)

// Export is an export as the API shows it.
type Export struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	NodeID string `json:"nodeId"`
	Format string `json:"format"`
	// The filters as given (besides nodeId), absent when not.
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Action     string `json:"action,omitempty"`
	TargetType string `json:"targetType,omitempty"`
	ActorID    string `json:"actorId,omitempty"`
	TargetID   string `json:"targetId,omitempty"`
	// Count is the entries written so far (all of them once done).
	Count int `json:"count"`
	// Reason tells why a failed export failed.
	Reason      string `json:"reason,omitempty"`
	CreatedAt   string `json:"createdAt"`
	UpdatedAt   string `json:"updatedAt"`
	CompletedAt string `json:"completedAt,omitempty"`
	// URL, once done, downloads the file until URLExpiresAt (a new GET makes a new one).
	URL          string `json:"url,omitempty"`
	URLExpiresAt string `json:"urlExpiresAt,omitempty"`
}

// item is an export as stored: EXPORT#<id> / EXPORT.
type item struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Type string `dynamodbav:"type"`
	ID   string `dynamodbav:"id"`
	// The exported node and its ancestors, for the GET's authorization.
	NodeID   string    `dynamodbav:"nodeId"`
	NodeKind tree.Kind `dynamodbav:"nodeKind"`
	NodePath []string  `dynamodbav:"nodePath"`
	Format   string    `dynamodbav:"format"`
	// Filters are the list filters as validated (nodeId included), which the job parses
	// again with audit.ParseSelection: one definition of what an export holds.
	Filters     map[string]string `dynamodbav:"filters"`
	Status      string            `dynamodbav:"status"`
	Count       int               `dynamodbav:"count"`
	Reason      string            `dynamodbav:"reason,omitempty"`
	Key         string            `dynamodbav:"key,omitempty"`
	Attempts    int               `dynamodbav:"attempts"`
	CreatedBy   audit.Actor       `dynamodbav:"createdBy"`
	CreatedAt   string            `dynamodbav:"createdAt"`
	UpdatedAt   string            `dynamodbav:"updatedAt"`
	CompletedAt string            `dynamodbav:"completedAt,omitempty"`
	ExpiresAt   int64             `dynamodbav:"expiresAt"`
}

func key(id string) store.Item { return store.Key("EXPORT#"+id, "EXPORT") }

func (it item) node() tree.Node {
	return tree.Node{ID: it.NodeID, Kind: it.NodeKind, Path: it.NodePath}
}

func (it item) view() Export {
	f := it.Filters
	return Export{
		ID: it.ID, Status: it.Status, NodeID: it.NodeID, Format: it.Format,
		From: f["from"], To: f["to"], Action: f["action"], TargetType: f["targetType"],
		ActorID: f["actorId"], TargetID: f["targetId"],
		Count: it.Count, Reason: it.Reason, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
		CompletedAt: it.CompletedAt,
	}
}

// Message is the queue message that starts the job of one export.
type Message struct {
	ID string `json:"id"`
}

// Queue is the part of the SQS client the create uses.
type Queue interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Presigner is the part of the S3 presign client the GET uses.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// Service serves the two routes.
type Service struct {
	Store   *store.Store
	Callers api.Callers
	// Queue and QueueURL take the jobs (EXPORT_QUEUE_URL); Presign and Bucket sign the
	// links (EXPORT_BUCKET).
	Queue    Queue
	QueueURL string
	Presign  Presigner
	Bucket   string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create is POST /v1/audit-logs/exports.
func (s *Service) Create() api.Operation {
	return api.Operation{
		ID: tree.OpAuditLogsExport, Method: http.MethodPost, Path: "/v1/audit-logs/exports", Kind: "node",
		Callers: s.Callers, Target: s.exportedNode, Handle: s.create,
		NodeLimit: throttle.PerTarget(s.Store, throttle.Exports),
	}
}

// Get is GET /v1/audit-logs/exports/{id}.
func (s *Service) Get() api.Operation {
	return api.Operation{
		ID: tree.OpAuditLogsExportGet, Method: http.MethodGet, Path: "/v1/audit-logs/exports/{id}", Kind: "export",
		Callers: s.Callers, Target: s.export, Handle: s.get,
	}
}

// body is the create's JSON body: the list's filters, and the format.
type body struct {
	NodeID     *string `json:"nodeId"`
	From       *string `json:"from"`
	To         *string `json:"to"`
	Format     *string `json:"format"`
	Action     *string `json:"action"`
	TargetType *string `json:"targetType"`
	ActorID    *string `json:"actorId"`
	TargetID   *string `json:"targetId"`
}

// request is a validated create.
type request struct {
	filters map[string]string
	format  string
	node    nodes.Item
}

// parse validates b: the filters exactly as the list validates its query string
// (audit.ParseSelection), and the format.
func (b body) parse() (map[string]string, string, error) {
	filters := map[string]string{}
	for name, v := range map[string]*string{
		"nodeId": b.NodeID, "from": b.From, "to": b.To, "action": b.Action,
		"targetType": b.TargetType, "actorId": b.ActorID, "targetId": b.TargetID,
	} {
		if v != nil {
			filters[name] = *v
		}
	}
	var errs []problem.FieldError
	if _, err := audit.ParseSelection(filters); err != nil {
		var p *problem.Problem
		if !errors.As(err, &p) {
			return nil, "", err
		}
		errs = append(errs, p.Errors...)
	}
	format := ""
	switch {
	case b.Format == nil:
		errs = append(errs, problem.Field("format", "is required: ndjson or csv"))
	case *b.Format != FormatNDJSON && *b.Format != FormatCSV:
		errs = append(errs, problem.Field("format", "must be ndjson or csv"))
	default:
		format = *b.Format
	}
	if len(errs) > 0 {
		return nil, "", problem.Invalid("the export request is invalid", errs...)
	}
	return filters, format, nil
}

// exportedNode is the create's target: the node whose log is exported (nodeId, or
// the caller's own). A node outside the caller's branch then reads as missing (the
// guard), exactly as in the list.
func (s *Service) exportedNode(r *http.Request) (tree.Node, any, error) {
	caller := api.CallerOf(r.Context())
	if err := tree.Allow(tree.OpAuditLogsExport, caller, nil); err != nil {
		return tree.Node{}, nil, problem.Forbidden("your role may not " + string(tree.OpAuditLogsExport))
	}
	var b body
	// DecodePatch also names the fields sent as null, which the pointers cannot tell
	// from absent ones: a null is no string, so it is refused, not taken as absent.
	nulls, err := api.DecodePatch(r, &b)
	if err != nil {
		return tree.Node{}, nil, err
	}
	if len(nulls) > 0 {
		var errs []problem.FieldError
		for _, f := range nulls {
			errs = append(errs, problem.Field(f, "must be a string, not null"))
		}
		return tree.Node{}, nil, problem.Invalid("a field is null", errs...)
	}
	// The node first (its id's form, then whether the caller may see it), the rest of
	// the body after: a caller outside the node's branch learns nothing but 404,
	// whatever else the body holds.
	id := caller.Node.ID
	if b.NodeID != nil {
		if _, err := audit.ParseSelection(map[string]string{"nodeId": *b.NodeID}); err != nil {
			return tree.Node{}, nil, err
		}
		id = *b.NodeID
	}
	n, err := nodes.Get(r.Context(), s.Store, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return tree.Node{}, nil, problem.NotFound("node")
	case err != nil:
		return tree.Node{}, nil, err
	}
	if !caller.Node.Contains(n.Node()) {
		// Answered here, named "node" as the list names it, rather than after the
		// node's kind by the guard.
		return tree.Node{}, nil, problem.NotFound("node")
	}
	filters, format, err := b.parse()
	if err != nil {
		return tree.Node{}, nil, err
	}
	filters["nodeId"] = n.ID
	return n.Node(), request{filters: filters, format: format, node: n}, nil
}

// create writes the export and its change record in one transaction, then queues the
// job. When the queue refuses, the export is marked failed (so that it does not stay
// pending for ever) and the answer is the error: the caller may start another.
func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req := api.TargetOf(ctx).(request)
	now := s.now().UTC()
	at := now.Format(audit.TimeFormat)
	id := "exp_" + ulid.Make().String()
	it := item{
		PK: "EXPORT#" + id, SK: "EXPORT", Type: "export", ID: id,
		NodeID: req.node.ID, NodeKind: req.node.Kind, NodePath: req.node.Path,
		Format: req.format, Filters: req.filters, Status: StatusPending,
		CreatedBy: audit.ActorOf(api.CallerOf(ctx)), CreatedAt: at, UpdatedAt: at,
		ExpiresAt: now.Add(Retention).Unix(),
	}
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		return err
	}
	after := map[string]any{"format": it.Format}
	for k, v := range it.Filters {
		after[k] = v
	}
	rec, err := audit.Record(r, audit.Change{
		Action: Action, Target: audit.Target{Type: TargetType, ID: it.ID, Name: it.NodeID},
		Scope: req.node.Node().Lineage(), After: after,
	})
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx, put, rec); err != nil {
		return err
	}
	msg, _ := json.Marshal(Message{ID: it.ID})
	if _, err := s.Queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.QueueURL), MessageBody: aws.String(string(msg))}); err != nil {
		if ferr := setStatus(ctx, s.Store, it.ID, StatusFailed, "the export could not be queued; start another", 0, ""); ferr != nil {
			err = errors.Join(err, ferr)
		}
		return fmt.Errorf("queue export: %w", err)
	}
	w.Header().Set("Location", "/v1/audit-logs/exports/"+it.ID)
	return api.WriteJSON(w, http.StatusAccepted, it.view())
}

// export is the GET's target: the export, under its node, so that whoever may read
// that node's log may follow the export (its creator included, while they still may).
func (s *Service) export(r *http.Request) (tree.Node, any, error) {
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		return tree.Node{}, nil, problem.NotFound("export")
	}
	var it item
	switch err := s.Store.Get(r.Context(), key(id), &it); {
	case errors.Is(err, store.ErrNotFound):
		return tree.Node{}, nil, problem.NotFound("export")
	case err != nil:
		return tree.Node{}, nil, err
	}
	if !api.CallerOf(r.Context()).Node.Contains(it.node()) {
		return tree.Node{}, nil, problem.NotFound("export")
	}
	return it.node(), it, nil
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := api.TargetOf(r.Context()).(item)
	out := it.view()
	if it.Status == StatusDone {
		req, err := s.Presign.PresignGetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(it.Key)},
			s3.WithPresignExpires(URLExpiry))
		if err != nil {
			return fmt.Errorf("presign: %w", err)
		}
		out.URL = req.URL
		out.URLExpiresAt = s.now().UTC().Add(URLExpiry).Format(time.RFC3339)
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// setStatus moves export id to status (with reason, count and the file's key); a
// finished export is never moved again.
func setStatus(ctx context.Context, st *store.Store, id, status, reason string, count int, fileKey string) error {
	set := map[string]any{"status": status, "updatedAt": time.Now().UTC().Format(audit.TimeFormat), "count": count}
	if reason != "" {
		set["reason"] = reason
	}
	if fileKey != "" {
		set["key"] = fileKey
	}
	if status == StatusDone || status == StatusFailed {
		set["completedAt"] = set["updatedAt"]
	}
	av, err := attributevalue.MarshalMap(set)
	if err != nil {
		return err
	}
	cond := expression.AttributeExists(expression.Name("PK")).
		And(expression.Name("status").In(expression.Value(StatusPending), expression.Value(StatusRunning)))
	w, err := store.Update(key(id), av, nil, cond)
	if err != nil {
		return err
	}
	_, err = st.UpdateOne(ctx, w)
	return err
}
