package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"opsconsole/shared/apiclients"
	"opsconsole/shared/idempotency"
	"opsconsole/shared/identity"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
)

// clientItem reads API client id's item; ok false when it is gone.
func clientItem(t *testing.T, id string) (identity.ClientItem, bool) {
	t.Helper()
	var it identity.ClientItem
	switch err := st.Get(t0(), identity.ClientKey(id), &it); {
	case errors.Is(err, store.ErrNotFound):
		return it, false
	case err != nil:
		t.Fatal(err)
	}
	return it, true
}

// clientLeft lists what of API client id (Cognito user username) is still in the table
// or in Cognito: its item, its idempotency keys, its failed-token counters, its user.
func clientLeft(t *testing.T, id, username string) []string {
	t.Helper()
	var left []string
	if _, ok := clientItem(t, id); ok {
		left = append(left, "client item")
	}
	for _, pk := range []string{idempotency.CallerPK(id), throttle.PK(apiclients.TokenClientScope, id)} {
		if n := partitionSize(t, pk); n > 0 {
			left = append(left, fmt.Sprintf("%d items in %s", n, pk))
		}
	}
	if _, err := cognito.AdminGetUser(t0(), &cip.AdminGetUserInput{UserPoolId: &poolID, Username: &username}); err == nil {
		left = append(left, "Cognito user "+username)
	}
	return left
}

// TestAPIClientsSweptWithTheirNode: a partner's cascading delete removes the API
// clients of the partner and of the organization below it through the node sweeper:
// no item, idempotency key, failed-token counter or Cognito user of theirs is left,
// each gets one api_client.deleted entry by the system, and a token taken before is
// refused.
func TestAPIClientsSweptWithTheirNode(t *testing.T) {
	root := admin(t)
	dist := createDistributor(t, root, unique("Swept Clients D"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + dist.ID + "?cascade=true", token: root})
	})
	part := createPartner(t, root, dist.ID, unique("Swept Clients P"))
	org := createOrganization(t, root, part.ID, unique("Swept Clients O"))
	pc := createClient(t, root, map[string]any{"nodeId": part.ID, "name": "Partner sync", "role": "partner_admin"})
	oc := createClient(t, root, map[string]any{"nodeId": org.ID, "name": "Org sync", "role": "organization_admin"})
	revoked := createClient(t, root, map[string]any{"nodeId": part.ID, "name": "Old sync", "role": "partner_admin"})
	do(t, req{method: "POST", path: "/v1/api-clients/" + revoked.ID + "/revoke", token: root}).expect(t, 200)

	tok := clientToken(t, pc.ClientID, pc.ClientSecret)
	// What the partner's client leaves besides its item: an idempotency key (a client
	// is a caller) and a failed token request's counter.
	create(t, tok, "organizations", map[string]any{"partnerId": part.ID, "name": unique("Made by a client")})
	do(t, req{method: "POST", path: "/v1/organizations", token: tok, header: map[string]string{"Idempotency-Key": "swept-" + pc.ID},
		body: map[string]string{"partnerId": part.ID, "name": unique("Idem by a client")}}).expect(t, 201)
	tokenRefused(t, pc.ClientID, "cs_wrong", "invalid_client")

	users := map[string]string{}
	for _, c := range []apiClient{pc, oc, revoked} {
		it, ok := clientItem(t, c.ID)
		if !ok || it.CognitoUser == "" {
			t.Fatalf("client %s: item %+v", c.ID, it)
		}
		users[c.ID] = it.CognitoUser
	}
	t.Run("before the delete each client has its item and Cognito user, the partner's its key and counter", func(t *testing.T) {
		// So that the sweep below has them to remove (and the test could fail).
		for id, u := range users {
			if _, err := cognito.AdminGetUser(t0(), &cip.AdminGetUserInput{UserPoolId: &poolID, Username: &u}); err != nil {
				t.Fatalf("client %s: %v", id, err)
			}
		}
		if left := clientLeft(t, pc.ID, users[pc.ID]); len(left) != 4 {
			t.Fatalf("the partner's client has %v, want its item, a key, a counter and its user", left)
		}
	})

	do(t, req{method: "DELETE", path: "/v1/partners/" + part.ID + "?cascade=true", token: root}).expect(t, 202)
	t.Run("the cascade leaves nothing of the clients", func(t *testing.T) {
		eventually(t, 60*time.Second, func() error {
			for id, u := range users {
				if left := clientLeft(t, id, u); len(left) > 0 {
					return fmt.Errorf("client %s still has %v", id, left)
				}
			}
			return nil
		})
	})
	t.Run("the client's still-valid token is refused, and so is a new one", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/organizations?partnerId=" + part.ID, token: tok}).problem(t, 403, "client-refused")
		do(t, req{method: "GET", path: "/v1/api-clients/" + pc.ID, token: tok}).problem(t, 403, "client-refused")
		tokenRefused(t, pc.ClientID, pc.ClientSecret, "invalid_client")
	})
	t.Run("each client removed has one api_client.deleted entry by the system", func(t *testing.T) {
		var page struct {
			Items []struct {
				Action string `json:"action"`
				Actor  struct {
					UserID string `json:"userId"`
					Role   string `json:"role"`
				} `json:"actor"`
			} `json:"items"`
		}
		for id := range users {
			eventually(t, 30*time.Second, func() error {
				do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + id, token: root}).json(t, &page)
				n := 0
				for _, e := range page.Items {
					if e.Action == "api_client.deleted" {
						if e.Actor.UserID != "system" || e.Actor.Role != "system" {
							return fmt.Errorf("api_client.deleted by %+v", e.Actor)
						}
						n++
					}
				}
				if n != 1 {
					return fmt.Errorf("client %s: %d api_client.deleted entries among %+v", id, n, page.Items)
				}
				return nil
			})
		}
	})
}

// machineUsers are the pool's API-client users (usernames under api-clients.invalid).
func machineUsers(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	in := &cip.ListUsersInput{UserPoolId: &poolID}
	for {
		page, err := cognito.ListUsers(t0(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			// The pool's usernames are email addresses: Cognito may keep the sub as the
			// username and the address as the email attribute.
			names := []string{aws.ToString(u.Username)}
			for _, a := range u.Attributes {
				if aws.ToString(a.Name) == "email" {
					names = append(names, aws.ToString(a.Value))
				}
			}
			for _, name := range names {
				if strings.HasSuffix(name, "@api-clients.invalid") {
					out[name] = true
				}
			}
		}
		if aws.ToString(page.PaginationToken) == "" {
			return out
		}
		in.PaginationToken = page.PaginationToken
	}
}

// TestAPIClientCreateFailureLeavesNoCognitoUser: a create whose transaction fails
// after the client's Cognito user was made deletes that user. The failure is real, not
// injected: a create at a partner whose cascading delete has begun finds the partner
// (the loader reads it), makes the Cognito user, and then its transaction's check that
// the partner is in service fails (404 naming nodeId; a partner already gone answers
// 404 without the field, before any Cognito call, and the test tries again).
func TestAPIClientCreateFailureLeavesNoCognitoUser(t *testing.T) {
	root := admin(t)
	dist := createDistributor(t, root, unique("Orphan D"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + dist.ID + "?cascade=true", token: root})
	})
	for try := 1; ; try++ {
		// Children keep the partner there, marked, while the tree deleter works.
		part := createPartner(t, root, dist.ID, unique("Orphan P"))
		for i := range 3 {
			o := createOrganization(t, root, part.ID, fmt.Sprintf("Orphan O %d", i))
			createCompany(t, root, o.ID, "Orphan C")
		}
		before := machineUsers(t)
		do(t, req{method: "DELETE", path: "/v1/partners/" + part.ID + "?cascade=true", token: root}).expect(t, 202)
		res := do(t, req{method: "POST", path: "/v1/api-clients", token: root, body: map[string]any{"nodeId": part.ID, "name": "Too late", "role": "partner_admin"}})
		p := res.problem(t, 404, "not-found")
		var orphans []string
		for u := range machineUsers(t) {
			if !before[u] {
				orphans = append(orphans, u)
			}
		}
		if len(orphans) > 0 {
			t.Fatalf("the failed create left Cognito users %v", orphans)
		}
		for _, e := range p.Errors {
			if e.Field == "nodeId" {
				return // the transaction refused it, after the Cognito user was made
			}
		}
		if try == 3 {
			t.Fatal("in 3 tries the partner was gone before the create read it: the transaction's failure was never reached")
		}
		t.Logf("try %d: the partner was gone before the create read it; again", try)
	}
}
