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
	ws := d.writes("org_1", "lic_1", "2026-12-02T03:30:05Z")
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

func TestTotalsShards(t *testing.T) {
	// Ids of the real form: the kind of a node is read from its id's prefix.
	body := strings.Repeat("0", 26)
	dst, prt, org, cmp := "dst_"+body, "prt_"+body, "org_"+body, "cmp_"+body
	t.Run("the platform and distributors split their totals, the levels below do not", func(t *testing.T) {
		for _, c := range []struct {
			node string
			keys int
		}{{"platform", 1 + TotalsShards}, {dst, 1 + TotalsShards}, {prt, 1}, {org, 1}, {cmp, 1}} {
			if got := len(TotalsKeys(c.node)); got != c.keys {
				t.Errorf("%s: %d totals keys, want %d", c.node, got, c.keys)
			}
			for _, k := range TotalsKeys(c.node) {
				if sk := *stringOf(k["SK"]); !IsTotalsItem(sk) || IsUntilItem(sk) {
					t.Errorf("%s: %s is not told a totals item", c.node, sk)
				}
			}
		}
	})
	t.Run("a thing always counts in the same shard, and things spread over all of them", func(t *testing.T) {
		seen := map[string]int{}
		for i := range 800 {
			id := "org_" + strconv.Itoa(i)
			sk := totalsSKOf(dst, id)
			if again := totalsSKOf(dst, id); again != sk {
				t.Fatalf("%s counts in %s, then in %s", id, sk, again)
			}
			seen[sk]++
			if got := totalsSKOf(prt, id); got != "TOTALS" {
				t.Fatalf("a partner's totals of %s are in %s, want TOTALS", id, got)
			}
		}
		if len(seen) != TotalsShards {
			t.Fatalf("800 things went to %d shards, want %d: %v", len(seen), TotalsShards, seen)
		}
		for sk, n := range seen {
			if n < 50 || n > 150 {
				t.Errorf("shard %s holds %d of 800 things, want about 100", sk, n)
			}
		}
	})
	t.Run("the totals update goes to the thing's shard and says the change's stream time", func(t *testing.T) {
		d := deltaOf(contribution{facets: []string{"organization#pending"}}, contribution{facets: []string{"organization#approved"}})
		ws := d.writes(dst, "org_7", "2026-12-02T03:30:05Z")
		if len(ws) != 1 {
			t.Fatalf("%d writes, want 1", len(ws))
		}
		u := sent(t, ws[0])
		if sk := *stringOf(u.Key["SK"]); sk != totalsSKOf(dst, "org_7") || sk == "TOTALS" {
			t.Errorf("written to %s, want the shard %s", sk, totalsSKOf(dst, "org_7"))
		}
		if v := stringOf(u.ExpressionAttributeValues[":asOf"]); v == nil || *v != "2026-12-02T03:30:05Z" {
			t.Errorf("asOf %v in %s", u.ExpressionAttributeValues[":asOf"], aws.ToString(u.UpdateExpression))
		}
	})
	t.Run("a move of validUntil alone still stamps the totals item", func(t *testing.T) {
		from := contribution{facets: []string{"license#agent#active"}, series: "aa", until: "2026-12-02T03:30:05Z"}
		to := from
		to.until = "2026-12-02T03:30:06Z"
		ws := deltaOf(from, to).writes(org, "lic_1", "2026-12-02T03:31:00Z")
		if len(ws) != 2 {
			t.Fatalf("%d writes, want 2 (the totals' asOf, the trie's last item)", len(ws))
		}
		u := sent(t, ws[0])
		if sk := *stringOf(u.Key["SK"]); sk != "TOTALS" || strings.Contains(aws.ToString(u.UpdateExpression), "ADD") {
			t.Errorf("first write %s: %s, want TOTALS with no ADD", sk, aws.ToString(u.UpdateExpression))
		}
	})
	t.Run("nothing to move writes nothing", func(t *testing.T) {
		if ws := (delta{}).writes(dst, "org_1", "2026-12-02T03:30:05Z"); len(ws) != 0 {
			t.Errorf("%d writes for an empty delta", len(ws))
		}
	})
	t.Run("the sum of the shards is the subtree's, at the newest asOf", func(t *testing.T) {
		got, asOf := SumTotals([]map[string]any{
			{"PK": "NODE#dst_1", "SK": "TOTALS", "type": "totals", "partner#active": 2.0},
			{"SK": "TOTALS#3", "partner#active": 1.0, "organization#approved": -1.0, "asOf": "2026-12-02T03:30:05Z"},
			{"SK": "TOTALS#5", "organization#approved": 1.0, "user#active": 4.0, "asOf": "2026-12-02T03:30:07Z"},
		})
		want := Totals{"partner#active": 3, "user#active": 4}
		if !reflect.DeepEqual(got, want) || asOf != "2026-12-02T03:30:07Z" {
			t.Errorf("SumTotals = %v at %q, want %v at 2026-12-02T03:30:07Z", got, asOf, want)
		}
		if got, asOf := SumTotals(nil); len(got) != 0 || asOf != "" {
			t.Errorf("SumTotals of nothing = %v at %q", got, asOf)
		}
	})
	t.Run("seeded items are the counter's, shard by shard", func(t *testing.T) {
		var things []Counted
		for i := range 40 {
			things = append(things, Counted{ID: "org_" + strconv.Itoa(i), Facets: []string{"organization#approved"}})
		}
		items := SeedItems(dst, things, "2026-12-02T03:30:05Z")
		sum := 0
		for _, it := range items {
			sk := *stringOf(it["SK"])
			n, ok := it["organization#approved"].(*types.AttributeValueMemberN)
			if !ok || !strings.HasPrefix(sk, "TOTALS#") {
				t.Fatalf("seeded %s %v", sk, it)
			}
			v, _ := strconv.Atoi(n.Value)
			sum += v
			if a := stringOf(it["asOf"]); a == nil || *a != "2026-12-02T03:30:05Z" {
				t.Errorf("%s has no asOf", sk)
			}
		}
		if sum != 40 || len(items) < 2 {
			t.Errorf("%d items seeded counting %d, want 40 over several shards", len(items), sum)
		}
	})
}
