// Package auditsign makes the audit digests (shared/auditdigest) and signs them with
// the KMS key, and serves that key's public half: the only code that links the KMS
// client for them, so that the exporter and the digests list do not.
package auditsign

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/auditdigest"
	"opsconsole/shared/store"
)

// Signer is the part of the KMS client the maker uses.
type Signer interface {
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
}

// Maker is the scheduled audit-digest-maker function: each run closes the periods
// that ended at least Grace ago, oldest first, and for each makes the digest of every
// node that had entries arrive in it (the writer's markers say which).
type Maker struct {
	Store  *store.Store
	KMS    Signer
	KeyID  string
	Period time.Duration
	// Grace is how long after a period's end the maker waits before closing it: the
	// writer stamps an entry's arrival just before putting it, and the put lands
	// within the writer's timeout. 0 means Grace(Period).
	Grace time.Duration
	// CatchUp bounds the periods one run closes (after an outage, or on the first run,
	// which starts that many periods back); 0 means 48.
	CatchUp int
	Now     func() time.Time
}

// GraceFor is the default wait after a period: a tenth of it, at most 2 minutes
// (twice the audit writer's 60 s timeout).
func GraceFor(period time.Duration) time.Duration { return min(period/10, 2*time.Minute) }

// stateKey holds the last period the maker closed.
var stateKey = store.Key("AUDITDIGEST", "STATE")

type state struct {
	PK            string `dynamodbav:"PK"`
	SK            string `dynamodbav:"SK"`
	ClosedThrough string `dynamodbav:"closedThrough"`
}

// Handle is the function's handler for the schedule's events. Anything else (a test
// invocation from the console with its sample payload, the cold-start benchmark's
// event) is logged and left: the function is wired to one EventBridge schedule, and
// an operator who wants a run now sends what the schedule sends (IsScheduled;
// docs/operations.md).
func (m *Maker) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	if !IsScheduled(ev) {
		api.Log(ctx).WarnContext(ctx, "not a scheduled event; no digest made", "source", ev.Source, "detailType", ev.DetailType)
		return nil
	}
	_, err := m.Run(ctx)
	return err
}

// IsScheduled tells an EventBridge schedule's event (source aws.events, detail-type
// "Scheduled Event") from any other payload.
func IsScheduled(ev events.EventBridgeEvent) bool {
	return ev.Source == "aws.events" && ev.DetailType == "Scheduled Event"
}

// Run closes every period due, and answers the digests it made.
func (m *Maker) Run(ctx context.Context) (int, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	grace := m.Grace
	if grace <= 0 {
		grace = GraceFor(m.Period)
	}
	catchUp := m.CatchUp
	if catchUp <= 0 {
		catchUp = 48
	}
	last := audit.PeriodStart(now().Add(-grace-m.Period), m.Period)
	next := last.Add(-time.Duration(catchUp-1) * m.Period)
	var st state
	switch err := m.Store.Get(ctx, stateKey, &st); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return 0, err
	default:
		if t, err := time.Parse(audit.TimeFormat, st.ClosedThrough); err == nil && t.Add(m.Period).After(next) {
			next = t.Add(m.Period)
		}
	}
	made := 0
	for p := next; !p.After(last); p = p.Add(m.Period) {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < 10*time.Second {
			break // the next run goes on from here
		}
		n, err := m.Close(ctx, p)
		made += n
		if err != nil {
			return made, err
		}
		if err := m.Store.PutIf(ctx, state{PK: "AUDITDIGEST", SK: "STATE", ClosedThrough: p.Format(audit.TimeFormat)}, nil); err != nil {
			return made, err
		}
	}
	if made > 0 {
		api.Log(ctx).InfoContext(ctx, "audit digests made", "digests", made, "through", last.Format(audit.TimeFormat))
	}
	return made, nil
}

// Close makes the digests of period p: one for every node that had entries arrive in
// it (the writer's markers). It answers the digests it made (those made before are
// left as they are).
func (m *Maker) Close(ctx context.Context, p time.Time) (int, error) {
	nodes, err := audit.ActiveNodes(ctx, m.Store, p)
	if err != nil {
		return 0, err
	}
	made := 0
	for _, n := range nodes {
		ok, err := m.make(ctx, n, p)
		if err != nil {
			return made, fmt.Errorf("digest of %s %s: %w", n, p.Format(audit.TimeFormat), err)
		}
		if ok {
			made++
		}
	}
	return made, nil
}

// make writes the digest of node's period p, unless it exists or no entry arrived.
func (m *Maker) make(ctx context.Context, node string, p time.Time) (bool, error) {
	items, err := audit.ArrivedIn(ctx, m.Store, node, p, m.Period)
	if err != nil || len(items) == 0 {
		return false, err
	}
	entries := make([]audit.Entry, len(items))
	for i, it := range items {
		if entries[i], err = audit.DecodeEntry(it); err != nil {
			return false, err
		}
	}
	tree, err := auditdigest.NewTree(entries)
	if err != nil {
		return false, err
	}
	d := auditdigest.Digest{
		NodeID: node, PeriodStart: p.Format(audit.TimeFormat), PeriodEnd: p.Add(m.Period).Format(audit.TimeFormat),
		Count: len(entries), FirstAt: entries[0].At, LastAt: entries[len(entries)-1].At,
		Root: tree.Root(), SigningAlgorithm: auditdigest.SigningAlgorithm,
	}
	prev, err := m.previous(ctx, node, d.PeriodStart)
	if err != nil {
		return false, err
	}
	if prev != nil {
		h := prev.Hash()
		d.PreviousPeriodStart, d.PreviousHash = &prev.PeriodStart, &h
	}
	out, err := m.KMS.Sign(ctx, &kms.SignInput{
		KeyId: aws.String(m.KeyID), Message: d.Message(),
		MessageType: kmstypes.MessageTypeRaw, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return false, fmt.Errorf("sign: %w", err)
	}
	d.KeyID, d.Signature = aws.ToString(out.KeyId), base64.StdEncoding.EncodeToString(out.Signature)
	err = m.Store.PutIf(ctx, auditdigest.Stored(d), store.NotExists())
	if errors.Is(err, store.ErrConditionFailed) {
		// Made by an earlier run that stopped before recording its progress.
		return false, nil
	}
	return err == nil, err
}

// previous is node's newest digest before period start, nil for none.
func (m *Maker) previous(ctx context.Context, node, start string) (*auditdigest.Digest, error) {
	return auditdigest.Previous(ctx, m.Store, node, start)
}
