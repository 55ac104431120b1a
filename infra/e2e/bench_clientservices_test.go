package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/clientservices"
	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// seedClientServices writes n client services of organization org straight into the
// table, each exactly as a create stores it (item, listing copy, alias claim), half
// of them inactive: creating 20,000 through the API would take minutes for nothing
// measured.
func seedClientServices(b *testing.B, org nodes.Item, n int) {
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
		it := clientservices.New(org.Node(), fmt.Sprintf("Seeded %06d", i), now)
		it.Attrs.Language = "en"
		if i%2 == 1 {
			it.Status = clientservices.StatusInactive
		}
		it.SetIndexKeys()
		for _, v := range []any{it, it.Listing(), clientservices.AliasClaim(it)} {
			av, err := attributevalue.MarshalMap(v)
			if err != nil {
				b.Fatal(err)
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
		}
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
}

// BenchmarkClientServiceListIsFlat shows that a page of client services costs the
// same round trips and read capacity whether the organization (and so its partner,
// distributor and the platform) holds 100 client services or 20,000, in every scope
// and with every filter: each page is one Query of one index partition, reading only
// the page.
func BenchmarkClientServiceListIsFlat(b *testing.B) {
	root := admin(b)
	sizes := []int{100, 20_000}
	type world struct {
		org                   nodes.Item
		orgTok, partTok, dTok string
	}
	worlds := make([]world, len(sizes))
	for i, n := range sizes {
		d := createDistributor(b, root, unique(fmt.Sprintf("CS Flat D%d", n)))
		p := createPartner(b, root, d.ID, unique(fmt.Sprintf("CS Flat P%d", n)))
		o := createOrganization(b, root, p.ID, unique(fmt.Sprintf("CS Flat O%d", n)))
		org := nodeOf(b, o.ID)
		start := time.Now()
		seedClientServices(b, org, n)
		b.Logf("seeded %d client services in %s", n, time.Since(start).Round(time.Millisecond))
		w := world{org: org}
		w.orgTok, _ = userAt(b, tree.RoleOrganizationAdmin, org)
		w.partTok, _ = userAt(b, tree.RolePartnerAdmin, nodeOf(b, p.ID))
		w.dTok, _ = userAt(b, tree.RoleDistributorAdmin, nodeOf(b, d.ID))
		worlds[i] = w
	}
	for i, n := range sizes {
		w := worlds[i]
		var cursor string
		for _, c := range []struct{ name, token, path string }{
			{"organization, first page", w.orgTok, "/v1/client-services?limit=25"},
			{"organization, page 2 by cursor", w.orgTok, ""},
			{"organization, by status", w.orgTok, "/v1/client-services?limit=25&status=inactive"},
			{"organization, alias prefix and status", w.orgTok, "/v1/client-services?limit=25&q=seeded%2000&status=active"},
			{"partner", w.partTok, "/v1/client-services?limit=25"},
			{"partner, by status", w.partTok, "/v1/client-services?limit=25&status=active"},
			{"distributor", w.dTok, "/v1/client-services?limit=25"},
			{"distributor, by organization", w.dTok, "/v1/client-services?limit=25&organizationId=" + w.org.ID},
			{"platform, by status", root, "/v1/client-services?limit=25&status=inactive"},
			{"platform, by partner and status", root, "/v1/client-services?limit=25&status=active&partnerId=" + w.org.Path[2]},
		} {
			b.Run(fmt.Sprintf("%s of %d", c.name, n), func(b *testing.B) {
				path := c.path
				if path == "" {
					if cursor == "" {
						var page clientServicePage
						do(b, req{method: "GET", path: "/v1/client-services?limit=25", token: c.token}).json(b, &page)
						cursor = aws.ToString(page.NextCursor)
					}
					path = "/v1/client-services?limit=25&cursor=" + urlq(cursor)
				}
				measure(b, func(b *testing.B) {
					var page clientServicePage
					do(b, req{method: "GET", path: path, token: c.token}).json(b, &page)
					if len(page.Items) != 25 {
						b.Fatalf("page of %d", len(page.Items))
					}
				})
			})
		}
	}
}
