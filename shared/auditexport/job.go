package auditexport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/store"
)

// MaxAttempts is how many times a job is tried (the queue's redrive maxReceiveCount):
// a job that failed on its last attempt marks its export failed instead of leaving
// it to the dead-letter queue still running.
const MaxAttempts = 3

// Job is the audit-exporter function: it writes the file of each export the queue
// names. Entries are read oldest first, a page at a time, and leave for S3 as they
// are read (upload), so memory holds one page and one part whatever the export's size.
type Job struct {
	Store  *store.Store
	S3     ObjectStore
	Bucket string
	// Margin is the time kept before the function's deadline: a job that has not
	// finished by then gives up its upload and marks the export failed with a reason,
	// instead of being cut off mid-write. 0 means 10 s.
	Margin time.Duration
	// Max bounds the entries of one export; 0 means MaxEntries.
	Max int
	// PageSize is the items one Query reads; 0 means 1,000.
	PageSize int
	// PartSize is the upload's part size; 0 means DefaultPartSize.
	PartSize int
	// Period is the audit digest period (audit.DigestPeriodFromEnv), by which each
	// line finds the digest that proves it; 0 means audit.DefaultDigestPeriod.
	Period time.Duration
}

// Handle runs the job of every message of the batch and reports the ones to try again.
func (j *Job) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var out events.SQSEventResponse
	for _, m := range ev.Records {
		if err := j.process(ctx, m); err != nil {
			out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return out, nil
}

func (j *Job) process(ctx context.Context, m events.SQSMessage) error {
	var msg Message
	if err := json.Unmarshal([]byte(m.Body), &msg); err != nil || !idPattern.MatchString(msg.ID) {
		// Not ours: retrying cannot help.
		api.Log(ctx).ErrorContext(ctx, "export message unreadable", "messageId", m.MessageId)
		return nil
	}
	err := j.Run(ctx, msg.ID)
	if err == nil {
		return nil
	}
	attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	api.Log(ctx).WarnContext(ctx, "export failed", "export", msg.ID, "attempt", attempt, "error", err.Error())
	if attempt >= MaxAttempts {
		if ferr := setStatus(context.WithoutCancel(ctx), j.Store, msg.ID, StatusFailed,
			"the export failed "+strconv.Itoa(attempt)+" times; start another", 0, ""); ferr != nil {
			return ferr
		}
		return nil
	}
	return err
}

// errOutOfTime stops a job at its margin before the deadline.
var errOutOfTime = errors.New("out of time")

// Run writes export id's file. An export already done or failed is left alone (a
// message delivered twice does nothing the second time); one found running was cut
// off by a crash and is written again from the start, over the same key.
func (j *Job) Run(ctx context.Context, id string) error {
	var it item
	switch err := j.Store.Get(ctx, key(id), &it); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	if it.Status == StatusDone || it.Status == StatusFailed {
		return nil
	}
	if err := setStatus(ctx, j.Store, id, StatusRunning, "", 0, ""); err != nil {
		if errors.Is(err, store.ErrConditionFailed) {
			return nil
		}
		return err
	}
	sel, err := audit.ParseSelection(it.Filters)
	if err != nil {
		return setStatus(ctx, j.Store, id, StatusFailed, "the export's query is invalid", 0, "")
	}
	log, err := sel.Stream(j.Store, it.NodeID, true)
	if err != nil {
		return err
	}
	contentType, ext := fileType(it.Format)
	fileKey := fmt.Sprintf("exports/%s/%s.%s", it.NodeID, it.ID, ext)
	up := newUpload(ctx, j.S3, j.Bucket, fileKey, contentType, j.PartSize)
	count, err := j.write(ctx, it, log, up)
	if err != nil {
		if aerr := up.Abort(context.WithoutCancel(ctx)); aerr != nil {
			api.Log(ctx).WarnContext(ctx, "abort export upload", "export", id, "error", aerr.Error())
		}
		var reason string
		switch {
		case errors.Is(err, errOutOfTime):
			reason = "the export did not finish within the time limit after " + strconv.Itoa(count) + " entries; narrow the range"
		case errors.Is(err, errTooMany):
			reason = "the selection holds more than " + strconv.Itoa(j.max()) + " entries; narrow the range"
		default:
			return err
		}
		return setStatus(context.WithoutCancel(ctx), j.Store, id, StatusFailed, reason, count, "")
	}
	return setStatus(ctx, j.Store, id, StatusDone, "", count, fileKey)
}

var errTooMany = errors.New("too many entries")

func (j *Job) max() int {
	if j.Max > 0 {
		return j.Max
	}
	return MaxEntries
}

// write streams the selection, read from log, into up and completes it; it answers
// the entries written. Each read takes a page from every partition of the log (a
// sharded log's shards in parallel), so memory holds at most a page per partition.
func (j *Job) write(ctx context.Context, it item, log *store.Stream, up *upload) (int, error) {
	margin, page := j.Margin, j.PageSize
	if margin <= 0 {
		margin = 10 * time.Second
	}
	if page <= 0 {
		page = 1000
	}
	enc, err := newEncoder(it.Format, up)
	if err != nil {
		return 0, err
	}
	period := j.Period
	if period <= 0 {
		period = audit.DefaultDigestPeriod
	}
	proofs := newProver(j.Store, it.NodeID, period, it.Filters)
	count := 0
	progress := time.Now()
	var start store.Item
	for {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < margin {
			return count, errOutOfTime
		}
		r, err := log.Read(ctx, page, start)
		if err != nil {
			return count, err
		}
		for _, raw := range r.Items {
			if count >= j.max() {
				return count, errTooMany
			}
			e, err := audit.DecodeEntry(raw)
			if err != nil {
				return count, err
			}
			p, err := proofs.proof(ctx, raw, e)
			if err != nil {
				return count, err
			}
			if err := enc.write(e, p); err != nil {
				return count, err
			}
			count++
		}
		if start = r.Next; start == nil {
			break
		}
		if time.Since(progress) > 5*time.Second {
			// The GET shows how far a long export got.
			progress = time.Now()
			if err := setStatus(ctx, j.Store, it.ID, StatusRunning, "", count, ""); err != nil {
				return count, err
			}
		}
	}
	if err := enc.flush(); err != nil {
		return count, err
	}
	return count, up.Close()
}
