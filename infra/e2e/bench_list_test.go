package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/levels"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// seedOrganizations writes n organizations under partner straight into the table,
// each exactly as a create stores it (item, index keys, name claim) and counted on the
// partner: creating 50,000 through the API would take minutes for nothing measured.
func seedOrganizations(b *testing.B, partner nodes.Item, n int) {
	b.Helper()
	now := time.Now()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	batches := make(chan []types.WriteRequest)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reqs := range batches {
				if err := batchWrite(reqs); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		}()
	}
	var reqs []types.WriteRequest
	for i := range n {
		it := levels.Organizations.NewItem(partner.Node(), fmt.Sprintf("Seeded %06d", i), now)
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			b.Fatal(err)
		}
		name, err := attributevalue.MarshalMap(nodes.NameOf(it))
		if err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs,
			types.WriteRequest{PutRequest: &types.PutRequest{Item: av}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: name}})
		if len(reqs) == 24 || i == n-1 {
			batches <- reqs
			reqs = nil
		}
	}
	close(batches)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
	add, err := store.Add(nodes.Key(partner.ID), "children", n)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Transact(t0(), add); err != nil {
		b.Fatal(err)
	}
}

func batchWrite(reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{st.Table: reqs}
	for attempt := 0; len(pending[st.Table]) > 0; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("batch write: items left unprocessed")
		}
		res, err := st.DB.BatchWriteItem(t0(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return err
		}
		pending = res.UnprocessedItems
		if len(pending[st.Table]) > 0 {
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
		}
	}
	return nil
}

// BenchmarkOrganizationListIsFlat shows that a page of organizations costs the same
// read capacity whether the partner has 1,000 organizations or 50,000: each page is
// one Query of one index partition, reading only the page.
func BenchmarkOrganizationListIsFlat(b *testing.B) {
	root := admin(b)
	d := createDistributor(b, root, unique("Flat D"))
	sizes := []int{1_000, 50_000}
	partners := make([]nodes.Item, len(sizes))
	tokens := make([]string, len(sizes))
	for i, n := range sizes {
		p := createPartner(b, root, d.ID, unique(fmt.Sprintf("Flat P%d", n)))
		partners[i] = nodeOf(b, p.ID)
		start := time.Now()
		seedOrganizations(b, partners[i], n)
		b.Logf("seeded %d organizations in %s", n, time.Since(start).Round(time.Millisecond))
		tokens[i], _ = userAt(b, tree.RolePartnerAdmin, partners[i])
	}
	for i, n := range sizes {
		var cursor string
		for _, c := range []struct{ name, path string }{
			{"first page", "/v1/organizations?limit=25"},
			{"page 2 by cursor", ""},
			{"name search", "/v1/organizations?limit=25&q=seeded%2000"},
			{"by status", "/v1/organizations?limit=25&status=approved"},
		} {
			b.Run(fmt.Sprintf("%s of a partner with %d", c.name, n), func(b *testing.B) {
				path := c.path
				if path == "" {
					if cursor == "" {
						var page nodePage
						do(b, req{method: "GET", path: "/v1/organizations?limit=25", token: tokens[i]}).json(b, &page)
						cursor = aws.ToString(page.NextCursor)
					}
					path = "/v1/organizations?limit=25&cursor=" + urlq(cursor)
				}
				measure(b, func(b *testing.B) {
					var page nodePage
					do(b, req{method: "GET", path: path, token: tokens[i]}).json(b, &page)
					if len(page.Items) != 25 {
						b.Fatalf("page of %d", len(page.Items))
					}
				})
			})
		}
	}
}

// BenchmarkPlatformOrganizationList measures the platform admin's organization list,
// whose partitions are sharded (nodes.PlatformShards): a page is one Query per shard,
// in parallel, so one round trip in sequence (ddb-sequential/op) for PlatformShards
// calls, each reading up to a page.
func BenchmarkPlatformOrganizationList(b *testing.B) {
	root := admin(b)
	d := createDistributor(b, root, unique("Shard D"))
	p := createPartner(b, root, d.ID, unique("Shard P"))
	seedOrganizations(b, nodeOf(b, p.ID), 2_000)
	var cursor string
	for _, c := range []struct{ name, path string }{
		{"first page across the platform", "/v1/organizations?limit=25"},
		{"page 2 across the platform by cursor", ""},
		{"by status across the platform", "/v1/organizations?limit=25&status=approved"},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := c.path
			if path == "" {
				if cursor == "" {
					var page nodePage
					do(b, req{method: "GET", path: "/v1/organizations?limit=25", token: root}).json(b, &page)
					cursor = aws.ToString(page.NextCursor)
				}
				path = "/v1/organizations?limit=25&cursor=" + urlq(cursor)
			}
			measure(b, func(b *testing.B) {
				var page nodePage
				do(b, req{method: "GET", path: path, token: root}).json(b, &page)
				if len(page.Items) != 25 {
					b.Fatalf("page of %d", len(page.Items))
				}
			})
		})
	}
}

// BenchmarkLowerLevelOperations measures what the levels below the partner cost:
// organizations carry four more index entries (GSI3–GSI6) than the other levels.
func BenchmarkLowerLevelOperations(b *testing.B) {
	root := admin(b)
	d := createDistributor(b, root, unique("Lower D"))
	p := createPartner(b, root, d.ID, unique("Lower P"))
	org := createOrganization(b, root, p.ID, unique("Lower O"))
	company := createCompany(b, root, org.ID, unique("Lower C"))
	orgAdmin, _ := userAt(b, tree.RoleOrganizationAdmin, nodeOf(b, org.ID))
	cmpAdmin, _ := userAt(b, tree.RoleCompanyAdmin, nodeOf(b, company.ID))
	b.Run("create an organization as the platform admin", func(b *testing.B) {
		measure(b, func(b *testing.B) { createOrganization(b, root, p.ID, unique("Bench O")) })
	})
	b.Run("deactivate and reactivate an organization", func(b *testing.B) {
		target := createOrganization(b, root, p.ID, unique("Bench Toggle"))
		verb := []string{"deactivate", "reactivate"}
		n := 0
		measure(b, func(b *testing.B) {
			do(b, req{method: "POST", path: "/v1/organizations/" + target.ID + "/" + verb[n%2], token: root}).expect(b, 200)
			n++
		})
	})
	b.Run("create a company as an organization admin", func(b *testing.B) {
		measure(b, func(b *testing.B) { createCompany(b, orgAdmin, org.ID, unique("Bench C")) })
	})
	b.Run("create an end user as a company admin", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			createEndUser(b, cmpAdmin, company.ID, fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano()))
		})
	})
	b.Run("delete an end user as a company admin", func(b *testing.B) {
		var victims []node
		for range b.N {
			victims = append(victims, createEndUser(b, cmpAdmin, company.ID, fmt.Sprintf("gone-%d@example.com", time.Now().UnixNano())))
		}
		n := 0
		measure(b, func(b *testing.B) {
			do(b, req{method: "DELETE", path: "/v1/end-users/" + victims[n].ID, token: cmpAdmin}).expect(b, 204)
			n++
		})
	})
}
