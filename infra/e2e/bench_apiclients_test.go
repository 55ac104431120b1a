package e2e

import (
	"testing"

	"opsconsole/shared/tree"
)

// BenchmarkAPIClientPath measures the DynamoDB cost of the token endpoint and of an
// authorized call made with an API client's token beside the same call made with a
// person's token of the same role at the same node (the README's figures):
// go test ./infra/e2e/ -run '^$' -bench APIClientPath -benchtime=20x
// Neither kind of token invokes an authorizer function: API Gateway's JWT authorizer
// checks both (the local gateway emulates it).
func BenchmarkAPIClientPath(b *testing.B) {
	root := admin(b)
	d := createDistributor(b, root, unique("Bench Clients"))
	p := createPartner(b, root, d.ID, unique("Bench Clients"))
	o := createOrganization(b, root, p.ID, unique("Bench Clients Org"))
	person, _ := userAt(b, tree.RolePartnerAdmin, nodeOf(b, p.ID))
	c := createClient(b, person, map[string]any{"nodeId": p.ID, "name": "Bench", "role": "partner_admin"})
	b.Run("token (client credentials, Basic)", func(b *testing.B) {
		measure(b, func(b *testing.B) {
			if res := tokenRequest(b, c.ClientID, c.ClientSecret, true); res.Status != 200 {
				b.Fatalf("token: %d %s", res.Status, res.Body)
			}
		})
	})
	machine := clientToken(b, c.ClientID, c.ClientSecret)
	for _, who := range []struct{ name, token string }{{"person", person}, {"API client", machine}} {
		b.Run("get an organization as a partner "+who.name, func(b *testing.B) {
			measure(b, func(b *testing.B) {
				if res := do(b, req{method: "GET", path: "/v1/organizations/" + o.ID, token: who.token}); res.Status != 200 {
					b.Fatalf("get: %d %s", res.Status, res.Body)
				}
			})
		})
		b.Run("list the partner's organizations as a partner "+who.name, func(b *testing.B) {
			measure(b, func(b *testing.B) {
				if res := do(b, req{method: "GET", path: "/v1/organizations?limit=25&partnerId=" + p.ID, token: who.token}); res.Status != 200 {
					b.Fatalf("list: %d %s", res.Status, res.Body)
				}
			})
		})
	}
}
