package counts

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Subtree totals. Besides its children's counts, every node that has a dashboard keeps
// the totals of its whole subtree (NODE#<id> / TOTALS, split into TOTALS#<s> for the
// platform and distributors: TotalsShards): one Number per facet of the
// items below it (its descendants, the console users of its subtree and itself, the
// licenses held in it), kept by the same consumer and in the same transaction as the
// children's counts, from the same markers, so that every change below a node rolls
// up to each of its ancestors exactly once.
//
// The facets of an item are the names it adds one to:
//   - a node: "<kind>#<status>", and "company#virtual" for a virtual company;
//   - a console user: "user#<status>";
//   - a license: "license#<type>#<stored status>".
//
// A license's validUntil is counted beside them, in the expiry trie below, so that
// "expired" is exact at any instant without a write when a license passes it.
const (
	totalsSK   = "TOTALS"
	totalsType = "totals"
	// untilSK starts the sort keys of the expiry trie's items.
	untilSK   = "UNTIL#"
	untilType = "until"
)

// TotalsShards is how many items hold the totals of the platform and of each
// distributor. Every change of the installation is counted in the platform's totals,
// and each of a distributor's branch in its: in one item, a thousand changes a second
// would be 2,000 WCU/s (each a transaction's write), twice what a partition takes
// (docs/scale.md, fix 4). Split in eight, a shard takes 250 (25%). A counted thing's
// shard comes from its id (nodes.ShardIndex), so all of its versions are counted in
// the same shard and its marker keeps them exact; the reader sums the shards. The
// levels below keep one item: the biggest partner's branch writes about 100 WCU/s.
// Fixed: changing it moves counts between items (a migration: the reader sums any
// set of items, so write to the new count and read both).
const TotalsShards = 8

// TotalsPrefix starts the sort key of every item of a node's totals (TOTALS, and
// TOTALS#<s> for the shards), in the node's partition: what the node sweeper removes
// with the node.
const TotalsPrefix = totalsSK

// shardedTotals tells whether node's totals are split into TotalsShards items.
func shardedTotals(node string) bool {
	kind, _ := nodes.KindOfID(node)
	return kind == tree.KindPlatform || kind == tree.KindDistributor
}

// totalsSKOf is the sort key of the item of ancestor's totals that counts thing id.
func totalsSKOf(ancestor, id string) string {
	if !shardedTotals(ancestor) {
		return totalsSK
	}
	return totalsShardSK(nodes.ShardIndex(id, TotalsShards))
}

// totalsShardSK is the sort key of shard s of a sharded node's totals: TOTALS#<s>.
func totalsShardSK(s int) string { return totalsSK + "#" + strconv.Itoa(s) }

// TotalsKeys are the keys of every item that holds node nodeID's totals: TOTALS, and
// for the platform and a distributor its shards too (TOTALS holds what was counted
// before the split, and is read so that nothing of it is lost).
func TotalsKeys(nodeID string) []store.Item {
	keys := []store.Item{store.Key(nodes.PK(nodeID), totalsSK)}
	if shardedTotals(nodeID) {
		for s := range TotalsShards {
			keys = append(keys, store.Key(nodes.PK(nodeID), totalsShardSK(s)))
		}
	}
	return keys
}

// IsTotalsItem tells the totals items among read items by sort key.
func IsTotalsItem(sk string) bool { return sk == totalsSK || strings.HasPrefix(sk, totalsSK+"#") }

// asOfAttr is the totals items' attribute holding the stream time
// (ApproximateCreationDateTime) of the last change the counter applied to the item.
const asOfAttr = "asOf"

// UntilPrefix starts the sort key of every expiry trie item of a node, in the node's
// partition: what the node sweeper removes with the node.
const UntilPrefix = untilSK

// Facet names.
func nodeFacet(kind, status string) string { return kind + "#" + status }

// VirtualFacet counts the virtual companies of a subtree.
const VirtualFacet = "company#virtual"

// NodeFacet is the totals attribute counting the nodes of kind in status.
func NodeFacet(kind, status string) string { return nodeFacet(kind, status) }

// UserFacet is the totals attribute counting the console users in status.
func UserFacet(status string) string { return "user#" + status }

// LicenseFacet is the totals attribute counting the licenses of type in stored status
// (expired ones included: see Expired).
func LicenseFacet(typ, status string) string { return "license#" + typ + "#" + status }

// Totals are a subtree's totals: facet → count. Zeros are omitted.
type Totals map[string]int

// SumTotals adds up the items of a node's totals (none: all zeros), and gives the
// latest asOf among them: the stream time of the newest change counted in any of
// them ("" when none says).
func SumTotals(items []map[string]any) (Totals, string) {
	t := Totals{}
	asOf := ""
	for _, raw := range items {
		for name, v := range raw {
			if name == asOfAttr {
				if s, ok := v.(string); ok && s > asOf {
					asOf = s
				}
				continue
			}
			n, ok := v.(float64)
			if ok && n != 0 && strings.Contains(name, "#") {
				t[name] += int(n)
			}
		}
	}
	for name, n := range t {
		if n == 0 {
			delete(t, name)
		}
	}
	return t, asOf
}

// The expiry trie. A license's validUntil is a stamp of fixed width
// (2026-12-02T03:30:05Z, nodes.Stamp), read as seven two-digit places: century, year,
// month, day, hour, minute, second. Each ancestor keeps one item per prefix of those
// places (UNTIL#, UNTIL#20, UNTIL#2026, …, UNTIL#2026-12-02T03:30) counting, for each
// series (license type and stored status), the licenses whose validUntil has that
// prefix, by the value of the next place. The licenses expired at now (validUntil <=
// now) are then, for each place, the counts of the item on now's own prefix below
// now's digit (at the last place: up to and including it): seven items, whatever the
// number of licenses or of instants they expire at. Each item holds at most 100
// children × 6 series, a few kilobytes, so the read's cost is fixed; a change writes
// at most seven items per ancestor (fourteen when it moves validUntil).
var places = [7][2]int{{0, 2}, {2, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}}

// placePrefix is the stamp's prefix above place i: the places before it, without the
// separator that follows them.
func placePrefix(stamp string, i int) string {
	if i == 0 {
		return ""
	}
	return stamp[:places[i-1][1]]
}

// stampLen is the length of a stamp.
const stampLen = len("2006-01-02T15:04:05Z")

// seriesCodes are the one-letter codes of the license types and stored statuses in
// the trie's attribute names, which keep its items small (the name is most of an
// attribute's size).
var (
	typeCodes   = map[string]string{"partner_development": "d", "partner_profile": "p", "agent": "a"}
	statusCodes = map[string]string{"active": "a", "inactive": "i"}
)

// Series is the trie's code of licenses of type typ in stored status, or false for a
// type or status it does not know (not counted in the trie).
func Series(typ, status string) (string, bool) {
	t, ok1 := typeCodes[typ]
	s, ok2 := statusCodes[status]
	return t + s, ok1 && ok2
}

// untilCell is one counter of the trie: the item (its sort key) and attribute.
type untilCell struct{ sk, attr string }

// untilCells are the seven counters a license of series counted until stamp adds
// one to, or nil for a stamp not of the stored form.
func untilCells(series, stamp string) []untilCell {
	if len(stamp) != stampLen || stamp[stampLen-1] != 'Z' {
		return nil
	}
	out := make([]untilCell, 0, len(places))
	for i, p := range places {
		out = append(out, untilCell{sk: untilSK + placePrefix(stamp, i), attr: series + stamp[p[0]:p[1]]})
	}
	return out
}

// UntilKeys are the keys of the seven trie items of node nodeID that Expired reads at
// now.
func UntilKeys(nodeID string, now time.Time) []store.Item {
	stamp := nodes.Stamp(now)
	keys := make([]store.Item, 0, len(places))
	for i := range places {
		keys = append(keys, store.Key(nodes.PK(nodeID), untilSK+placePrefix(stamp, i)))
	}
	return keys
}

// IsUntilItem tells the trie items among read items by sort key.
func IsUntilItem(sk string) bool { return strings.HasPrefix(sk, untilSK) }

// Expired counts, by series, the licenses expired at now (validUntil <= now), from
// the trie items UntilKeys names, given by sort key (missing ones count zero).
func Expired(items map[string]map[string]any, now time.Time) map[string]int {
	stamp := nodes.Stamp(now)
	out := map[string]int{}
	for i, p := range places {
		digit := stamp[p[0]:p[1]]
		for name, v := range items[untilSK+placePrefix(stamp, i)] {
			n, ok := v.(float64)
			// Attribute names of the trie are a two-letter series and two digits.
			if !ok || len(name) != 4 {
				continue
			}
			series, child := name[:2], name[2:]
			if child < digit || (i == len(places)-1 && child == digit) {
				out[series] += int(n)
			}
		}
	}
	return out
}

// untilExpiry is when a trie item can go: from the end of the period its prefix
// names, it is never read again (Expired reads only the prefixes of now). Only the
// items of a day and below get one (the hour, minute and second items: the many);
// the few above stay until the node goes.
func untilExpiry(prefix string) int64 {
	var end string
	switch len(prefix) {
	case 10: // 2026-12-02: its hours
		end = prefix + "T23:59:59Z"
	case 13: // 2026-12-02T03: its minutes
		end = prefix + ":59:59Z"
	case 16: // 2026-12-02T03:30: its seconds
		end = prefix + ":59Z"
	default:
		return 0
	}
	t, err := time.Parse(time.RFC3339, end)
	if err != nil {
		return 0
	}
	return t.Add(markerTTL).Unix()
}

// contribution is what one version of an item adds to each ancestor's totals: its
// facets, and for a license its series and validUntil.
type contribution struct {
	facets        []string
	series, until string
}

// delta is the change from one contribution to the next: per item of an ancestor's
// partition (TOTALS, UNTIL#…), per attribute, the number to add.
type delta map[string]map[string]int

func (d delta) add(sk, attr string, n int) {
	if d[sk] == nil {
		d[sk] = map[string]int{}
	}
	d[sk][attr] += n
	if d[sk][attr] == 0 {
		delete(d[sk], attr)
		if len(d[sk]) == 0 {
			delete(d, sk)
		}
	}
}

func (d delta) apply(c contribution, n int) {
	for _, f := range c.facets {
		d.add(totalsSK, f, n)
	}
	if c.series != "" {
		for _, cell := range untilCells(c.series, c.until) {
			d.add(cell.sk, cell.attr, n)
		}
	}
}

// deltaOf is what moving an item from contribution from to to changes.
func deltaOf(from, to contribution) delta {
	d := delta{}
	d.apply(from, -1)
	d.apply(to, 1)
	return d
}

// writes are the updates of ancestor's items that d makes, counting thing id (whose
// shard of the totals they go to) changed at stream time asOf: one per item, each ADD
// of every attribute that moves, in a sorted order (so that a transaction is the same
// whenever it is built). The totals item is always among them when d moves anything,
// so that its asOf says the change was counted.
func (d delta) writes(ancestor, id, asOf string) []store.Write {
	if len(d) == 0 {
		return nil
	}
	sks := slices.Sorted(maps.Keys(d))
	if d[totalsSK] == nil {
		// A license whose validUntil alone moved: only the trie's counts change.
		sks = append([]string{totalsSK}, sks...)
	}
	out := make([]store.Write, 0, len(sks))
	for _, sk := range sks {
		attrs := slices.Sorted(maps.Keys(d[sk]))
		names := map[string]string{"#type": "type"}
		values := map[string]any{":type": totalsType}
		set := "SET #type = :type"
		key := store.Key(nodes.PK(ancestor), sk)
		if sk == totalsSK {
			key = store.Key(nodes.PK(ancestor), totalsSKOf(ancestor, id))
			if asOf != "" {
				names["#asOf"], values[":asOf"] = asOfAttr, asOf
				set += ", #asOf = :asOf"
			}
		} else {
			values[":type"] = untilType
			if exp := untilExpiry(strings.TrimPrefix(sk, untilSK)); exp != 0 {
				names["#exp"] = "expiresAt"
				values[":exp"] = exp
				set += ", #exp = if_not_exists(#exp, :exp)"
			}
		}
		adds := make([]string, 0, len(attrs))
		for i, a := range attrs {
			n, v := "#a"+strconv.Itoa(i), ":a"+strconv.Itoa(i)
			names[n], values[v] = a, d[sk][a]
			adds = append(adds, n+" "+v)
		}
		update := set
		if len(adds) > 0 {
			update += " ADD " + strings.Join(adds, ", ")
		}
		out = append(out, store.Edit(key, store.Expr{Update: update, Names: names, Values: values}))
	}
	return out
}

// String shows a delta in tests' messages.
func (d delta) String() string {
	var b strings.Builder
	for _, sk := range slices.Sorted(maps.Keys(d)) {
		var parts []string
		for _, a := range slices.Sorted(maps.Keys(d[sk])) {
			parts = append(parts, fmt.Sprintf("%s:%d", a, d[sk][a]))
		}
		fmt.Fprintf(&b, "%s[%s] ", sk, strings.Join(parts, " "))
	}
	return b.String()
}

// Counted is what one item adds to its ancestors' totals, for code that writes the
// totals of a branch directly (benchmarks): its id (which shard counts it), its
// facets, and for a license its series and validUntil.
type Counted struct {
	ID            string
	Facets        []string
	Series, Until string
}

// SeedItems are the totals and expiry trie items of node nodeID whose subtree holds
// items, exactly as the tree counter would leave them after counting each (the same
// deltas, summed, each in its shard) with asOf as the last change's stream time: what
// a benchmark writes instead of sending a hundred thousand records through the counter.
func SeedItems(nodeID string, items []Counted, asOf string) []store.Item {
	sum := delta{}
	for _, c := range items {
		d := delta{}
		d.apply(contribution{facets: c.Facets, series: c.Series, until: c.Until}, 1)
		for sk, attrs := range d {
			if sk == totalsSK {
				sk = totalsSKOf(nodeID, c.ID)
			}
			for a, n := range attrs {
				sum.add(sk, a, n)
			}
		}
	}
	var out []store.Item
	for _, sk := range slices.Sorted(maps.Keys(sum)) {
		it := store.Key(nodes.PK(nodeID), sk)
		typ := untilType
		if IsTotalsItem(sk) {
			typ = totalsType
			it[asOfAttr] = &types.AttributeValueMemberS{Value: asOf}
		}
		it["type"] = &types.AttributeValueMemberS{Value: typ}
		for a, n := range sum[sk] {
			it[a] = &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
		}
		out = append(out, it)
	}
	return out
}
