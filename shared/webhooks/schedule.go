package webhooks

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultSchedule is the waits before each retry (about three days in all), the
// template parameter WebhookRetrySchedule's default.
const DefaultSchedule = "5s,5m,30m,2h,5h,10h,10h,14h,20h,24h"

// DefaultDisableAfter is how long an endpoint may fail before it is disabled, the
// template parameter WebhookDisableAfter's default.
const DefaultDisableAfter = "5d"

// ParseSchedule reads a comma-separated list of waits (Go durations: 5s, 30m, 2h).
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("retry schedule %q: %w", s, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %s is not a positive wait", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}

// ParseDuration is time.ParseDuration with whole days too ("5d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// SettingsFromEnv reads WEBHOOK_RETRY_SCHEDULE and WEBHOOK_DISABLE_AFTER (the
// defaults when unset).
func SettingsFromEnv() ([]time.Duration, time.Duration, error) {
	sched := os.Getenv("WEBHOOK_RETRY_SCHEDULE")
	if sched == "" {
		sched = DefaultSchedule
	}
	steps, err := ParseSchedule(sched)
	if err != nil {
		return nil, 0, err
	}
	after := os.Getenv("WEBHOOK_DISABLE_AFTER")
	if after == "" {
		after = DefaultDisableAfter
	}
	d, err := ParseDuration(after)
	if err != nil || d <= 0 {
		return nil, 0, fmt.Errorf("WEBHOOK_DISABLE_AFTER=%q is not a positive duration", after)
	}
	return steps, d, nil
}

// Outcome is what one attempt came to.
type Outcome struct {
	// OK is a 2xx answer; Gone a 410, which disables the endpoint at once.
	OK, Gone bool
	// RetryAfter is a 429's or 503's Retry-After (0 when absent).
	RetryAfter time.Duration
}

// Next decides what follows attempt number n (0 for the first) of a delivery that
// came to o, under schedule: the delivery's status and, when pending, the wait
// before the next attempt. A manual attempt (redelivery, recovery) has no sequel.
// jitter is a number in [0, 1) that spreads the waits by ±10%.
func Next(n int, o Outcome, schedule []time.Duration, manual bool, jitter float64) (string, time.Duration) {
	switch {
	case o.OK:
		return DeliverySucceeded, 0
	case o.Gone, manual, n >= len(schedule):
		return DeliveryFailed, 0
	}
	step := schedule[n]
	wait := time.Duration(float64(step) * (0.9 + 0.2*jitter))
	if o.RetryAfter > 0 {
		// The receiver's wish, within the step and twice it.
		wait = min(max(o.RetryAfter, step), 2*step)
	}
	return DeliveryPending, wait
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date) at now.
func RetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Jitter is the random spread of the waits.
func Jitter() float64 { return rand.Float64() }
