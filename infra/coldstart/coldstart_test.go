package coldstart

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkColdStart builds every function and floor, makes COLDSTART_ROUNDS (20)
// rounds of interleaved cold starts under RIE (each function beside its floor: see
// Harness.Run), warm and evicted, and prints the table of docs/measurements.md, also
// written to .cache/coldstart/report.md. It measures once
// whatever b.N is: one run takes minutes, and the figures are the table, not ns/op.
// COLDSTART_FUNCTIONS (a regular expression) limits the functions measured; the floors
// always run. It skips when RIE is not installed (infra/install.sh rie).
func BenchmarkColdStart(b *testing.B) {
	// The testing package calls a benchmark again with a larger b.N when a run was
	// short; the measurement is made once and its metrics reported each time.
	measureOnce.Do(func() { measured = measure(b) })
	if measured == nil {
		b.SkipNow()
	}
	for name, v := range measured {
		b.ReportMetric(v, name)
	}
}

var (
	measureOnce sync.Once
	measured    map[string]float64 // the metrics of the one measurement; nil when skipped or failed
)

func measure(b *testing.B) map[string]float64 {
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	rie := os.Getenv("COLDSTART_RIE")
	if rie == "" {
		rie = filepath.Join(root, ".cache/rie/bin/aws-lambda-rie")
	}
	if _, err := os.Stat(rie); err != nil {
		msg := fmt.Sprintf("BenchmarkColdStart skipped: the Lambda Runtime Interface Emulator is not installed (%s): run `bash infra/install.sh rie` (make coldstart does)", rie)
		fmt.Fprintln(os.Stderr, msg) // go test shows a benchmark's skip only with -v
		b.Skip(msg)
	}
	rounds := 20
	if v := os.Getenv("COLDSTART_ROUNDS"); v != "" {
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 {
			b.Fatalf("COLDSTART_ROUNDS=%q is not a positive number", v)
		}
	}
	h := &Harness{Root: root, RIE: rie, Out: filepath.Join(root, ".cache/coldstart"), Log: os.Stderr}
	if v := os.Getenv("COLDSTART_FUNCTIONS"); v != "" {
		if h.Filter, err = regexp.Compile(v); err != nil {
			b.Fatalf("COLDSTART_FUNCTIONS: %v", err)
		}
	}
	t0 := time.Now()
	for _, step := range []func() error{h.Discover, func() error { return h.Build(runtime.GOARCH) }, h.AssignFloors, h.Start} {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	defer h.Close()
	done, err := h.Run(rounds, deadline(t0))
	if err != nil {
		b.Fatal(err)
	}
	rows := h.Rows()
	var sb strings.Builder
	fmt.Fprintf(&sb, "Cold starts under RIE, %d rounds (of %d asked) of %d targets, warm and evicted page cache, each function started beside its floor and its ratios taken to those starts of the floor, %s, %d CPUs, %s; init in ms (RIE's INIT REPORT), zip of the linux/%s bootstrap in kB (1000 bytes). After each eviction at most %.1f%% of a binary's pages stayed resident (mincore). Requests that reached the AWS stand-in: %d. Starts made again after a failure: %d.\n\n",
		done, rounds, len(h.Targets), time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version(), ZipArch, 100*h.MaxResidentAfterEviction(), h.AWSCalls(), h.Retries())
	Markdown(&sb, rows)
	metrics := map[string]float64{}
	pass, fns, worst := 0, 0, Row{}
	for _, r := range rows {
		if r.T.IsFloor {
			metrics["ms-init-"+r.T.Name] = r.Median
			continue
		}
		fns++
		if r.Pass {
			pass++
		}
		if r.InitRatio > worst.InitRatio {
			worst = r
		}
	}
	fmt.Fprintf(&sb, "\n%d of %d functions meet the targets (median init ≤ %.2f × the floor's, zip ≤ %.1f × the floor's); the worst init ratio: %s, %.2f. Took %.0f s.\n",
		pass, fns, InitTarget, ZipTarget, nameOf(worst), worst.InitRatio, time.Since(t0).Seconds())
	fmt.Print("\n" + sb.String())
	if err := os.WriteFile(filepath.Join(h.Out, "report.md"), []byte(sb.String()), 0o644); err != nil {
		b.Error(err)
	}
	metrics["functions-meeting-target"] = float64(pass)
	metrics["worst-init-ratio"] = worst.InitRatio
	if h.AWSCalls() != 0 {
		b.Errorf("%d requests reached the AWS stand-in: some function calls AWS at init or for the benchmark's event", h.AWSCalls())
	}
	return metrics
}

func nameOf(r Row) string {
	if r.T == nil {
		return "none"
	}
	return r.T.Name
}

// deadline leaves the report a minute before go test's -timeout (10 minutes unless
// set, as under make bench) would kill the run; zero when there is no timeout.
func deadline(start time.Time) time.Time {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return time.Time{}
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil || d <= 0 {
		return time.Time{}
	}
	return start.Add(d - time.Minute)
}
