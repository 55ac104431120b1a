package e2e

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/apiclients"
)

// machineSignIn signs the Cognito user username in with password through the API
// clients' app client, as the token endpoint does, and tells whether Cognito took it.
func machineSignIn(t *testing.T, username, password string) bool {
	t.Helper()
	_, err := cognito.AdminInitiateAuth(t0(), &cip.AdminInitiateAuthInput{
		UserPoolId: &poolID, ClientId: aws.String(os.Getenv("API_CLIENTS_APP_CLIENT_ID")),
		AuthFlow:       ciptypes.AuthFlowTypeAdminUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": username, "PASSWORD": password},
	})
	return err == nil
}

// setMachinePassword gives the Cognito user username the password.
func setMachinePassword(t *testing.T, username, password string) {
	t.Helper()
	if _, err := cognito.AdminSetUserPassword(t0(), &cip.AdminSetUserPasswordInput{
		UserPoolId: &poolID, Username: &username, Password: &password, Permanent: true,
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAPIClientTokenAfterCursorSecretRotation: a client whose Cognito user still holds
// the password derived from a previous cursor secret gets its token, and its user the
// current derivation; a wrong secret or a revoked client changes nothing. The rotation
// is staged in Cognito itself, not injected: the clients' users are given the password
// the old secret derived, exactly what the pool holds after the functions' CURSOR_SECRET
// changed (one local system runs with one secret).
func TestAPIClientTokenAfterCursorSecretRotation(t *testing.T) {
	root := admin(t)
	current := []byte(os.Getenv("CURSOR_SECRET"))
	previous := []byte("the cursor secret before the rotation, 32 bytes or more")
	c := createClient(t, root, map[string]any{"nodeId": "platform", "name": unique("Rotated key"), "role": "platform_admin"})
	gone := createClient(t, root, map[string]any{"nodeId": "platform", "name": unique("Rotated key, revoked"), "role": "platform_admin"})
	clientToken(t, c.ClientID, c.ClientSecret)
	do(t, req{method: "POST", path: "/v1/api-clients/" + gone.ID + "/revoke", token: root}).expect(t, 200)
	user, goneUser := clientUser(t, c.ID), clientUser(t, gone.ID)
	for _, u := range []string{user, goneUser} {
		setMachinePassword(t, u, apiclients.CognitoPassword(previous, u))
		if machineSignIn(t, u, apiclients.CognitoPassword(current, u)) {
			t.Fatal("the staged rotation did not take: the current derivation still signs in")
		}
	}

	t.Run("a wrong secret or a revoked client is refused and leaves the old password", func(t *testing.T) {
		tokenRefused(t, c.ClientID, "cs_wrong", "invalid_client")
		tokenRefused(t, gone.ClientID, gone.ClientSecret, "invalid_client")
		for _, u := range []string{user, goneUser} {
			if !machineSignIn(t, u, apiclients.CognitoPassword(previous, u)) {
				t.Fatalf("%s: the old password was changed", u)
			}
		}
	})
	t.Run("the client's secret gets a token, and its user the current derivation", func(t *testing.T) {
		tok := clientToken(t, c.ClientID, c.ClientSecret)
		do(t, req{method: "GET", path: "/v1/api-clients/" + c.ID, token: tok}).expect(t, 200)
		if !machineSignIn(t, user, apiclients.CognitoPassword(current, user)) || machineSignIn(t, user, apiclients.CognitoPassword(previous, user)) {
			t.Fatal("the user does not hold the current derivation alone")
		}
		clientToken(t, c.ClientID, c.ClientSecret)
	})
}

// clientUser is the Cognito username of API client id.
func clientUser(t *testing.T, id string) string {
	t.Helper()
	it, ok := clientItem(t, id)
	if !ok || it.CognitoUser == "" {
		t.Fatalf("client %s: item %+v", id, it)
	}
	return it.CognitoUser
}
