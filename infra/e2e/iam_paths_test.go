package e2e

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/identity"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// The paths below were granted in template.yaml and reached by no other test: the
// IAM check (iam_test.go) found them unused. Each is behaviour worth pinning too.

// TestRenamesBelowTheDistributors renames a partner, a company and an end-user record:
// the rename releases the old name's unique item (DeleteItem) and claims the new one.
func TestRenamesBelowTheDistributors(t *testing.T) {
	_, part := partnerTree(t)
	root := admin(t)
	org := createOrganization(t, root, part.ID, unique("Rename Org"))
	co := createCompany(t, root, org.ID, unique("Rename Company"))
	eu := createEndUser(t, root, co.ID, testEmail("rename-enduser"))
	for _, tc := range []struct {
		path, field, value string
	}{
		{"/v1/partners/" + part.ID, "name", unique("Renamed Partner")},
		{"/v1/companies/" + co.ID, "name", unique("Renamed Company")},
		{"/v1/end-users/" + eu.ID, "email", testEmail("renamed-enduser")},
	} {
		res := do(t, req{method: "PATCH", path: tc.path, token: root, body: map[string]string{tc.field: tc.value},
			header: map[string]string{"If-Match": `"1"`}})
		if res.Status != http.StatusOK {
			t.Fatalf("PATCH %s: %d %s", tc.path, res.Status, res.Body)
		}
		var got map[string]any
		res.json(t, &got)
		if got[tc.field] != tc.value {
			t.Errorf("PATCH %s: %s = %v, want %s", tc.path, tc.field, got[tc.field], tc.value)
		}
	}
}

// TestPartnersListByStatus lists a distributor's partners by status (GSI2).
func TestPartnersListByStatus(t *testing.T) {
	dist, part := partnerTree(t)
	root := admin(t)
	eventuallyListed(t, root, "/v1/partners?distributorId="+dist.ID+"&status=active", part.ID, true)
	if got := listNodes(t, root, "/v1/partners?distributorId="+dist.ID+"&status=suspended"); len(got) != 0 {
		t.Errorf("suspended partners: %v", got)
	}
}

// TestInvitationsAdoptAnOrphanAccount: a Cognito account whose email no user item
// holds (what a failed invitation or deletion may leave) is adopted by the next
// invitation of that email, console user or end user, instead of failing it.
func TestInvitationsAdoptAnOrphanAccount(t *testing.T) {
	_, part := partnerTree(t)
	root := admin(t)
	t.Run("console user", func(t *testing.T) {
		email := testEmail("orphan-user")
		sub := orphanAccount(t, email)
		u := inviteUser(t, root, part.ID, tree.RolePartnerAdmin, email)
		if u.ID != sub || u.Status != "invited" {
			t.Errorf("invited %+v, want the orphan's id %s", u, sub)
		}
		enabled(t, email)
	})
	t.Run("end user", func(t *testing.T) {
		org := createOrganization(t, root, part.ID, unique("Orphan Org"))
		co := createCompany(t, root, org.ID, unique("Orphan Company"))
		email := testEmail("orphan-enduser")
		rec := createEndUser(t, root, co.ID, email)
		sub := orphanAccount(t, email)
		res := do(t, req{method: "POST", path: "/v1/end-users/" + rec.ID + "/invite", token: root})
		if res.Status != http.StatusCreated {
			t.Fatalf("invite: %d %s", res.Status, res.Body)
		}
		var u userView
		res.json(t, &u)
		if u.ID != sub {
			t.Errorf("invited %+v, want the orphan's id %s", u, sub)
		}
		enabled(t, email)
	})
	t.Run("applicant of an approved signup", func(t *testing.T) {
		do(t, req{method: "PUT", path: "/v1/partners/" + part.ID + "/signup", token: root, body: map[string]bool{"enabled": true}}).expect(t, http.StatusOK)
		email := testEmail("orphan-applicant")
		signUp(t, part.ID, unique("Orphan Signup"), email).expect(t, http.StatusAccepted)
		token, _ := verificationToken(t, email)
		var v struct{ OrganizationID string }
		verify(t, token).json(t, &v)
		sub := orphanAccount(t, email)
		res := do(t, req{method: "POST", path: "/v1/organizations/" + v.OrganizationID + "/approve", token: root, header: map[string]string{"If-Match": `"1"`}})
		if res.Status != http.StatusOK {
			t.Fatalf("approve: %d %s", res.Status, res.Body)
		}
		var u identity.UserItem
		if err := st.Get(t0(), store.Key("USER#"+sub, "USER"), &u); err != nil || u.Email != email {
			t.Fatalf("the applicant's user item under the orphan's sub: %+v, %v", u, err)
		}
		enabled(t, email)
	})
}

// orphanAccount makes a disabled Cognito account for email that no user item holds,
// as a failed invitation or deletion may leave, and returns its sub.
func orphanAccount(t *testing.T, email string) string {
	t.Helper()
	out, err := cognito.AdminCreateUser(t0(), &cip.AdminCreateUserInput{
		UserPoolId: &poolID, Username: aws.String(email), MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: aws.String(email)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cognito.AdminDisableUser(t0(), &cip.AdminDisableUserInput{UserPoolId: &poolID, Username: aws.String(email)}); err != nil {
		t.Fatal(err)
	}
	for _, a := range out.User.Attributes {
		if aws.ToString(a.Name) == "sub" {
			return aws.ToString(a.Value)
		}
	}
	t.Fatal("no sub")
	return ""
}

// enabled fails unless email's Cognito account is enabled.
func enabled(t *testing.T, email string) {
	t.Helper()
	got, err := cognito.AdminGetUser(t0(), &cip.AdminGetUserInput{UserPoolId: &poolID, Username: aws.String(email)})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enabled {
		t.Errorf("%s: the adopted account is still disabled", email)
	}
}
