// Package idempotency makes a create honour the Idempotency-Key header: the first
// request with a key claims it in the table and stores its answer, which a repeat of
// the same request replays. It lives apart from package api so that functions with no
// create (and the docs, which have no table) link none of it.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
)

// Window is how long a key's answer is kept and replayed.
const Window = 24 * time.Hour

// Lease is how long a pending claim holds its key: longer than any request can run
// (API Gateway gives up on an HTTP API integration after 30 s), so a claim that was
// neither released nor answered (the function crashed, or the table refused the
// release even after retries) frees its key by itself, and a retry of the request then
// runs it again instead of meeting 409 idempotency-key-in-use for a whole Window.
const Lease = time.Minute

// bookkeepingAttempts bounds the tries of the writes that follow the handler (the
// claim's release, the answer's storage), each already retried by the SDK: the
// answer has been decided, so these are worth a few more moments.
const bookkeepingAttempts = 3

// MaxKey bounds the Idempotency-Key header.
const MaxKey = 255

// ReplayedHeader marks an answer replayed for a repeated Idempotency-Key.
const ReplayedHeader = "Idempotent-Replayed"

// idempotencyItem holds one caller's key: the request it was first used with and,
// once that request finished, its answer.
type idempotencyItem struct {
	PK          string            `dynamodbav:"PK"`
	SK          string            `dynamodbav:"SK"`
	Type        string            `dynamodbav:"type"`
	RequestHash string            `dynamodbav:"requestHash"`
	State       string            `dynamodbav:"state"` // pending, done
	Status      int               `dynamodbav:"status,omitempty"`
	Headers     map[string]string `dynamodbav:"headers,omitempty"`
	Body        []byte            `dynamodbav:"body,omitempty"`
	ExpiresAt   int64             `dynamodbav:"expiresAt"`
}

// CallerPK is the partition of a caller's keys: one per caller, so that the removal of
// their account (shared/sweep) finds every key with one Query.
func CallerPK(userID string) string { return "IDEMPOTENCY#" + userID }

// Forget removes every key of the caller userID.
func Forget(ctx context.Context, st *store.Store, userID string) error {
	_, err := st.DeletePartition(ctx, CallerPK(userID))
	return err
}

// replayedHeaders are the answer's headers kept for a replay.
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// Wrap makes h honour the Idempotency-Key header: the first request with a key
// claims it and its answer is stored; the same key with the same request replays that
// answer; with another request it is a 422; while the first is still running, a 409.
// A server error releases the key, so that a retry can succeed. Keys belong to the
// caller: two callers never share one.
func Wrap(st *store.Store, h api.Handler) api.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		vs, present := r.Header["Idempotency-Key"]
		if !present {
			return h(w, r)
		}
		// An empty key is refused, not taken for an absent one: the client meant retries to be safe.
		key := strings.Join(vs, ",")
		if !validIdempotencyKey(key) {
			return problem.Invalid("the Idempotency-Key header is invalid",
				problem.Field("Idempotency-Key", fmt.Sprintf("must be 1 to %d visible ASCII characters", MaxKey)))
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, api.MaxBody+1))
		if err != nil {
			return problem.MalformedJSON("the body could not be read")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + r.Header.Get("Content-Type") + "\n" + string(body)))
		hash := hex.EncodeToString(sum[:])
		ctx := r.Context()
		now := time.Now()
		it := idempotencyItem{
			PK: CallerPK(api.CallerOf(ctx).UserID), SK: "KEY#" + key, Type: "idempotency",
			RequestHash: hash, State: "pending", ExpiresAt: now.Add(Lease).Unix(),
		}
		// An expired key counts as free: DynamoDB's TTL deletes items late (and DynamoDB
		// Local never does), so no correctness rests on it.
		claim := &store.Condition{
			Expr:   "attribute_not_exists(#pk) OR #exp < :now",
			Names:  map[string]string{"#pk": "PK", "#exp": "expiresAt"},
			Values: store.Item{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}},
		}
		switch err := st.PutIf(ctx, it, claim); {
		case errors.Is(err, store.ErrConditionFailed):
			return replay(ctx, st, w, it)
		case err != nil:
			return err
		}
		rec := &recorder{header: http.Header{}}
		herr := h(rec, r)
		var p *problem.Problem
		switch {
		case herr != nil && !errors.As(herr, &p), herr == nil && (rec.status == 0 || rec.status >= 500),
			p != nil && p.Status >= 500:
			// Leave no claim behind a failure the client may retry (503 unavailable
			// among them); one the table still refuses ends with its Lease.
			if err := retried(ctx, func() error {
				return st.DeleteIf(ctx, store.Key(it.PK, it.SK), store.AttrIs("requestHash", hash))
			}); err != nil {
				api.Log(ctx).ErrorContext(ctx, "idempotency key not released; it frees at the end of its lease", "error", err.Error())
			}
		default:
			// The answer, a problem (4xx) included, is stored so a retry sees the same.
			answer := rec
			if p != nil {
				answer = &recorder{header: http.Header{}}
				problem.Write(answer, r, p)
			}
			it.State, it.Status, it.Body, it.Headers = "done", answer.status, answer.body.Bytes(), map[string]string{}
			it.ExpiresAt = now.Add(Window).Unix()
			for _, name := range replayedHeaders {
				if v := answer.header.Get(name); v != "" {
					it.Headers[name] = v
				}
			}
			// Unstored, the claim ends with its Lease and a retry runs the request
			// again, which then meets what the first run made (a create: 409).
			if err := retried(ctx, func() error {
				err := st.PutIf(ctx, it, store.AttrIs("requestHash", hash))
				if errors.Is(err, store.ErrConditionFailed) {
					return nil // the claim was taken over after its lease: not ours to answer
				}
				return err
			}); err != nil {
				api.Log(ctx).ErrorContext(ctx, "idempotent answer not stored; the key frees at the end of its lease", "error", err.Error())
			}
		}
		if herr != nil {
			return herr
		}
		if rec.status == 0 {
			return errors.New("the handler wrote no answer")
		}
		for k, vs := range rec.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.status)
		_, err = w.Write(rec.body.Bytes())
		return err
	}
}

// retried runs write until it succeeds, fails with an error that is not
// problem.Transient, or has failed bookkeepingAttempts times.
func retried(ctx context.Context, write func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = write(); err == nil || !problem.Transient(err) || attempt == bookkeepingAttempts {
			return err
		}
		d, _ := store.Backoff(attempt, err)
		if perr := store.Pause(ctx, d); perr != nil {
			return err
		}
	}
}

// replay answers a repeated key from what was stored.
func replay(ctx context.Context, st *store.Store, w http.ResponseWriter, claim idempotencyItem) error {
	var prev idempotencyItem
	if err := st.Get(ctx, store.Key(claim.PK, claim.SK), &prev); err != nil {
		if errors.Is(err, store.ErrNotFound) { // released by a failure in between
			return problem.Conflict("idempotency-key-in-use", "a request with this Idempotency-Key is being processed; retry shortly",
				problem.Field("Idempotency-Key", "in use"))
		}
		return err
	}
	switch {
	case prev.RequestHash != claim.RequestHash:
		return &problem.Problem{
			Type: problem.TypePrefix + "idempotency-key-reused", Title: "Idempotency key reused", Status: http.StatusUnprocessableEntity,
			Detail: "this Idempotency-Key was used with another request",
			Errors: []problem.FieldError{problem.Field("Idempotency-Key", "already used with another request")},
		}
	case prev.State != "done":
		return problem.Conflict("idempotency-key-in-use", "a request with this Idempotency-Key is being processed; retry shortly",
			problem.Field("Idempotency-Key", "in use"))
	}
	for k, v := range prev.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set(ReplayedHeader, "true")
	w.WriteHeader(prev.Status)
	_, err := w.Write(prev.Body)
	return err
}

func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder keeps a handler's answer so it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
