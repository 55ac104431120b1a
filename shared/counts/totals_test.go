package counts

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/nodes"
)

// trie is an ancestor's trie items as the table would hold them after deltas.
type trie map[string]map[string]any

func (tr trie) add(d delta) {
	for sk, attrs := range d {
		if sk == totalsSK {
			continue
		}
		if tr[sk] == nil {
			tr[sk] = map[string]any{}
		}
		for a, n := range attrs {
			v, _ := tr[sk][a].(float64)
			tr[sk][a] = v + float64(n)
		}
	}
}

// TestExpiredIsExactAtEveryInstant counts licenses with random validUntil stamps into
// a trie (created, some moved, some removed) and checks Expired against a count by
// hand at instants on, just before and just after each stamp and at random ones.
func TestExpiredIsExactAtEveryInstant(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 12, 2, 3, 30, 5, 0, time.UTC)
	type lic struct {
		series, until string
	}
	var live []lic
	tr := trie{}
	stampNear := func() string {
		// Near each other (same minute, hour, day…) and far apart, both.
		spans := []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour, 400 * 24 * time.Hour, 80 * 365 * 24 * time.Hour}
		d := time.Duration(rng.Int64N(int64(spans[rng.IntN(len(spans))]))) - spans[0]
		return nodes.Stamp(base.Add(d))
	}
	series := []string{"da", "di", "pa", "pi", "aa", "ai"}
	for i := 0; i < 400; i++ {
		l := lic{series[rng.IntN(len(series))], stampNear()}
		tr.add(deltaOf(contribution{}, contribution{series: l.series, until: l.until}))
		live = append(live, l)
	}
	// Move every third (a new validUntil or status) and remove every fifth.
	for i := range live {
		switch {
		case i%5 == 0:
			tr.add(deltaOf(contribution{series: live[i].series, until: live[i].until}, contribution{}))
			live[i] = lic{}
		case i%3 == 0:
			next := lic{series[rng.IntN(len(series))], stampNear()}
			tr.add(deltaOf(contribution{series: live[i].series, until: live[i].until}, contribution{series: next.series, until: next.until}))
			live[i] = next
		}
	}
	var instants []time.Time
	for _, l := range live {
		if l.until == "" {
			continue
		}
		at, _ := time.Parse(time.RFC3339, l.until)
		instants = append(instants, at, at.Add(-time.Second), at.Add(time.Second))
	}
	for i := 0; i < 200; i++ {
		instants = append(instants, base.Add(time.Duration(rng.Int64N(int64(2*365*24*time.Hour)))-365*24*time.Hour))
	}
	for _, now := range instants {
		want := map[string]int{}
		for _, l := range live {
			if l.until != "" && l.until <= nodes.Stamp(now) {
				want[l.series]++
			}
		}
		items := map[string]map[string]any{}
		for _, k := range UntilKeys("x", now) {
			sk := k["SK"]
			items[aws.ToString(stringOf(sk))] = tr[aws.ToString(stringOf(sk))]
		}
		got := Expired(items, now)
		for s, n := range got {
			if n == 0 {
				delete(got, s)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Expired at %s = %v, want %v", nodes.Stamp(now), got, want)
		}
	}
}

func TestDeltaOf(t *testing.T) {
	lic := func(series, until string, facets ...string) contribution {
		return contribution{facets: facets, series: series, until: until}
	}
	tests := []struct {
		name     string
		from, to contribution
		want     string
	}{
		{"a new node adds its facets", contribution{}, contribution{facets: []string{"company#active", VirtualFacet}},
			"TOTALS[company#active:1 company#virtual:1] "},
		{"a status change moves one facet", contribution{facets: []string{"partner#active"}}, contribution{facets: []string{"partner#suspended"}},
			"TOTALS[partner#active:-1 partner#suspended:1] "},
		{"the same facets change nothing", contribution{facets: []string{"user#active"}}, contribution{facets: []string{"user#active"}}, ""},
		{"a license with validUntil adds seven trie cells",
			contribution{}, lic("da", "2026-12-02T03:30:05Z", "license#partner_development#active"),
			"TOTALS[license#partner_development#active:1] UNTIL#[da20:1] UNTIL#20[da26:1] UNTIL#2026[da12:1] UNTIL#2026-12[da02:1] UNTIL#2026-12-02[da03:1] UNTIL#2026-12-02T03[da30:1] UNTIL#2026-12-02T03:30[da05:1] "},
		{"moving validUntil by a second touches only the last cell",
			lic("da", "2026-12-02T03:30:05Z", "license#partner_development#active"), lic("da", "2026-12-02T03:30:06Z", "license#partner_development#active"),
			"UNTIL#2026-12-02T03:30[da05:-1 da06:1] "},
		{"deactivating moves every cell to the other series",
			lic("da", "2026-12-02T03:30:05Z", "license#partner_development#active"), lic("di", "2026-12-02T03:30:05Z", "license#partner_development#inactive"),
			"TOTALS[license#partner_development#active:-1 license#partner_development#inactive:1] UNTIL#[da20:-1 di20:1] UNTIL#20[da26:-1 di26:1] UNTIL#2026[da12:-1 di12:1] UNTIL#2026-12[da02:-1 di02:1] UNTIL#2026-12-02[da03:-1 di03:1] UNTIL#2026-12-02T03[da30:-1 di30:1] UNTIL#2026-12-02T03:30[da05:-1 di05:1] "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := deltaOf(tc.from, tc.to).String(); got != tc.want {
				t.Errorf("delta\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestUntilWrites(t *testing.T) {
	d := deltaOf(contribution{}, contribution{facets: []string{"license#agent#active"}, series: "aa", until: "2026-12-02T03:30:05Z"})
	ws := d.writes("org_1")
	if len(ws) != 8 {
		t.Fatalf("%d writes, want 8 (totals and seven trie items)", len(ws))
	}
	expiring := 0
	for _, w := range ws {
		u := sent(t, w)
		if strings.Contains(aws.ToString(u.UpdateExpression), "if_not_exists(#exp") {
			expiring++
			if n, ok := u.ExpressionAttributeValues[":exp"].(*types.AttributeValueMemberN); !ok {
				t.Errorf("expiresAt %v", u.ExpressionAttributeValues[":exp"])
			} else if exp, err := strconv.ParseInt(n.Value, 10, 64); err != nil || exp < time.Now().Unix() {
				t.Errorf("expiresAt %s", n.Value)
			}
		}
	}
	if expiring != 3 {
		t.Errorf("%d trie items expire, want 3 (the day's hours, the hour's minutes, the minute's seconds)", expiring)
	}
	if got := untilExpiry("2026-12-02T03:30"); got != time.Date(2026, 12, 2, 3, 30, 59, 0, time.UTC).Add(markerTTL).Unix() {
		t.Errorf("untilExpiry of a minute = %d", got)
	}
	if _, ok := Series("login", "active"); ok {
		t.Error("an unknown type has a series")
	}
}

func stringOf(av types.AttributeValue) *string {
	if s, ok := av.(*types.AttributeValueMemberS); ok {
		return &s.Value
	}
	return nil
}
