package audit

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestStamp(t *testing.T) {
	at := "2026-12-02T10:59:59.900Z"
	e := Entry{ID: "01J", At: at, Action: "node.created", Target: Target{Type: "node", ID: "org_1"}}
	for _, c := range []struct {
		name    string
		arrived time.Time
		wantAt  string
		late    bool
		period  string
	}{
		{"on time", time.Date(2026, 12, 2, 10, 59, 59, 950e6, time.UTC), "2026-12-02T10:59:59.950Z", false, "2026-12-02T10:00:00.000Z"},
		{"after its period: late, keyed by arrival", time.Date(2026, 12, 2, 11, 0, 0, 100e6, time.UTC), "2026-12-02T11:00:00.100Z", true, "2026-12-02T11:00:00.000Z"},
		{"a clock behind the entry's: its time", time.Date(2026, 12, 2, 10, 59, 0, 0, time.UTC), at, false, "2026-12-02T10:00:00.000Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			items, err := Items(e, []string{"platform", "org_1"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			p := stamp(items, e.At, c.arrived, time.Hour)
			if got := p.Format(TimeFormat); got != c.period {
				t.Errorf("period %s, want %s", got, c.period)
			}
			for _, it := range items {
				if got := it["arrivedAt"].(*types.AttributeValueMemberS).Value; got != c.wantAt {
					t.Errorf("arrivedAt %s, want %s", got, c.wantAt)
				}
				pk := it["PK"].(*types.AttributeValueMemberS).Value
				gsi, has := it["GSI1PK"].(*types.AttributeValueMemberS)
				switch {
				case pk == "AUDITT#org_1" && has:
					t.Error("a target's history item is not in the late index")
				case pk != "AUDITT#org_1" && has != c.late:
					t.Errorf("%s: late key %v, want %v", pk, has, c.late)
				case has && gsi.Value != "AUDITL#"+pk[len("AUDIT#"):]:
					t.Errorf("late key %s", gsi.Value)
				}
			}
		})
	}
}

func TestPeriodStart(t *testing.T) {
	got := PeriodStart(time.Date(2026, 12, 2, 10, 0, 31, 5e6, time.UTC), 30*time.Second)
	if want := time.Date(2026, 12, 2, 10, 0, 30, 0, time.UTC); !got.Equal(want) {
		t.Errorf("got %s, want %s", got, want)
	}
}
