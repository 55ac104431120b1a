package auditexport

import (
	"context"
	"errors"
	"time"

	"opsconsole/shared/audit"
	"opsconsole/shared/auditdigest"
	"opsconsole/shared/store"
)

// prover finds each exported entry's inclusion proof: the tree of the digest of its
// arrival period, rebuilt from that period's entries (audit.ArrivedIn) the first time
// an entry of the period comes, kept for the entries after it. An export's entries
// come in time order and arrive, but for late ones, in their time's period, so a few
// trees are enough at once.
type prover struct {
	store    *store.Store
	node     string
	period   time.Duration
	filtered bool
	trees    map[string]*auditdigest.Tree // by period start; nil: no digest yet
}

// maxTrees bounds the trees kept; past it they are dropped and rebuilt if needed.
const maxTrees = 8

func newProver(st *store.Store, node string, period time.Duration, filters map[string]string) *prover {
	p := &prover{store: st, node: node, period: period, trees: map[string]*auditdigest.Tree{}}
	for _, f := range []string{"targetId", "action", "targetType", "actorId"} {
		if filters[f] != "" {
			p.filtered = true
		}
	}
	return p
}

// proof is the proof of the entry e read as item it, nil when its period has no
// digest yet (the export was made before the maker closed it).
func (p *prover) proof(ctx context.Context, it store.Item, e audit.Entry) (*auditdigest.Proof, error) {
	arrived, err := time.Parse(audit.TimeFormat, audit.ArrivalOf(it))
	if err != nil {
		return nil, nil
	}
	start := audit.PeriodStart(arrived, p.period)
	key := start.Format(audit.TimeFormat)
	t, loaded := p.trees[key]
	if !loaded {
		if t, err = p.load(ctx, start); err != nil {
			return nil, err
		}
		if len(p.trees) >= maxTrees {
			clear(p.trees)
		}
		p.trees[key] = t
	}
	if t == nil {
		return nil, nil
	}
	pr, ok := t.ProofOf(e.ID, key)
	if !ok {
		return nil, nil
	}
	pr.Filtered = p.filtered
	return &pr, nil
}

// load rebuilds the tree of period start, nil when the period has no digest.
func (p *prover) load(ctx context.Context, start time.Time) (*auditdigest.Tree, error) {
	if _, err := auditdigest.Get(ctx, p.store, p.node, start.Format(audit.TimeFormat)); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	items, err := audit.ArrivedIn(ctx, p.store, p.node, start, p.period)
	if err != nil {
		return nil, err
	}
	entries := make([]audit.Entry, len(items))
	for i, it := range items {
		if entries[i], err = audit.DecodeEntry(it); err != nil {
			return nil, err
		}
	}
	t, err := auditdigest.NewTree(entries)
	return &t, err
}
