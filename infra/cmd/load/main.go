// Command load drives the whole local system with vegeta (`make load`) and then checks
// that nothing was lost under load.
//
// It starts its own local system on free ports (logs in $TMPDIR/opsconsole-load.log),
// seeds three branches (distributor → partner → organization → company, with a few end
// users) and, in each, a partner admin, an organization admin and a company admin, who
// sign in through POST /v1/auth/login. Then 50 clients (LOAD_WORKERS) send, for 60 s
// (LOAD_DURATION), a mix of lists, gets, creates with unique names and PATCHes with
// If-Match as those nine users. Afterwards, once the stream consumers have settled
// (polled, bounded), it checks that every 201 is readable at its latest version, that
// every parent's children counters (the transactional one and the stream's counts by
// kind and status) equal what its list shows and what the load created, that every
// create and every update has its audit entry, and that every answer was a 2xx (so no
// 5xx and no transport error). It prints throughput, latency percentiles and status
// counts, and exits 1 when a check fails.
//
// It is a command rather than a test so that `go test ./...` never runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"opsconsole/infra/local/localtest"
)

const (
	adminEmail    = "load-admin@example.com"
	adminPassword = "Admin-Passw0rd-Load"
	userPassword  = "User-Passw0rd-Load"
	branches      = 3
)

// config is what the environment sets.
type config struct {
	duration time.Duration // LOAD_DURATION, a Go duration; 60s
	workers  uint64        // LOAD_WORKERS, the concurrent clients; 50
	logPath  string        // LOAD_LOG; $TMPDIR/opsconsole-load.log
}

// Bounds keep a mistyped variable from turning the run into a long or runaway one on a
// shared machine.
const (
	maxDuration = 10 * time.Minute
	maxWorkers  = 200
)

func loadConfig() (config, error) {
	c := config{duration: 60 * time.Second, workers: 50, logPath: filepath.Join(os.TempDir(), "opsconsole-load.log")}
	if v := os.Getenv("LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxDuration {
			return c, fmt.Errorf("LOAD_DURATION=%q: want a duration in (0, %s]", v, maxDuration)
		}
		c.duration = d
	}
	if v := os.Getenv("LOAD_WORKERS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 || n > maxWorkers {
			return c, fmt.Errorf("LOAD_WORKERS=%q: want 1 to %d", v, maxWorkers)
		}
		c.workers = n
	}
	if v := os.Getenv("LOAD_LOG"); v != "" {
		c.logPath = v
	}
	return c, nil
}

func main() {
	ok, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "load: FAILED")
		os.Exit(1)
	}
	fmt.Println("load: all checks passed")
}

// run returns whether every check passed; an error is a run that could not be made.
func run() (bool, error) {
	cfg, err := loadConfig()
	if err != nil {
		return false, err
	}
	if msg := localtest.Missing(); msg != "" {
		return false, errors.New(msg)
	}
	// The whole run is bounded: start, seed, attack, settle and checks. Ctrl-C ends the
	// attack early and the run with it, stopping the system it started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.duration+10*time.Minute)
	defer cancel()

	logFile, err := os.Create(cfg.logPath)
	if err != nil {
		return false, err
	}
	defer logFile.Close()
	fmt.Println("load: logs in", logFile.Name())
	sys, err := localtest.StartSystem(ctx, slog.New(slog.NewJSONHandler(logFile, nil)), adminEmail, adminPassword)
	if err != nil {
		return false, fmt.Errorf("start the local system: %w", err)
	}
	defer sys.Stop()
	fmt.Printf("load: local system started in %s at %s\n", sys.Took.Round(time.Millisecond), sys.APIURL)

	api := newClient(sys.APIURL)
	l, err := seed(ctx, api, sys)
	if err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	// The machine is shared: its load when the attack starts says how far the figures
	// can be trusted.
	if avg, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load: %d CPUs, load average %s\n", runtime.NumCPU(), strings.Join(strings.Fields(string(avg))[:3], " "))
	}
	fmt.Printf("load: seeded %d branches, %d users; attacking with %d workers for %s\n",
		len(l.branches), len(l.branches)*len(roles), cfg.workers, cfg.duration)
	rep := l.attack(ctx, sys.APIURL, cfg.workers, cfg.duration)
	rep.print(os.Stdout)
	if ctx.Err() != nil {
		return false, errors.New("interrupted")
	}
	fmt.Println("load: checking (waiting for the stream consumers, bounded)")
	began := time.Now()
	checks := l.check(ctx, api, sys.Store)
	fmt.Printf("load: checks took %s\n", time.Since(began).Round(100*time.Millisecond))
	checks = append([]checkResult{rep.statusCheck()}, checks...)
	ok := true
	for _, c := range checks {
		c.print(os.Stdout)
		ok = ok && c.ok()
	}
	return ok, nil
}
