package e2e

import (
	"testing"

	"opsconsole/shared/tree"
)

// TestInvitationToTOTPSignIn is the identity issue's first "done when", in one line:
// invite → email in the local mail server → activate → sign in → enrol TOTP → sign in
// with TOTP, all through the public API and the real mail.
func TestInvitationToTOTPSignIn(t *testing.T) {
	root := admin(t)
	d := createDistributor(t, root, unique("Journey D"))
	p := createPartner(t, root, d.ID, unique("Journey P"))
	email := testEmail("journey")
	inviteUser(t, root, p.ID, tree.RolePartnerAdmin, email)
	if res := activate(t, activationToken(t, email), newPassword); res.Status/100 != 2 {
		t.Fatalf("activate: %d %s", res.Status, res.Body)
	}
	first := signIn(t, email, newPassword)
	if first.AccessToken == "" || first.Challenge != "" {
		t.Fatalf("first sign-in: %+v", first)
	}
	secret := enrolTOTP(t, first.AccessToken)
	challenged := signIn(t, email, newPassword)
	if challenged.Challenge != "SOFTWARE_TOKEN_MFA" || challenged.AccessToken != "" {
		t.Fatalf("sign-in after enrolment: %+v", challenged)
	}
	var tokens signInAnswer
	do(t, req{method: "POST", path: "/v1/auth/challenge", body: map[string]string{
		"email": email, "session": challenged.Session, "code": codeNow(t, secret)}}).json(t, &tokens)
	if got := me(t, tokens.AccessToken); !got.MFAEnrolled {
		t.Fatalf("profile after TOTP sign-in: %+v", got)
	}
	var orgs nodePage
	do(t, req{method: "GET", path: "/v1/organizations", token: tokens.AccessToken}).json(t, &orgs)
}
