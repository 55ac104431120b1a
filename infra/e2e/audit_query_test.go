package e2e

import "testing"

// TestAuditLogRefusesBadTimeRanges: a fuzzer found that a range ending before it
// starts reached DynamoDB (BETWEEN with its bounds swapped) and came back a 500. Every
// bad time is the caller's 400, naming the field.
func TestAuditLogRefusesBadTimeRanges(t *testing.T) {
	tok := admin(t)
	cases := []struct {
		name, query, field string
	}{
		{"from after to", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"},
		{"from after to by one second, across offsets", "from=2026-01-01T00:00:01Z&to=2026-01-01T01:00:00%2B01:00", "from"},
		{"from after to with a cursor", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z&limit=1", "from"},
		{"a to that is not a time", "to=2026-02-30T00:00:00Z", "to"},
		{"a from before year 1 in UTC", "from=0001-01-01T00:00:00%2B01:00", "from"},
		{"a time without its zone", "from=2026-01-01T00:00:00", "from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			do(t, req{method: "GET", path: "/v1/audit-logs?" + c.query, token: tok}).problem(t, 400, "validation").field(t, c.field)
		})
	}
	t.Run("from equal to to is a range, not an error", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/audit-logs?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", token: tok}).expect(t, 200)
	})
}
