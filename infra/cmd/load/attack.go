package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// attack runs the mix with exactly workers clients for d and reports what it measured.
//
// The pacer is vegeta's rate 0 (as fast as the clients go) with Workers and MaxWorkers
// both set to workers: each worker sends its next request when its previous answer has
// come, so there are always exactly that many requests in flight, a closed loop of
// concurrent clients, and the throughput is what the system sustains at that
// concurrency. A constant-rate pacer would need a rate chosen in advance and, on a
// shared 2-core machine, would either idle below capacity or queue past it (and grow
// workers beyond the clients asked for).
func (l *load) attack(ctx context.Context, base string, workers uint64, d time.Duration) *report {
	atk := vegeta.NewAttacker(
		vegeta.Workers(workers), vegeta.MaxWorkers(workers),
		vegeta.Connections(int(workers)), vegeta.KeepAlive(true),
		vegeta.Timeout(30*time.Second),
	)
	rep := &report{workers: workers, duration: d, byOp: map[string]*vegeta.Metrics{}, failed: map[string]int{}}
	parents := l.parents()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-done:
		}
	}()
	for r := range atk.Attack(l.targeter(base), vegeta.Rate{Freq: 0}, d, "load") {
		l.observe(r, parents)
		rep.add(r)
	}
	rep.close()
	return rep
}

// report is what the attack measured: in all and per operation.
type report struct {
	workers  uint64
	duration time.Duration
	total    vegeta.Metrics
	byOp     map[string]*vegeta.Metrics
	// failed counts the answers that are not 2xx by operation and status ("0" when
	// there was no answer), and errors keeps a few transport errors.
	failed map[string]int
	errors []string
}

func (r *report) add(res *vegeta.Result) {
	r.total.Add(res)
	op := label(res.Method, res.URL)
	m := r.byOp[op]
	if m == nil {
		m = &vegeta.Metrics{}
		r.byOp[op] = m
	}
	m.Add(res)
	if res.Code < 200 || res.Code > 299 {
		r.failed[op+" → "+strconv.Itoa(int(res.Code))]++
		if res.Code == 0 && len(r.errors) < 10 {
			r.errors = append(r.errors, res.Error)
		}
	}
}

func (r *report) close() {
	r.total.Close()
	for _, m := range r.byOp {
		m.Close()
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (r *report) print(w io.Writer) {
	t := &r.total
	fmt.Fprintf(w, "\n%d requests from %d clients in %s: %.1f req/s (successful %.1f req/s)\n",
		t.Requests, r.workers, t.Duration.Round(time.Millisecond), t.Rate, t.Throughput)
	fmt.Fprintf(w, "latency p50 %s, p90 %s, p99 %s, max %s\n",
		ms(t.Latencies.P50), ms(t.Latencies.P90), ms(t.Latencies.P99), ms(t.Latencies.Max))
	codes := slices.Sorted(maps.Keys(t.StatusCodes))
	fmt.Fprint(w, "status codes:")
	for _, c := range codes {
		fmt.Fprintf(w, " %s ×%d", c, t.StatusCodes[c])
	}
	fmt.Fprintf(w, "\nerrors (non-2xx or no answer): %d\n\n", r.errorCount())
	fmt.Fprintf(w, "%-40s %7s %10s %10s %10s\n", "operation", "count", "p50", "p90", "p99")
	for _, op := range slices.Sorted(maps.Keys(r.byOp)) {
		m := r.byOp[op]
		fmt.Fprintf(w, "%-40s %7d %10s %10s %10s\n", op, m.Requests, ms(m.Latencies.P50), ms(m.Latencies.P90), ms(m.Latencies.P99))
	}
	fmt.Fprintln(w)
}

func (r *report) errorCount() int {
	n := 0
	for _, c := range r.failed {
		n += c
	}
	return n
}

// statusCheck passes when every request was answered 2xx: the mix is made so that
// every request succeeds, so a 4xx is the load or the API losing track (a 412, a name
// taken) and a 5xx or no answer is a failure under load.
func (r *report) statusCheck() checkResult {
	c := checkResult{name: "every request answered 2xx (no 5xx, no transport error)", checked: int(r.total.Requests)}
	for _, k := range slices.Sorted(maps.Keys(r.failed)) {
		c.fail("%s: %d", k, r.failed[k])
	}
	for _, e := range r.errors {
		c.fail("transport error: %s", e)
	}
	return c
}
