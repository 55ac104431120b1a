package audit

import (
	"reflect"
	"testing"

	"opsconsole/shared/problem"
)

func TestTimeRange(t *testing.T) {
	cases := []struct {
		name     string
		filters  map[string]string
		from, to string
		errs     []problem.FieldError
	}{
		{"no range", map[string]string{}, "", "", nil},
		{"both bounds in UTC", map[string]string{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
			"2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z~", nil},
		{"offsets become UTC", map[string]string{"from": "2026-01-01T01:00:00+01:00"}, "2026-01-01T00:00:00.000Z", "", nil},
		{"the same instant is a range of one millisecond", map[string]string{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
			"2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z~", nil},
		{"from after to names from", map[string]string{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
			"", "", []problem.FieldError{problem.Field("from", "must not be after to")}},
		{"from after to across offsets", map[string]string{"from": "2026-01-01T00:30:00-01:00", "to": "2026-01-01T01:00:00Z"},
			"", "", []problem.FieldError{problem.Field("from", "must not be after to")}},
		{"not a time", map[string]string{"to": "yesterday"},
			"", "", []problem.FieldError{problem.Field("to", "must be an RFC 3339 time between years 0001 and 9999, such as 2026-01-02T15:04:05Z")}},
		{"a year that UTC pushes below 0001", map[string]string{"from": "0001-01-01T00:00:00+01:00"},
			"", "", []problem.FieldError{problem.Field("from", "must be an RFC 3339 time between years 0001 and 9999, such as 2026-01-02T15:04:05Z")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			from, to, errs := timeRange(c.filters)
			if from != c.from || to != c.to || !reflect.DeepEqual(errs, c.errs) {
				t.Fatalf("timeRange = %q, %q, %v; want %q, %q, %v", from, to, errs, c.from, c.to, c.errs)
			}
		})
	}
}
