// Package deliver is the webhooks' deliverer: the delivery queue's consumer, which
// verifies endpoints, makes each attempt through the SSRF guard, records it, queues
// the next one on the schedule, disables failing endpoints and tells their admins,
// and plays recoveries.
package deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/admins"
	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/identity"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/ssrf"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
	"opsconsole/shared/webhooks"
	"opsconsole/shared/webhooks/dispatch"
)

// Timeouts and bounds of an attempt.
const (
	ConnectTimeout = 5 * time.Second
	AttemptTimeout = 15 * time.Second
	// VerifyTimeout is how long an endpoint has to answer its challenge.
	VerifyTimeout = 10 * time.Second
	// MaxExcerpt is how much of a response the log keeps.
	MaxExcerpt = 4096
	// SecretCache is how long the deliverer keeps a decrypted secret.
	SecretCache = 5 * time.Minute
)

// SystemActor is who the audit log names for the deliverer's own changes (an
// endpoint verified or disabled).
var SystemActor = audit.Actor{UserID: "system", Role: "system"}

// NewClient is the HTTP client of every attempt: connections only where the guard
// allows (checked at connect time, after DNS), no proxy, no redirects followed, a
// 5 s connect and 15 s total timeout.
func NewClient(g ssrf.Guard) *http.Client {
	return &http.Client{
		Timeout: AttemptTimeout,
		Transport: &http.Transport{
			Proxy: nil, DialContext: g.DialContext(ConnectTimeout), TLSHandshakeTimeout: ConnectTimeout,
			MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second, ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Deliverer is the delivery queue's consumer (the webhook-deliverer function).
type Deliverer struct {
	Store  *store.Store
	Jobs   *dispatch.Jobs
	Sealer webhooks.Sealer
	Client *http.Client
	// Schedule and DisableAfter: WEBHOOK_RETRY_SCHEDULE and WEBHOOK_DISABLE_AFTER.
	Schedule     []time.Duration
	DisableAfter time.Duration
	Mail         mail.Sender
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Handle runs a batch of jobs side by side; a job that fails for a reason of ours
// (not the receiver's) is reported, and SQS gives it again after the visibility
// timeout (after maxReceiveCount, to the dead-letter queue).
func (d *Deliverer) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range ev.Records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var j dispatch.Job
			err := json.Unmarshal([]byte(m.Body), &j)
			if err != nil {
				api.Log(ctx).ErrorContext(ctx, "unreadable webhook job", "messageId", m.MessageId, "error", err.Error())
				return
			}
			if err = d.run(ctx, j); err != nil {
				api.Log(ctx).WarnContext(ctx, "webhook job failed", "messageId", m.MessageId, "kind", j.Kind, "endpoint", j.EndpointID, "error", err.Error())
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

func (d *Deliverer) run(ctx context.Context, j dispatch.Job) error {
	now := d.now()
	if j.DueAt != "" {
		if due, err := time.Parse(time.RFC3339, j.DueAt); err == nil && due.Sub(now) > time.Second {
			// Not yet: wait again (SQS delays at most 15 minutes).
			j.DueAt = ""
			return d.Jobs.Send(ctx, j, due.Sub(now), now)
		}
	}
	switch j.Kind {
	case dispatch.JobVerify:
		return d.verify(ctx, j)
	case dispatch.JobDeliver:
		return d.deliver(ctx, j)
	case dispatch.JobRecover:
		return d.recover(ctx, j)
	}
	api.Log(ctx).ErrorContext(ctx, "unknown webhook job", "kind", j.Kind)
	return nil
}

// signingSecrets opens the endpoint's secrets that still sign at now.
func (d *Deliverer) signingSecrets(ctx context.Context, ep webhooks.Item, now time.Time) ([]string, error) {
	var out []string
	for _, s := range ep.Secrets {
		if s.ExpiresAt != "" {
			if t, err := time.Parse(time.RFC3339, s.ExpiresAt); err == nil && !t.After(now) {
				continue
			}
		}
		plain, err := d.Sealer.Open(ctx, ep.ID, s.Ciphertext)
		if err != nil {
			return nil, fmt.Errorf("open a secret: %w", err)
		}
		out = append(out, string(plain))
	}
	return out, nil
}

// post makes one attempt: the body signed with secrets, to url. It answers the
// attempt as logged, what it came to, and the body read (at most MaxExcerpt bytes).
func (d *Deliverer) post(ctx context.Context, url, id string, body []byte, secrets []string, timeout time.Duration) (webhooks.Attempt, webhooks.Outcome, []byte) {
	now := d.now()
	a := webhooks.Attempt{At: now.UTC().Format(time.RFC3339Nano)}
	sig, err := webhooks.Sign(id, now, body, secrets)
	if err != nil {
		a.Error = err.Error()
		return a, webhooks.Outcome{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.Error = "invalid URL: " + err.Error()
		return a, webhooks.Outcome{}, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "opsconsole-webhooks/1")
	req.Header.Set(webhooks.HeaderID, id)
	req.Header.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhooks.HeaderSignature, sig)
	start := time.Now()
	res, err := d.Client.Do(req)
	if err != nil {
		a.LatencyMs = time.Since(start).Milliseconds()
		a.Error = attemptError(err)
		return a, webhooks.Outcome{}, nil
	}
	defer res.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(res.Body, MaxExcerpt))
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	a.LatencyMs = time.Since(start).Milliseconds()
	a.StatusCode = res.StatusCode
	a.ResponseExcerpt = validUTF8(excerpt)
	o := webhooks.Outcome{OK: res.StatusCode >= 200 && res.StatusCode < 300, Gone: res.StatusCode == http.StatusGone}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		o.RetryAfter = webhooks.RetryAfter(res.Header.Get("Retry-After"), d.now())
	}
	if !o.OK {
		a.Error = "HTTP " + strconv.Itoa(res.StatusCode)
		if res.StatusCode >= 300 && res.StatusCode < 400 {
			a.Error += " (redirects are not followed)"
		}
	}
	return a, o, excerpt
}

// attemptError is the reason a request failed, without the URL (the log shows it).
func attemptError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	switch {
	case errors.Is(err, ssrf.ErrRefused):
		return "refused by the SSRF guard: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return err.Error()
}

func validUTF8(b []byte) string {
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1] // a rune cut at the 4 KB boundary
	}
	return string(b)
}

// deliver makes the attempt job j asks for, records it and queues the next.
func (d *Deliverer) deliver(ctx context.Context, j dispatch.Job) error {
	keys := []store.Item{webhooks.Key(j.EndpointID), webhooks.DeliveryKey(j.EndpointID, j.Delivery)}
	got, err := d.Store.BatchGet(ctx, keys)
	if err != nil {
		return err
	}
	var ep webhooks.Item
	var dl webhooks.Delivery
	for _, av := range got {
		var head struct {
			Type string `dynamodbav:"type"`
		}
		_ = attributevalue.UnmarshalMap(av, &head)
		switch head.Type {
		case webhooks.ItemType:
			err = attributevalue.UnmarshalMap(av, &ep)
		case webhooks.DeliveryType:
			err = attributevalue.UnmarshalMap(av, &dl)
		}
		if err != nil {
			return err
		}
	}
	if ep.ID == "" || dl.ID == "" {
		return nil // the endpoint was deleted (or the delivery expired)
	}
	n := len(dl.Attempts)
	switch {
	case n == j.Attempt+1 && dl.Status == webhooks.DeliveryPending && !j.Manual && dl.NextAttemptAt != "":
		// This attempt was recorded but its sequel may never have been queued (a
		// crash between the two): queue it again. A duplicate finds n moved on.
		due, _ := time.Parse(time.RFC3339Nano, dl.NextAttemptAt)
		return d.Jobs.Send(ctx, dispatch.Job{Kind: dispatch.JobDeliver, EndpointID: ep.ID, Delivery: j.Delivery, Attempt: n}, due.Sub(d.now()), d.now())
	case n != j.Attempt && !j.Manual:
		return nil // made already
	case dl.Status != webhooks.DeliveryPending && !j.Manual:
		return nil
	}
	if ep.Status != webhooks.StatusActive {
		// Disabled meanwhile: the delivery fails, and recover can send it later.
		_, err := d.record(ctx, ep, dl, webhooks.Attempt{At: d.now().UTC().Format(time.RFC3339Nano), Error: "the endpoint is " + ep.Status}, webhooks.DeliveryFailed, 0)
		return err
	}
	_, _, err = d.attempt(ctx, ep, dl, j.Manual)
	return err
}

// attempt POSTs delivery dl to ep, records the attempt, updates the endpoint's
// health and queues the next attempt. It tells the attempt's status.
func (d *Deliverer) attempt(ctx context.Context, ep webhooks.Item, dl webhooks.Delivery, manual bool) (string, bool, error) {
	now := d.now()
	secrets, err := d.signingSecrets(ctx, ep, now)
	if err != nil {
		return "", false, err
	}
	a, o, _ := d.post(ctx, ep.Attrs.URL, dl.EventID, []byte(dl.Payload), secrets, AttemptTimeout)
	status, wait := webhooks.Next(len(dl.Attempts), o, d.Schedule, manual, webhooks.Jitter())
	recorded, err := d.record(ctx, ep, dl, a, status, wait)
	if err != nil || !recorded {
		return status, false, err
	}
	if err := d.health(ctx, ep, a, o); err != nil {
		return status, true, err
	}
	if status == webhooks.DeliveryPending {
		return status, true, d.Jobs.Send(ctx, dispatch.Job{Kind: dispatch.JobDeliver, EndpointID: ep.ID, Delivery: dl.SK[len(webhooks.DeliveryPrefix):], Attempt: len(dl.Attempts) + 1}, wait, now)
	}
	return status, true, nil
}

// record appends attempt a to delivery dl if no other attempt was recorded since it
// was read, with the status it leads to (and the next attempt's time). It tells
// whether it was recorded.
func (d *Deliverer) record(ctx context.Context, ep webhooks.Item, dl webhooks.Delivery, a webhooks.Attempt, status string, wait time.Duration) (bool, error) {
	attempt, err := attributevalue.Marshal([]webhooks.Attempt{a})
	if err != nil {
		return false, err
	}
	upd := expression.Set(expression.Name("attempts"), expression.ListAppend(expression.Name("attempts"), expression.Value(attempt))).
		Set(expression.Name("status"), expression.Value(status))
	if status == webhooks.DeliveryPending {
		upd = upd.Set(expression.Name("nextAttemptAt"), expression.Value(d.now().Add(wait).UTC().Format(time.RFC3339Nano)))
	} else {
		upd = upd.Remove(expression.Name("nextAttemptAt"))
	}
	cond := expression.Size(expression.Name("attempts")).Equal(expression.Value(len(dl.Attempts)))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return false, err
	}
	_, err = d.Store.UpdateOne(ctx, built(webhooks.DeliveryKey(ep.ID, dl.SK[len(webhooks.DeliveryPrefix):]), expr))
	if errors.Is(err, store.ErrConditionFailed) {
		return false, nil
	}
	return err == nil, err
}

// built is the write of an update made with the SDK's expression builder.
func built(key store.Item, expr expression.Expression) store.Write {
	values := map[string]any{}
	for k, v := range expr.Values() {
		values[k] = v
	}
	e := store.Expr{Update: *expr.Update(), Names: expr.Names(), Values: values}
	if c := expr.Condition(); c != nil {
		e.Condition = *c
	}
	return store.Edit(key, e)
}

// health keeps the endpoint's run of failures: a success ends it; a failure starts
// it or, past DisableAfter (or at once on 410 Gone), disables the endpoint, records
// webhook-endpoint.disabled and tells the node's admins.
func (d *Deliverer) health(ctx context.Context, ep webhooks.Item, a webhooks.Attempt, o webhooks.Outcome) error {
	now := d.now()
	if o.OK {
		if ep.Attrs.FailingSince == "" && ep.Attrs.LastError == "" {
			return nil
		}
		return d.editAttrs(ctx, ep.ID, nil, []string{"failingSince", "lastError"}, nil)
	}
	lastErr := a.Error
	since := ep.Attrs.FailingSince
	if since == "" {
		since = nodes.Stamp(now)
	}
	reason := ""
	if o.Gone {
		reason = "it answered 410 Gone"
	} else if t, err := time.Parse(time.RFC3339, since); err == nil && now.Sub(t) >= d.DisableAfter {
		reason = "its deliveries failed for " + now.Sub(t).Round(time.Second).String()
	}
	if reason == "" {
		set := map[string]any{"lastError": lastErr}
		var cond *expression.ConditionBuilder
		if ep.Attrs.FailingSince == "" {
			set["failingSince"] = since
			c := expression.AttributeNotExists(expression.Name("attrs.failingSince"))
			cond = &c
		}
		err := d.editAttrs(ctx, ep.ID, set, nil, cond)
		if errors.Is(err, store.ErrConditionFailed) {
			return d.editAttrs(ctx, ep.ID, map[string]any{"lastError": lastErr}, nil, nil)
		}
		return err
	}
	return d.disable(ctx, ep, since, lastErr, reason)
}

// editAttrs sets and removes fields under attrs of endpoint id (no new version: the
// delivery health is not an edit of the endpoint).
func (d *Deliverer) editAttrs(ctx context.Context, id string, set map[string]any, remove []string, cond *expression.ConditionBuilder) error {
	var upd expression.UpdateBuilder
	for k, v := range set {
		upd = upd.Set(expression.Name("attrs."+k), expression.Value(v))
	}
	for _, k := range remove {
		upd = upd.Remove(expression.Name("attrs." + k))
	}
	exists := expression.AttributeExists(expression.Name("PK"))
	if cond != nil {
		exists = exists.And(*cond)
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(exists).Build()
	if err != nil {
		return err
	}
	_, err = d.Store.UpdateOne(ctx, built(webhooks.Key(id), expr))
	if errors.Is(err, store.ErrConditionFailed) && cond == nil {
		return nil // deleted meanwhile
	}
	return err
}

// disable makes ep disabled, with its change record, and emails its node's admins.
func (d *Deliverer) disable(ctx context.Context, ep webhooks.Item, since, lastErr, reason string) error {
	var cur webhooks.Item
	if err := d.Store.Get(ctx, webhooks.Key(ep.ID), &cur); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if cur.Status != webhooks.StatusActive {
		return nil // disabled by another attempt, or changed by its admins
	}
	now := d.now()
	after := cur
	after.Status = webhooks.StatusDisabled
	after.Attrs.FailingSince, after.Attrs.LastError, after.Attrs.DisabledAt = since, lastErr, nodes.Stamp(now)
	put, err := webhooks.Advance(cur, &after, now)
	if err != nil {
		return err
	}
	rec, err := audit.RecordBy(SystemActor, api.Meta{}, webhooks.Change("disabled", &cur, &after, map[string]any{"disabledBecause": reason}))
	if err != nil {
		return err
	}
	if err := d.Store.Transact(ctx, put, rec); err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			return nil // changed since read: its admins acted
		}
		return err
	}
	return d.tell(ctx, after, reason)
}

// tell emails the endpoint's node's active admins that it was disabled.
func (d *Deliverer) tell(ctx context.Context, ep webhooks.Item, reason string) error {
	node, err := nodes.Get(ctx, d.Store, ep.ParentID)
	if err != nil {
		return nil // the node is gone: no one to tell
	}
	ids, err := admins.Members(ctx, d.Store, ep.ParentID)
	if err != nil {
		return err
	}
	brand, err := mail.BrandingFor(ctx, d.Store, node.Node())
	if err != nil {
		return err
	}
	m, err := mail.Render(mail.TemplateWebhookDisabled, brand, mail.WebhookDisabled{
		NodeName: node.Name, EndpointID: ep.ID, URL: ep.Attrs.URL, Reason: reason,
		FailingSince: ep.Attrs.FailingSince, LastError: ep.Attrs.LastError,
	})
	if err != nil {
		return err
	}
	for start := 0; start < len(ids); start += store.MaxBatchGet {
		var keys []store.Item
		for _, id := range ids[start:min(start+store.MaxBatchGet, len(ids))] {
			keys = append(keys, identity.UserKey(id))
		}
		users, err := d.Store.BatchGet(ctx, keys)
		if err != nil {
			return err
		}
		for _, av := range users {
			var u identity.UserItem
			if err := attributevalue.UnmarshalMap(av, &u); err != nil || u.Email == "" || u.Role == tree.RoleEndUser {
				continue
			}
			msg := m
			msg.To = u.Email
			if err := d.Mail.Send(ctx, msg); err != nil {
				api.Log(ctx).WarnContext(ctx, "webhook disabled email not sent", "endpoint", ep.ID, "error", err.Error())
			}
		}
	}
	return nil
}

// verify sends endpoint j.EndpointID its challenge and activates it when it answers
// 2xx with {"challenge": "<the same string>"} within VerifyTimeout.
func (d *Deliverer) verify(ctx context.Context, j dispatch.Job) error {
	var ep webhooks.Item
	if err := d.Store.Get(ctx, webhooks.Key(j.EndpointID), &ep); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if ep.Status != webhooks.StatusPending {
		return nil // verified already, or disabled since
	}
	now := d.now()
	challenge := make([]byte, 24)
	rand.Read(challenge)
	want := base64.RawURLEncoding.EncodeToString(challenge)
	u := ulid.Make().String()
	body, err := json.Marshal(webhooks.Envelope{ID: webhooks.EventID(u), Type: webhooks.TypeVerification, Timestamp: now.UTC().Format(time.RFC3339),
		Data: map[string]string{"challenge": want, "endpointId": ep.ID}})
	if err != nil {
		return err
	}
	secrets, err := d.signingSecrets(ctx, ep, now)
	if err != nil {
		return err
	}
	a, o, got := d.post(ctx, ep.Attrs.URL, webhooks.EventID(u), body, secrets, VerifyTimeout)
	var answer struct {
		Challenge string `json:"challenge"`
	}
	problemText := ""
	switch {
	case a.Error != "" && a.StatusCode == 0:
		problemText = a.Error
	case !o.OK:
		problemText = fmt.Sprintf("answered HTTP %d, not 2xx", a.StatusCode)
	case json.Unmarshal(got, &answer) != nil || answer.Challenge != want:
		problemText = `answered 2xx without {"challenge": "<data.challenge>"}`
	}
	if problemText != "" {
		cond := expression.Name("version").Equal(expression.Value(ep.Version))
		err := d.editAttrs(ctx, ep.ID, map[string]any{"verificationError": problemText}, nil, &cond)
		if errors.Is(err, store.ErrConditionFailed) {
			return nil
		}
		return err
	}
	after := ep
	after.Status = webhooks.StatusActive
	after.Attrs.VerifiedAt, after.Attrs.VerificationError = nodes.Stamp(now), ""
	put, err := webhooks.Advance(ep, &after, now)
	if err != nil {
		return err
	}
	rec, err := audit.RecordBy(SystemActor, api.Meta{}, webhooks.Change("verified", &ep, &after, nil))
	if err != nil {
		return err
	}
	if err := d.Store.Transact(ctx, put, rec); err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			return nil // changed since read
		}
		return err
	}
	return nil
}

// recoverBudget is the time a recovery job leaves itself before the function's
// deadline: then it queues itself to carry on.
const recoverBudget = 2 * AttemptTimeout

// recover re-sends the endpoint's failed deliveries of [Since, Until] oldest first,
// one after another (the original order), and queues itself to go on from the last
// one when the function's time runs short.
func (d *Deliverer) recover(ctx context.Context, j dispatch.Job) error {
	var ep webhooks.Item
	if err := d.Store.Get(ctx, webhooks.Key(j.EndpointID), &ep); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if ep.Status != webhooks.StatusActive {
		return nil
	}
	since, err1 := time.Parse(time.RFC3339Nano, j.Since)
	until, err2 := time.Parse(time.RFC3339Nano, j.Until)
	if err1 != nil || err2 != nil {
		return nil
	}
	lo := webhooks.DeliveryPrefix + ulidAt(since, false)
	if j.After != "" {
		lo = j.After + "\x00"
	}
	if keep := webhooks.OldestKept(d.now()); lo < keep {
		lo = keep
	}
	hi := webhooks.DeliveryPrefix + ulidAt(until, true)
	key := expression.Key("PK").Equal(expression.Value(webhooks.PK(ep.ID))).And(expression.Key("SK").Between(expression.Value(lo), expression.Value(hi)))
	filter := expression.Name("status").Equal(expression.Value(webhooks.DeliveryFailed))
	expr, err := expression.NewBuilder().WithKeyCondition(key).WithFilter(filter).Build()
	if err != nil {
		return err
	}
	in := dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	last := ""
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < recoverBudget && last != "" {
			j.After = last
			return d.Jobs.Send(ctx, j, 0, d.now())
		}
		page, err := d.Store.QueryOnce(ctx, in)
		if err != nil {
			return err
		}
		for _, av := range page.Items {
			var dl webhooks.Delivery
			if err := attributevalue.UnmarshalMap(av, &dl); err != nil {
				return err
			}
			if _, _, err := d.attempt(ctx, ep, dl, true); err != nil {
				return err
			}
			last = dl.SK
			if dlt, ok := ctx.Deadline(); ok && time.Until(dlt) < recoverBudget {
				j.After = last
				return d.Jobs.Send(ctx, j, 0, d.now())
			}
		}
		if page.Next == nil {
			return nil
		}
		in.ExclusiveStartKey = page.Next
	}
}

// ulidAt is the smallest (or, with high, the largest) ULID of time t's millisecond.
func ulidAt(t time.Time, high bool) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t))
	if high {
		for i := 6; i < 16; i++ {
			u[i] = 0xff
		}
	}
	return u.String()
}
