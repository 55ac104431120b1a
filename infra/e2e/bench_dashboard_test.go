package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/counts"
	"opsconsole/shared/levels"
	"opsconsole/shared/licenses"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// bigBranch is what a distributor's subtree of 100,000 nodes (the distributor
// included) holds, as the tree counter counts it: 9 partners, each with 101
// organizations in every status, each organization with 10 companies (two virtual)
// and 99 end users, plus 20,000 console users and 30,000 licenses of every type and
// stored status, each expiring at its own second over the next ten years (the widest
// the expiry trie gets).
func bigBranch() []counts.Counted {
	var out []counts.Counted
	// id is a counted thing's own id: which shard of the distributor's totals counts it.
	id := func() string { return fmt.Sprintf("bench_%d", len(out)) }
	node := func(kind tree.Kind, status string, extra ...string) {
		out = append(out, counts.Counted{ID: id(), Facets: append([]string{counts.NodeFacet(string(kind), status)}, extra...)})
	}
	orgStatuses := levels.Organizations.Statuses
	for p := range 9 {
		node(tree.KindPartner, levels.Partners.Statuses[p%2])
		for o := range 101 {
			node(tree.KindOrganization, orgStatuses[o%len(orgStatuses)])
			for c := range 10 {
				if c < 2 {
					node(tree.KindCompany, levels.StatusActive, counts.VirtualFacet)
				} else {
					node(tree.KindCompany, levels.StatusActive)
				}
			}
			for e := range 99 {
				node(tree.KindEndUser, levels.EndUsers.Statuses[e%2])
			}
		}
	}
	for u := range 20_000 {
		out = append(out, counts.Counted{ID: id(), Facets: []string{counts.UserFacet([]string{"invited", "active", "deactivated"}[u%3])}})
	}
	start := time.Now()
	for l := range 30_000 {
		typ := licenses.Types[l%len(licenses.Types)]
		stored := []string{licenses.StatusActive, licenses.StatusInactive}[l%2]
		series, _ := counts.Series(typ, stored)
		until := nodes.Stamp(start.Add(time.Duration(l) * 10 * 365 * 24 * time.Hour / 30_000).Add(time.Duration(l%60) * time.Second))
		out = append(out, counts.Counted{ID: id(), Facets: []string{counts.LicenseFacet(typ, stored)}, Series: series, Until: until})
	}
	return out
}

// BenchmarkDashboardIsFlat shows that the dashboard costs the same round trips and
// read capacity for a branch of 10 nodes as for one of 100,000. The small branch is
// built through the API, so the tree counter counts it from the stream. The big one's
// totals are written straight into the table as the counter would leave them
// (counts.SeedItems sums the counter's own deltas over the 100,000 nodes, 20,000
// users and 30,000 licenses of bigBranch): sending that many records through the
// counter on DynamoDB Local would take most of an hour for nothing the dashboard
// reads differently.
func BenchmarkDashboardIsFlat(b *testing.B) {
	root := admin(b)
	small := createDistributor(b, root, unique("Dash Flat Small"))
	for i := range 3 {
		p := createPartner(b, root, small.ID, unique(fmt.Sprintf("Dash Flat P%d", i)))
		for j := range 2 {
			createOrganization(b, root, p.ID, unique(fmt.Sprintf("Dash Flat O%d%d", i, j)))
		}
	}
	createLicense(b, root, map[string]any{"nodeId": small.ID, "type": "agent", "name": "Flat", "validUntil": "2030-01-01T00:00:00Z"})
	big := createDistributor(b, root, unique("Dash Flat Big"))
	branch := bigBranch()
	seeded := counts.SeedItems(big.ID, branch, nodes.Stamp(time.Now()))
	var reqs []types.WriteRequest
	for _, it := range seeded {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		if len(reqs) == 25 {
			if err := batchWrite(reqs); err != nil {
				b.Fatal(err)
			}
			reqs = nil
		}
	}
	if err := batchWrite(reqs); err != nil {
		b.Fatal(err)
	}
	b.Logf("the big branch's totals: %d items for %d counted things", len(seeded), len(branch))
	distTok := map[string]string{}
	for _, d := range []distributor{small, big} {
		distTok[d.ID], _ = userAt(b, tree.RoleDistributorAdmin, nodeOf(b, d.ID))
	}
	for _, c := range []struct {
		name  string
		d     distributor
		nodes int
	}{{"10 nodes", small, 10}, {"100,000 nodes", big, 100_000}} {
		b.Run(c.name, func(b *testing.B) {
			var v struct {
				Totals struct {
					Partners, Organizations, Companies, EndUsers struct{ Count int }
				}
			}
			do(b, req{method: "GET", path: "/v1/dashboard?nodeId=" + c.d.ID, token: distTok[c.d.ID]}).json(b, &v)
			if got := 1 + v.Totals.Partners.Count + v.Totals.Organizations.Count + v.Totals.Companies.Count + v.Totals.EndUsers.Count; got != c.nodes {
				b.Fatalf("the dashboard counts %d nodes, want %d", got, c.nodes)
			}
			measure(b, func(b *testing.B) {
				do(b, req{method: "GET", path: "/v1/dashboard?nodeId=" + c.d.ID, token: distTok[c.d.ID]}).expect(b, 200)
			})
		})
	}
}

// transactionCounter is the table's real client, counting the items of the
// transactions sent through it: writes (Put, Update, Delete) and condition checks.
type transactionCounter struct {
	store.Client
	writes, checks int
}

func (c *transactionCounter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.ConditionCheck != nil {
			c.checks++
		} else {
			c.writes++
		}
	}
	return c.Client.TransactWriteItems(ctx, in, opts...)
}

// BenchmarkTreeCounterWritesPerChange meters what the tree counter does for one
// change of each kind below an organization (four ancestors: the platform, a
// distributor, a partner, the organization): the counter's real code is given one
// record, on an item id no record has used, and its DynamoDB calls, the capacity
// DynamoDB Local reports and the items of its transaction are counted.
func BenchmarkTreeCounterWritesPerChange(b *testing.B) {
	root := admin(b)
	d := createDistributor(b, root, unique("Counter Bench"))
	p := createPartner(b, root, d.ID, unique("Counter Bench P"))
	o := createOrganization(b, root, p.ID, unique("Counter Bench O"))
	lineage := nodeOf(b, o.ID).Node().Lineage()
	tc := &transactionCounter{Client: st.DB}
	consumer := &counts.Consumer{Store: &store.Store{DB: tc, Table: st.Table}}
	company := func(id string, v int, virtual bool) string {
		return fmt.Sprintf(`{"PK":{"S":"NODE#%[1]s"},"SK":{"S":"NODE"},"type":{"S":"node"},"id":{"S":"%[1]s"},"kind":{"S":"company"},"parentId":{"S":"%[2]s"},"path":{"L":%[3]s},"status":{"S":"active"},"version":{"N":"%[4]d"},"attrs":{"M":{"virtual":{"BOOL":%[5]t}}}}`,
			id, o.ID, listJSON(lineage), v, virtual)
	}
	user := func(id string, v int, status string) string {
		return fmt.Sprintf(`{"PK":{"S":"USER#%[1]s"},"SK":{"S":"USER"},"type":{"S":"user"},"id":{"S":"%[1]s"},"nodeId":{"S":"%[2]s"},"nodePath":{"L":%[3]s},"status":{"S":"%[5]s"},"version":{"N":"%[4]d"}}`,
			id, o.ID, listJSON(lineage[:len(lineage)-1]), v, status)
	}
	license := func(id string, v int, status, until string) string {
		u := ""
		if until != "" {
			u = fmt.Sprintf(`,"validUntil":{"S":"%s"}`, until)
		}
		return fmt.Sprintf(`{"PK":{"S":"LICENSE#%[1]s"},"SK":{"S":"LICENSE"},"type":{"S":"license"},"id":{"S":"%[1]s"},"parentId":{"S":"%[2]s"},"path":{"L":%[3]s},"status":{"S":"%[5]s"},"version":{"N":"%[4]d"},"attrs":{"M":{"type":{"S":"agent"}%[6]s}}}`,
			id, o.ID, listJSON(lineage), v, status, u)
	}
	rec := func(b *testing.B, name, sk, id, newImg, oldImg string) events.DynamoDBEventRecord {
		raw := fmt.Sprintf(`{"eventName":%q,"dynamodb":{"SequenceNumber":"1","Keys":{"PK":{"S":%q},"SK":{"S":%q}}`, name, sk+"#"+id, sk)
		if newImg != "" {
			raw += `,"NewImage":` + newImg
		}
		if oldImg != "" {
			raw += `,"OldImage":` + oldImg
		}
		raw += `}}`
		var r events.DynamoDBEventRecord
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			b.Fatal(err)
		}
		return r
	}
	in := "2031-06-01T12:00:00Z"
	cases := []struct {
		name string
		// setup is delivered first, unmetered; change is metered.
		setup, change func(b *testing.B, id string) []events.DynamoDBEventRecord
	}{
		{"company created (4 ancestors, a virtual one)", nil, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "NODE", id, company(id, 1, true), "")}
		}},
		{"console user activated", func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "USER", id, user(id, 1, "invited"), "")}
		}, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "MODIFY", "USER", id, user(id, 2, "active"), user(id, 1, "invited"))}
		}},
		{"license created without validUntil", nil, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "LICENSE", id, license(id, 1, "active", ""), "")}
		}},
		{"license created with validUntil", nil, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "LICENSE", id, license(id, 1, "active", in), "")}
		}},
		{"license with validUntil deactivated", func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "LICENSE", id, license(id, 1, "active", in), "")}
		}, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "MODIFY", "LICENSE", id, license(id, 2, "inactive", in), license(id, 1, "active", in))}
		}},
		{"license's validUntil moved by a year", func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "LICENSE", id, license(id, 1, "active", in), "")}
		}, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "MODIFY", "LICENSE", id, license(id, 2, "active", "2032-07-02T13:01:01Z"), license(id, 1, "active", in))}
		}},
		{"license with validUntil deleted", func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "LICENSE", id, license(id, 1, "active", in), "")}
		}, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "REMOVE", "LICENSE", id, "", license(id, 1, "active", in))}
		}},
		{"a replayed record", func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "LICENSE", id, license(id, 1, "active", in), "")}
		}, func(b *testing.B, id string) []events.DynamoDBEventRecord {
			return []events.DynamoDBEventRecord{rec(b, "INSERT", "LICENSE", id, license(id, 1, "active", in), "")}
		}},
	}
	n := 0
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var calls, writes, checks int
			var read, write float64
			for range b.N {
				n++
				id := fmt.Sprintf("bench%d%d", time.Now().UnixNano(), n)
				if c.setup != nil {
					if res, err := consumer.Handle(invokeCtx(), events.DynamoDBEvent{Records: c.setup(b, id)}); err != nil || len(res.BatchItemFailures) > 0 {
						b.Fatalf("setup: %v %+v", err, res)
					}
				}
				ctx, m := store.WithMeter(invokeCtx())
				tc.writes, tc.checks = 0, 0
				if res, err := consumer.Handle(ctx, events.DynamoDBEvent{Records: c.change(b, id)}); err != nil || len(res.BatchItemFailures) > 0 {
					b.Fatalf("change: %v %+v", err, res)
				}
				r, w := m.Units()
				calls, read, write = calls+m.RoundTrips(), read+r, write+w
				writes, checks = writes+tc.writes, checks+tc.checks
			}
			b.ReportMetric(float64(calls)/float64(b.N), "ddb-calls/op")
			b.ReportMetric(float64(writes)/float64(b.N), "tx-writes/op")
			b.ReportMetric(float64(checks)/float64(b.N), "tx-checks/op")
			b.ReportMetric(read/float64(b.N), "RCU/op")
			b.ReportMetric(write/float64(b.N), "WCU/op")
		})
	}
}

func listJSON(ids []string) string {
	var parts []map[string]string
	for _, id := range ids {
		parts = append(parts, map[string]string{"S": id})
	}
	raw, _ := json.Marshal(parts)
	return string(raw)
}
