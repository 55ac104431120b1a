package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/levels"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// TestImpersonationInsideBlockedOrganization: a login-as session acts inside an
// organization only while its own users could: a pending organization (signed up,
// not yet approved), a rejected one, a deactivated one and one being deleted refuse
// the session exactly as they refuse their own users (403 branch-suspended), whether
// it acts as the organization or as a company below it. The same rule (tree.Blocks,
// nodes.Blocking) serves both checks; before, login-as knew only two of the statuses.
func TestImpersonationInsideBlockedOrganization(t *testing.T) {
	root := admin(t)
	_, part := partnerTree(t)
	partnerTok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, part.ID))
	do(t, req{method: "PUT", path: "/v1/partners/" + part.ID + "/signup", token: root, body: map[string]bool{"enabled": true}}).expect(t, 200)

	// signedUp makes an organization the way applicants do: it is pending.
	signedUp := func(t *testing.T) string {
		t.Helper()
		email := testEmail("blocked-login-as")
		signUp(t, part.ID, unique("Blocked Login-as Org"), email).expect(t, 202)
		token, _ := verificationToken(t, email)
		var v struct{ OrganizationID, Status string }
		verify(t, token).json(t, &v)
		if v.Status != "pending" {
			t.Fatalf("verified %+v", v)
		}
		return v.OrganizationID
	}
	// sessions start one session into the organization and one into a company below
	// it (the company is written directly: a pending organization takes no children
	// through the API until it is approved).
	sessions := func(t *testing.T, orgID string) []string {
		t.Helper()
		org := nodeOf(t, orgID)
		company := createCompanyDirect(t, org)
		return []string{
			startSession(t, partnerTok, map[string]any{"nodeId": orgID}).ID,
			startSession(t, partnerTok, map[string]any{"nodeId": company.ID}).ID,
		}
	}
	refused := func(t *testing.T, ids []string) {
		t.Helper()
		for _, id := range ids {
			do(t, req{method: "GET", path: "/v1/users?limit=1", token: partnerTok, header: actAs(id)}).problem(t, 403, "branch-suspended")
		}
		// The partner admin, as themselves, is not blocked.
		do(t, req{method: "GET", path: "/v1/me", token: partnerTok}).expect(t, 200)
	}
	allowed := func(t *testing.T, ids []string) {
		t.Helper()
		for _, id := range ids {
			do(t, req{method: "GET", path: "/v1/users?limit=1", token: partnerTok, header: actAs(id)}).expect(t, 200)
		}
	}

	t.Run("pending", func(t *testing.T) {
		refused(t, sessions(t, signedUp(t)))
	})
	t.Run("rejected", func(t *testing.T) {
		id := signedUp(t)
		ids := sessions(t, id)
		do(t, req{method: "POST", path: "/v1/organizations/" + id + "/reject", token: partnerTok,
			body: map[string]string{"reason": "Not in our region."}}).expect(t, 200)
		refused(t, ids)
	})
	t.Run("deactivated, and reactivated again", func(t *testing.T) {
		o := createOrganization(t, root, part.ID, unique("Blocked Login-as Org"))
		ids := sessions(t, o.ID)
		allowed(t, ids)
		do(t, req{method: "POST", path: "/v1/organizations/" + o.ID + "/deactivate", token: partnerTok}).expect(t, 200)
		refused(t, ids)
		do(t, req{method: "POST", path: "/v1/organizations/" + o.ID + "/reactivate", token: partnerTok}).expect(t, 200)
		allowed(t, ids)
	})
	t.Run("being deleted", func(t *testing.T) {
		o := createOrganization(t, root, part.ID, unique("Blocked Login-as Org"))
		ids := sessions(t, o.ID)
		allowed(t, ids)
		// The mark a cascading delete sets first (shared/cascade), set here without
		// starting the cascade, which would remove the organization at once.
		setAttr(t, nodes.Key(o.ID), nodes.DeletingAttr, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"jobId": &types.AttributeValueMemberS{Value: "sample"}}})
		refused(t, ids)
		removeAttr(t, nodes.Key(o.ID), nodes.DeletingAttr)
		allowed(t, ids)
	})
}

// createCompanyDirect writes a company under org straight to the table, in the
// transaction the API's create makes (node, name, parent's counter).
func createCompanyDirect(t *testing.T, org nodes.Item) nodes.Item {
	t.Helper()
	it := levels.Companies.NewItem(org.Node(), unique("Direct Company"), time.Now())
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		t.Fatal(err)
	}
	claim, err := nodes.ClaimName(it, nil)
	if err != nil {
		t.Fatal(err)
	}
	count, err := nodes.CountChild(org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Transact(t0(), put, claim, count); err != nil {
		t.Fatal(err)
	}
	return it
}
