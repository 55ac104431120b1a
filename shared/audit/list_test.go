package audit

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/problem"
	"opsconsole/shared/store"
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

// fakeLog is a log of n items, newest first, where match tells which pass the
// filter: a reader that behaves as Query does with Limit bounding evaluated items.
// (collect's decisions are tested here; the real Query in the e2e tests.)
func fakeLog(n int, match func(i int) bool) (reader, *int) {
	calls := 0
	return func(_ context.Context, limit int, start store.Item) (store.Read, error) {
		calls++
		i := 0
		if start != nil {
			i = mustAtoi(start["SK"].(*types.AttributeValueMemberS).Value) + 1
		}
		var r store.Read
		for ; i < n && r.Scanned < limit; i++ {
			r.Scanned++
			if match(i) {
				r.Items = append(r.Items, keyOf(i))
			}
		}
		if i < n {
			r.Next = keyOf(i - 1)
		}
		return r, nil
	}, &calls
}

func keyOf(i int) store.Item {
	return store.Key("AUDIT#n", strconv.Itoa(i))
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestCollect(t *testing.T) {
	every := func(int) bool { return true }
	cases := []struct {
		name         string
		n            int
		match        func(int) bool
		filtered     bool
		limit        int
		wantItems    int
		wantNext     string // the SK of the next key, "" for none
		stoppedEarly bool
		wantCalls    int
	}{
		{"an unfiltered page is one Query", 100, every, false, 25, 25, "24", false, 1},
		{"a page ending at the last item has no next", 25, every, false, 25, 25, "", false, 1},
		{"a short log is one short page", 3, every, false, 25, 3, "", false, 1},
		{"a filter reads on until the page is full", 5000, func(i int) bool { return i%100 == 0 }, true, 5, 5, "400", false, 4},
		{"a rare match stops at the budget and says so", 5000, func(i int) bool { return i%400 == 0 }, true, 25, 3, "999", true, 3},
		{"a rare match over a short log is exhausted, not stopped", 900, func(i int) bool { return i%400 == 0 }, true, 25, 3, "", false, 3},
		{"nothing matching within the budget", 5000, func(int) bool { return false }, true, 25, 0, "999", true, 3},
		{"a common match fills the page from one short read", 5000, func(i int) bool { return i%2 == 0 }, true, 25, 25, "48", false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			read, calls := fakeLog(c.n, c.match)
			got, err := collect(context.Background(), read, c.limit, ReadBudget, c.filtered, nil)
			if err != nil {
				t.Fatal(err)
			}
			next := ""
			if got.next != nil {
				next = got.next["SK"].(*types.AttributeValueMemberS).Value
			}
			if len(got.items) != c.wantItems || next != c.wantNext || got.stoppedEarly != c.stoppedEarly || *calls != c.wantCalls {
				t.Fatalf("items %d, next %q, stoppedEarly %v, calls %d; want %d, %q, %v, %d",
					len(got.items), next, got.stoppedEarly, *calls, c.wantItems, c.wantNext, c.stoppedEarly, c.wantCalls)
			}
		})
	}
	t.Run("paging on with the next key reaches every match once", func(t *testing.T) {
		read, _ := fakeLog(5000, func(i int) bool { return i%400 == 0 })
		var start store.Item
		seen := 0
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("more pages than the log has budgets")
			}
			got, err := collect(context.Background(), read, 25, ReadBudget, true, start)
			if err != nil {
				t.Fatal(err)
			}
			seen += len(got.items)
			if got.next == nil {
				break
			}
			start = got.next
		}
		if seen != 13 {
			t.Fatalf("saw %d matches, want 13", seen)
		}
	})
}

func TestParseQuery(t *testing.T) {
	cases := []struct {
		name    string
		filters map[string]string
		field   string // "" when valid
	}{
		{"a node id", map[string]string{"nodeId": "org_01jabcdefghjkmnpqrstvwxyz0"}, ""},
		{"the platform", map[string]string{"nodeId": "platform"}, ""},
		{"a node id of no kind", map[string]string{"nodeId": "usr_01jabcdefghjkmnpqrstvwxyz0"}, "nodeId"},
		{"an action prefix", map[string]string{"action": "organization."}, ""},
		{"an action with a capital", map[string]string{"action": "Organization.created"}, "action"},
		{"a target id with a key separator", map[string]string{"targetId": "org_1#x"}, "targetId"},
		{"an over-long actor id", map[string]string{"actorId": strings.Repeat("a", 129)}, "actorId"},
		{"a target type", map[string]string{"targetType": "end_user"}, ""},
		{"an empty target type", map[string]string{"targetType": ""}, "targetType"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseQuery(c.filters)
			var p *problem.Problem
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field != "" && (!errors.As(err, &p) || len(p.Errors) != 1 || p.Errors[0].Field != c.field):
				t.Fatalf("got %v, want a problem naming %s", err, c.field)
			}
		})
	}
}
