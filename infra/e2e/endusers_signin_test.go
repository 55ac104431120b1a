package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// TestEndUserSignIn walks an end user through their account: a company admin creates
// the record and invites it, the end user activates from the email, signs in, reads
// and renames their profile (the record follows), enrols TOTP, is refused everything
// else, and is refused at once when the record is deactivated.
func TestEndUserSignIn(t *testing.T) {
	_, part := partnerTree(t)
	root := admin(t)
	org := createOrganization(t, root, part.ID, unique("EU Org"))
	co := createCompany(t, root, org.ID, unique("EU Company"))
	coItem, err := nodes.Get(t0(), st, co.ID)
	if err != nil {
		t.Fatal(err)
	}
	caTok, _ := userAt(t, tree.RoleCompanyAdmin, coItem)
	email := testEmail("enduser")
	rec := createEndUser(t, caTok, co.ID, email)
	other := createEndUser(t, caTok, co.ID, testEmail("enduser-other"))

	res := do(t, req{method: "POST", path: "/v1/end-users/" + rec.ID + "/invite", token: caTok})
	if res.Status != http.StatusCreated {
		t.Fatalf("invite: %d %s", res.Status, res.Body)
	}
	var u userView
	res.json(t, &u)
	if u.Role != string(tree.RoleEndUser) || u.NodeID != rec.ID || u.Status != "invited" || u.Email != email || u.FirstName != "Erin" {
		t.Fatalf("invited %+v", u)
	}
	if res := do(t, req{method: "POST", path: "/v1/end-users/" + rec.ID + "/invite", token: caTok}); res.Status != 409 || slugOf(res) != "account-exists" {
		t.Fatalf("second invite: %d %s", res.Status, res.Body)
	}
	// Console users are never given the end_user role through /v1/users.
	if res := do(t, req{method: "POST", path: "/v1/users", token: caTok, body: map[string]string{
		"email": testEmail("eu-console"), "firstName": "A", "lastName": "B", "role": "end_user", "nodeId": co.ID,
	}}); res.Status != 400 {
		t.Fatalf("end_user through /v1/users: %d %s", res.Status, res.Body)
	}

	activate(t, activationToken(t, email), newPassword).expect(t, 204)
	euTok := login(t, email, newPassword)

	var p struct {
		ID, Email, FirstName, LastName, Role string
		Node                                 struct{ ID, Kind string }
	}
	do(t, req{method: "GET", path: "/v1/me", token: euTok}).json(t, &p)
	if p.ID != u.ID || p.Role != "end_user" || p.FirstName != "Erin" || p.LastName != "User" || p.Node.ID != rec.ID || p.Node.Kind != "end_user" {
		t.Fatalf("me %+v", p)
	}

	res = do(t, req{method: "PATCH", path: "/v1/me", token: euTok, body: map[string]string{"firstName": "Renamed"}})
	if res.Status != 200 {
		t.Fatalf("patch me: %d %s", res.Status, res.Body)
	}
	do(t, req{method: "GET", path: "/v1/me", token: euTok}).json(t, &p)
	if p.FirstName != "Renamed" || p.LastName != "User" {
		t.Fatalf("me after patch %+v", p)
	}
	var got node
	do(t, req{method: "GET", path: "/v1/end-users/" + rec.ID, token: caTok}).json(t, &got)
	if got.FirstName != "Renamed" || got.LastName != "User" {
		t.Fatalf("record after patch %+v", got)
	}
	do(t, req{method: "PATCH", path: "/v1/me", token: euTok, body: map[string]string{"role": "company_admin"}}).expect(t, 400)

	enrolTOTP(t, euTok)
	if !me(t, euTok).MFAEnrolled {
		t.Fatal("TOTP not enrolled")
	}

	for _, r := range []req{
		{method: "GET", path: "/v1/end-users?companyId=" + co.ID},
		{method: "GET", path: "/v1/end-users/" + rec.ID},
		{method: "GET", path: "/v1/end-users/" + other.ID},
		{method: "PATCH", path: "/v1/end-users/" + rec.ID, body: map[string]string{"firstName": "X"}},
		{method: "GET", path: "/v1/companies/" + co.ID},
		{method: "GET", path: "/v1/users/" + u.ID},
		{method: "GET", path: "/v1/users?nodeId=" + co.ID},
		{method: "POST", path: "/v1/end-users/" + other.ID + "/invite"},
	} {
		r.token = euTok
		if res := do(t, r); res.Status != 403 && res.Status != 404 {
			t.Errorf("%s %s as the end user: %d %s", r.method, r.path, res.Status, res.Body)
		}
	}

	// A console user's PATCH /v1/me changes their user item only.
	res = do(t, req{method: "PATCH", path: "/v1/me", token: caTok, body: map[string]string{"lastName": "Admin"}})
	if res.Status != 200 {
		t.Fatalf("patch me as a company admin: %d %s", res.Status, res.Body)
	}

	// Deactivating the record refuses the end user's very next call.
	do(t, req{method: "GET", path: "/v1/end-users/" + rec.ID, token: caTok}).json(t, &got)
	res = do(t, req{method: "POST", path: "/v1/end-users/" + rec.ID + "/deactivate", token: caTok,
		header: map[string]string{"If-Match": fmt.Sprintf(`"%d"`, got.Version)}})
	if res.Status != 200 {
		t.Fatalf("deactivate record: %d %s", res.Status, res.Body)
	}
	if res := do(t, req{method: "GET", path: "/v1/me", token: euTok}); res.Status != 401 && res.Status != 403 {
		t.Fatalf("me after the record's deactivation: %d %s", res.Status, res.Body)
	}
}
