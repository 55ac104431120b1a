package webhooks

import (
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	s, err := ParseSchedule(DefaultSchedule)
	if err != nil || len(s) != 10 || s[0] != 5*time.Second || s[9] != 24*time.Hour {
		t.Fatalf("%v %v", s, err)
	}
	var total time.Duration
	for _, d := range s {
		total += d
	}
	if total < 70*time.Hour || total > 90*time.Hour {
		t.Errorf("the default schedule spans %s, not about three days", total)
	}
	for _, bad := range []string{"", "5s,,1m", "x", "-1s", "0s"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if d, _ := ParseDuration("5d"); d != 120*time.Hour {
		t.Errorf("5d = %s", d)
	}
}

func TestNext(t *testing.T) {
	sched := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	cases := []struct {
		name   string
		n      int
		o      Outcome
		manual bool
		jitter float64
		status string
		min    time.Duration
		max    time.Duration
	}{
		{"success", 0, Outcome{OK: true}, false, 0.5, DeliverySucceeded, 0, 0},
		{"410 ends it", 0, Outcome{Gone: true}, false, 0.5, DeliveryFailed, 0, 0},
		{"first failure waits the first step", 0, Outcome{}, false, 0.5, DeliveryPending, 5 * time.Second, 5 * time.Second},
		{"jitter low", 1, Outcome{}, false, 0, DeliveryPending, 270 * time.Second, 270 * time.Second},
		{"jitter high", 1, Outcome{}, false, 0.999999, DeliveryPending, 329 * time.Second, 330 * time.Second},
		{"past the schedule", 3, Outcome{}, false, 0.5, DeliveryFailed, 0, 0},
		{"a manual attempt has no sequel", 0, Outcome{}, true, 0.5, DeliveryFailed, 0, 0},
		{"Retry-After within the step and twice it", 1, Outcome{RetryAfter: 7 * time.Minute}, false, 0.5, DeliveryPending, 7 * time.Minute, 7 * time.Minute},
		{"Retry-After below the step", 1, Outcome{RetryAfter: time.Second}, false, 0.5, DeliveryPending, 5 * time.Minute, 5 * time.Minute},
		{"Retry-After above twice the step", 1, Outcome{RetryAfter: time.Hour}, false, 0.5, DeliveryPending, 10 * time.Minute, 10 * time.Minute},
	}
	for _, c := range cases {
		status, wait := Next(c.n, c.o, sched, c.manual, c.jitter)
		if status != c.status || wait < c.min || wait > c.max {
			t.Errorf("%s: %s %s, want %s in [%s, %s]", c.name, status, wait, c.status, c.min, c.max)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	if d := RetryAfter("120", now); d != 2*time.Minute {
		t.Error(d)
	}
	if d := RetryAfter("Wed, 02 Dec 2026 03:01:00 GMT", now); d != time.Minute {
		t.Error(d)
	}
	if RetryAfter("soon", now) != 0 || RetryAfter("", now) != 0 || RetryAfter("-3", now) != 0 {
		t.Error("a bad Retry-After was read")
	}
}
