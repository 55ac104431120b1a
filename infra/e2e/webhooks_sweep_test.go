package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/store"
	"opsconsole/shared/webhooks"
)

// TestWebhookEndpointsGoWithTheirNode: a cascading delete of an organization removes
// its webhook endpoints, active and pending, through the node sweeper, each with a
// webhook-endpoint.deleted entry by the system; read from the raw table, nothing of
// them is left but their audit entries (kept by design) and their deliveries, which
// expire by TTL 30 days after their event (docs/webhooks.md).
func TestWebhookEndpointsGoWithTheirNode(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	org := createOrganization(t, tok, part.ID, unique("Swept Hooks"))
	rcv := newReceiver(t)
	active := activeEndpoint(t, tok, org.ID, rcv, "*")
	wrong := newReceiver(t)
	wrong.challenge = func(w http.ResponseWriter, c string) { w.WriteHeader(http.StatusOK) }
	pending := createEndpoint(t, tok, org.ID, wrong.srv.URL+"/hooks", "company.*")
	co := createCompany(t, tok, org.ID, unique("Swept Hooks C"))
	// A delivery in the active endpoint's log, so that there is one to stay.
	waitHooks(t, 20*time.Second, "company.created", func() int { return len(rcv.about(co.ID)) }, 1)
	ids := []string{active.ID, pending.ID}

	do(t, req{method: "DELETE", path: "/v1/organizations/" + org.ID + "?cascade=true", token: tok}).expect(t, 202)
	eventually(t, 60*time.Second, func() error {
		for _, id := range ids {
			var it map[string]any
			if err := st.Get(t0(), webhooks.Key(id), &it); err == nil {
				return fmt.Errorf("endpoint %s is still there", id)
			}
		}
		return nil
	})

	t.Run("the raw table holds nothing of them but audit entries and expiring deliveries", func(t *testing.T) {
		limit := time.Now().Add(webhooks.DeliveryRetention + time.Hour).Unix()
		for _, id := range ids {
			for _, it := range itemsNaming(t, id) {
				pk, sk, typ := strAttr(it, "PK"), strAttr(it, "SK"), strAttr(it, "type")
				switch {
				case typ == "audit":
				case typ == webhooks.DeliveryType && pk == webhooks.PK(id) && strings.HasPrefix(sk, webhooks.DeliveryPrefix):
					exp, err := strconv.ParseInt(numAttr(it, "expiresAt"), 10, 64)
					if err != nil || exp <= 0 || exp > limit {
						t.Errorf("delivery %s %s: expiresAt %q, want within %s", pk, sk, numAttr(it, "expiresAt"), webhooks.DeliveryRetention)
					}
				default:
					t.Errorf("left of endpoint %s: %s / %s (type %q)", id, pk, sk, typ)
				}
			}
		}
		for _, status := range append([]string{""}, webhooks.Statuses...) {
			index := "GSI1"
			if status != "" {
				index = "GSI2"
			}
			r, err := st.QueryOnce(t0(), dynamodb.QueryInput{
				IndexName:                 aws.String(index),
				KeyConditionExpression:    aws.String(index + "PK = :pk"),
				ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: webhooks.ScopeKey(org.ID, status)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Items) > 0 {
				t.Errorf("%s %s still lists %d endpoints", index, webhooks.ScopeKey(org.ID, status), len(r.Items))
			}
		}
	})
	t.Run("the API knows them no more", func(t *testing.T) {
		for _, id := range ids {
			do(t, req{method: "GET", path: "/v1/webhook-endpoints/" + id, token: tok}).expect(t, 404)
		}
	})
	t.Run("the audit log says the service removed each", func(t *testing.T) {
		for _, id := range ids {
			eventually(t, 30*time.Second, func() error {
				var page struct {
					Items []sweptEntry `json:"items"`
				}
				do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + id, token: tok}).json(t, &page)
				if !slices.ContainsFunc(page.Items, func(e sweptEntry) bool {
					return e.Action == "webhook-endpoint.deleted" && e.Actor.UserID == "system" && e.Actor.Role == "system"
				}) {
					return fmt.Errorf("no webhook-endpoint.deleted by system for %s among %+v", id, page.Items)
				}
				return nil
			})
		}
	})
}

// sweptEntry is what the test reads of an audit entry.
type sweptEntry struct {
	Action string `json:"action"`
	Actor  struct {
		UserID string `json:"userId"`
		Role   string `json:"role"`
	} `json:"actor"`
}

// scanner is the DynamoDB client's Scan, which the store does not offer (no request
// path scans); the tests read the raw table with it.
type scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// itemsNaming scans the whole table for the items whose keys, index keys, id or
// endpointId name id.
func itemsNaming(t *testing.T, id string) []store.Item {
	t.Helper()
	db, ok := st.DB.(scanner)
	if !ok {
		t.Fatalf("the store's client %T cannot scan", st.DB)
	}
	in := &dynamodb.ScanInput{
		TableName: aws.String(st.Table),
		FilterExpression: aws.String("contains(PK, :id) OR contains(SK, :id) OR contains(GSI1PK, :id) OR contains(GSI1SK, :id) " +
			"OR contains(GSI2PK, :id) OR contains(GSI2SK, :id) OR id = :id OR endpointId = :id"),
		ExpressionAttributeValues: store.Item{":id": &types.AttributeValueMemberS{Value: id}},
	}
	var out []store.Item
	for {
		r, err := db.Scan(t0(), in)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Items...)
		if len(r.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = r.LastEvaluatedKey
	}
}

func strAttr(it store.Item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func numAttr(it store.Item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}
