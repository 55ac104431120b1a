package template

import (
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"rate(1 hour)": time.Hour, "rate(5 minutes)": 5 * time.Minute, "rate(2 days)": 48 * time.Hour, "rate(1 minute)": time.Minute,
	} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"rate(1 hours)", "rate(2 hour)", "rate(0 minutes)", "rate(1 week)", "cron(0 * * * ? *)", "rate(x minutes)"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

// The template's own schedules: the digest maker's, hourly, played locally at
// AUDIT_DIGEST_PERIOD.
func TestScheduleMappings(t *testing.T) {
	tpl := load(t)
	ms, err := tpl.ScheduleMappings()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range ms {
		if m.Function == "audit-digest-maker" {
			found = true
			if m.Rate != time.Hour || m.LocalRateFrom != "AUDIT_DIGEST_PERIOD" || !m.Enabled {
				t.Errorf("audit-digest-maker's schedule: %+v", m)
			}
		}
	}
	if !found {
		t.Error("no schedule for audit-digest-maker")
	}
}
