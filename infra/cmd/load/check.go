package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"opsconsole/shared/counts"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
)

// settle bounds how long the checks wait for the stream consumers (tree-counter,
// audit-writer) and the indexes to catch up with the attack.
const settle = 90 * time.Second

// checkers is how many requests the checks make at once: enough to be quick, few
// enough not to be a second load.
const checkers = 8

// checkResult is one check's outcome.
type checkResult struct {
	name     string
	checked  int
	failures []string
	failed   int
}

func (c *checkResult) fail(format string, args ...any) {
	c.failed++
	if len(c.failures) < 20 {
		c.failures = append(c.failures, fmt.Sprintf(format, args...))
	}
}

func (c checkResult) ok() bool { return c.failed == 0 }

func (c checkResult) print(w io.Writer) {
	if c.ok() {
		fmt.Fprintf(w, "PASS %s (%d checked)\n", c.name, c.checked)
		return
	}
	fmt.Fprintf(w, "FAIL %s: %d of %d\n", c.name, c.failed, c.checked)
	for _, f := range c.failures {
		fmt.Fprintln(w, "     ", f)
	}
	if c.failed > len(c.failures) {
		fmt.Fprintln(w, "      …")
	}
}

// parallel runs f on every item, checkers at a time.
func parallel[T any](items []T, f func(T)) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range checkers {
		wg.Go(func() {
			for it := range ch {
				f(it)
			}
		})
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
}

// check runs the checks after the attack. The attack is over, so the load's state is
// read without its lock.
func (l *load) check(ctx context.Context, api *client, st *store.Store) []checkResult {
	all := slices.Collect(maps.Values(l.things))
	slices.SortFunc(all, func(a, b *thing) int { return cmp.Compare(a.id, b.id) })

	consistent := checkResult{name: "answers consistent during the attack (Location, versions)", checked: len(all)}
	for _, p := range l.problems {
		consistent.fail("%s", p)
	}
	// The checks below say little if the attack did not create and update every kind.
	created, updated := map[*kind]int{}, map[*kind]int{}
	for _, t := range all {
		if !t.seeded {
			created[t.kind]++
		}
		updated[t.kind] += t.updates
	}
	for _, k := range kinds {
		if created[k] == 0 || updated[k] == 0 {
			consistent.fail("the attack created %d and updated %d times %s: too short to check them", created[k], updated[k], k.resource)
		}
	}
	fmt.Printf("load: the attack created %d organizations, %d companies, %d end users (%d things seeded before it)\n",
		created[organizations], created[companies], created[endUsers], len(all)-created[organizations]-created[companies]-created[endUsers])
	return []checkResult{consistent, l.checkCounters(ctx, api, st), l.checkReadable(ctx, api, all), l.checkAudited(ctx, api, all)}
}

// checkReadable reads every thing as its owner: 200, at the version the load last saw.
func (l *load) checkReadable(ctx context.Context, api *client, all []*thing) checkResult {
	c := checkResult{name: "every 201 readable (GET 200) at its latest version", checked: len(all)}
	var mu sync.Mutex
	parallel(all, func(t *thing) {
		var v view
		a, err := api.json(ctx, http.MethodGet, "/v1/"+t.kind.resource+"/"+t.id, l.branches[t.branch].tokens[t.kind.owner], nil, http.StatusOK, &v)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			c.fail("%v", err)
		case !t.uncertain && (v.Version != t.version || a.header.Get("ETag") != fmt.Sprintf("%q", fmt.Sprint(t.version))):
			c.fail("%s: version %d (ETag %s), the load last saw %d", t.id, v.Version, a.header.Get("ETag"), t.version)
		}
	})
	return c
}

// parentCheck is one parent's children as the load made them.
type parentCheck struct {
	id    string
	kind  *kind // of its children
	token string
	want  map[string]bool
}

// checkCounters compares, for every parent the load created under, four numbers that
// must be equal once the stream has been consumed: the children the load created
// (with the seeded ones), the children its list shows (the same ids), the node's
// transactional children counter, and the tree-counter's counts by kind and status
// (against the statuses the list shows). It polls until they agree or settle passes.
func (l *load) checkCounters(ctx context.Context, api *client, st *store.Store) checkResult {
	var parents []parentCheck
	for _, b := range l.branches {
		for _, p := range []parentCheck{{id: b.partner, kind: organizations}, {id: b.organization, kind: companies}, {id: b.cmp, kind: endUsers}} {
			p.token, p.want = b.tokens[p.kind.owner], map[string]bool{}
			for _, t := range l.things {
				if t.parent == p.id {
					p.want[t.id] = true
				}
			}
			parents = append(parents, p)
		}
	}
	c := checkResult{name: "every parent's counters exact (created = listed = children = counts by status)", checked: len(parents)}
	began := time.Now()
	deadline := began.Add(settle)
	for {
		var failures []string
		for _, p := range parents {
			if err := p.compare(ctx, api, st); err != nil {
				failures = append(failures, err.Error())
			}
		}
		if len(failures) == 0 {
			c.name += fmt.Sprintf(", agreeing %s after the attack", time.Since(began).Round(100*time.Millisecond))
			return c
		}
		if time.Now().After(deadline) {
			for _, f := range failures {
				c.fail("%s", f)
			}
			return c
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (p parentCheck) compare(ctx context.Context, api *client, st *store.Store) error {
	items, err := api.all(ctx, "/v1/"+p.kind.resource+"?limit=100&"+p.kind.parentField+"="+p.id, p.token)
	if err != nil {
		return err
	}
	listed, byStatus := map[string]bool{}, map[string]int{}
	for _, raw := range items {
		var n struct{ ID, Status string }
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		listed[n.ID] = true
		byStatus[n.Status]++
	}
	if !maps.Equal(listed, p.want) {
		return fmt.Errorf("%s: lists %d %s, the load created %d (or other ids)", p.id, len(listed), p.kind.resource, len(p.want))
	}
	node, err := nodes.Get(ctx, st, p.id)
	if err != nil {
		return err
	}
	if node.Children != len(p.want) {
		return fmt.Errorf("%s: children counter %d, created %d", p.id, node.Children, len(p.want))
	}
	got, err := counts.Get(ctx, st, p.id)
	if err != nil {
		return err
	}
	if want := (counts.Counts{string(p.kind.Kind): byStatus}); !maps.EqualFunc(got, want, maps.Equal) {
		return fmt.Errorf("%s: counts %v, listed %v", p.id, got, want)
	}
	return nil
}

// checkAudited reads every thing's history as the platform admin: one created entry,
// and one updated entry per 200 of a PATCH. Things whose history is not complete yet
// are read again until settle passes.
func (l *load) checkAudited(ctx context.Context, api *client, all []*thing) checkResult {
	updates := 0
	for _, t := range all {
		updates += t.updates
	}
	c := checkResult{name: fmt.Sprintf("every change audited (%d creates, %d updates)", len(all), updates), checked: len(all)}
	deadline := time.Now().Add(settle)
	todo := all
	for {
		var mu sync.Mutex
		var next []*thing
		var failures []string
		parallel(todo, func(t *thing) {
			err := l.audited(ctx, api, t)
			if err != nil {
				mu.Lock()
				next, failures = append(next, t), append(failures, err.Error())
				mu.Unlock()
			}
		})
		if len(next) == 0 {
			return c
		}
		if time.Now().After(deadline) {
			slices.Sort(failures)
			for _, f := range failures {
				c.fail("%s", f)
			}
			return c
		}
		todo = next
		time.Sleep(500 * time.Millisecond)
	}
}

func (l *load) audited(ctx context.Context, api *client, t *thing) error {
	items, err := api.all(ctx, "/v1/audit-logs?limit=100&targetId="+t.id, l.admin)
	if err != nil {
		return err
	}
	actions := map[string]int{}
	for _, raw := range items {
		var e struct{ Action string }
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		actions[e.Action]++
	}
	created, updated := actions[string(t.kind.Kind)+".created"], actions[string(t.kind.Kind)+".updated"]
	if created != 1 || updated != t.updates && !(t.uncertain && updated >= t.updates) {
		return fmt.Errorf("%s: audit shows %v, want 1 created and %d updated", t.id, actions, t.updates)
	}
	return nil
}
