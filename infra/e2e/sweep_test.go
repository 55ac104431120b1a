package e2e

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/idempotency"
	"opsconsole/shared/identity"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// TestDeletesLeaveNothingBehind: deleting a node (a cascade of an organization, a
// childless company, an end-user record) removes its console users with everything
// they own, through the node sweeper behind the table's stream, and frees their
// emails: the same addresses are invited elsewhere right after.
func TestDeletesLeaveNothingBehind(t *testing.T) {
	tok := admin(t)
	dist := createDistributor(t, tok, unique("Sweep D"))
	p := createPartner(t, tok, dist.ID, unique("Sweep P"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + dist.ID + "?cascade=true", token: tok})
	})
	other := createOrganization(t, tok, p.ID, unique("Sweep Elsewhere"))
	otherCompany := createCompany(t, tok, other.ID, unique("Sweep Elsewhere C"))

	o := createOrganization(t, tok, p.ID, unique("Sweep O"))
	c := createCompany(t, tok, o.ID, unique("Sweep C"))
	orgAdmin := inviteUser(t, tok, o.ID, tree.RoleOrganizationAdmin, testEmail("sweep-org"))
	companyAdmin := inviteUser(t, tok, c.ID, tree.RoleCompanyAdmin, testEmail("sweep-company"))
	rec := createEndUser(t, tok, c.ID, testEmail("sweep-end"))
	res := do(t, req{method: "POST", path: "/v1/end-users/" + rec.ID + "/invite", token: tok})
	res.expect(t, 201)
	var endUser userView
	res.json(t, &endUser)
	// What the organization admin leaves in the table besides their user item: an
	// idempotency key and a counted forgotten-password request.
	owned := []userView{orgAdmin, companyAdmin, endUser}
	activate(t, activationToken(t, orgAdmin.Email), newPassword).expect(t, 204)
	orgTok := login(t, orgAdmin.Email, newPassword)
	do(t, req{method: "POST", path: "/v1/companies", token: orgTok, header: map[string]string{"Idempotency-Key": "sweep-" + o.ID},
		body: map[string]string{"organizationId": o.ID, "name": unique("Sweep Idem")}}).expect(t, 201)
	do(t, req{method: "POST", path: "/v1/auth/password/forgot", body: map[string]string{"email": orgAdmin.Email}}).expect(t, 202)
	t.Run("the organization admin owns an idempotency key and a counter", func(t *testing.T) {
		// So that the sweep below has them to remove (and the test could fail).
		if n := partitionSize(t, idempotency.CallerPK(orgAdmin.ID)); n != 1 {
			t.Fatalf("%d idempotency keys, want 1", n)
		}
		scopes, values := identity.EmailCounters(orgAdmin.Email)
		if n := partitionSize(t, throttle.PK(scopes[1], values[1])); n == 0 {
			t.Fatalf("no %s counter", scopes[1])
		}
		// And the organization and the company their invitations' counters.
		for _, id := range []string{o.ID, c.ID} {
			if n := partitionSize(t, invitationsPK(id)); n == 0 {
				t.Fatalf("no invitations counter of %s", id)
			}
		}
	})

	t.Run("the organization's cascade removes every user of its branch", func(t *testing.T) {
		do(t, req{method: "DELETE", path: "/v1/organizations/" + o.ID + "?cascade=true", token: tok}).expect(t, 202)
		eventually(t, 60*time.Second, func() error {
			for _, u := range owned {
				if left := leftOf(t, u); len(left) > 0 {
					return fmt.Errorf("%s still has %v", u.Email, left)
				}
			}
			for _, id := range []string{o.ID, c.ID} {
				if n := partitionSize(t, invitationsPK(id)); n > 0 {
					return fmt.Errorf("%s still has its invitations counter", id)
				}
			}
			return nil
		})
	})
	t.Run("their emails are invited elsewhere", func(t *testing.T) {
		for _, u := range owned {
			inviteUser(t, tok, otherCompany.ID, tree.RoleCompanyAdmin, u.Email)
		}
	})
	t.Run("the audit log says the service removed them", func(t *testing.T) {
		var page struct {
			Items []struct {
				Action string `json:"action"`
				Actor  struct {
					UserID string `json:"userId"`
					Role   string `json:"role"`
				} `json:"actor"`
			} `json:"items"`
		}
		eventually(t, 30*time.Second, func() error {
			do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + orgAdmin.ID, token: tok}).json(t, &page)
			for _, e := range page.Items {
				if e.Action == "user.deleted" && e.Actor.UserID == "system" && e.Actor.Role == "system" {
					return nil
				}
			}
			return fmt.Errorf("no user.deleted by system among %+v", page.Items)
		})
	})

	t.Run("an end-user record's deletion removes its account", func(t *testing.T) {
		rec := createEndUser(t, tok, otherCompany.ID, testEmail("sweep-end2"))
		res := do(t, req{method: "POST", path: "/v1/end-users/" + rec.ID + "/invite", token: tok})
		res.expect(t, 201)
		var u userView
		res.json(t, &u)
		do(t, req{method: "DELETE", path: "/v1/end-users/" + rec.ID, token: tok}).expect(t, 204)
		eventually(t, 30*time.Second, func() error {
			if left := leftOf(t, u); len(left) > 0 {
				return fmt.Errorf("still %v", left)
			}
			return nil
		})
		createEndUser(t, tok, otherCompany.ID, u.Email)
		inviteUser(t, tok, other.ID, tree.RoleOrganizationAdmin, u.Email)
	})
}

// leftOf lists what of user u is still in the table or in Cognito.
func leftOf(t *testing.T, u userView) []string {
	t.Helper()
	var left []string
	items := map[string]store.Item{
		"user item":      identity.UserKey(u.ID),
		"email":          identity.EmailKey(u.Email),
		"password reset": identity.ResetKey(u.ID),
	}
	for what, k := range items {
		var any map[string]any
		if err := st.Get(t0(), k, &any); err == nil {
			left = append(left, what)
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	for _, pk := range []string{idempotency.CallerPK(u.ID)} {
		if n := partitionSize(t, pk); n > 0 {
			left = append(left, fmt.Sprintf("%d items in %s", n, pk))
		}
	}
	scopes, values := identity.EmailCounters(u.Email)
	for i := range scopes {
		if n := partitionSize(t, throttle.PK(scopes[i], values[i])); n > 0 {
			left = append(left, fmt.Sprintf("%d %s counters", n, scopes[i]))
		}
	}
	if _, err := cognito.AdminGetUser(t0(), &cip.AdminGetUserInput{UserPoolId: &poolID, Username: &u.Email}); err == nil {
		left = append(left, "Cognito account")
	}
	return left
}

// partitionSize counts the items of partition pk.
func partitionSize(t *testing.T, pk string) int {
	t.Helper()
	r, err := st.QueryOnce(t0(), dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: store.Item{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(r.Items)
}

// invitationsPK is the partition of node id's invitations counters.
func invitationsPK(id string) string {
	return throttle.PK(throttle.NodeScope(throttle.Invitations), id)
}
