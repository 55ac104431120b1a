package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/identity"
	"opsconsole/shared/lambdas"
	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// TestPreAuthenticationTrigger invokes the user pool's pre-authentication trigger (its
// real handler, built as its Lambda main builds it) with events/cognito-pre-
// authentication.json, shaped like the events Cognito sends, against the local table:
// moto never calls Cognito triggers, so this is where the trigger is tested. Only the
// subject (and userName, which is the subject in a pool that signs in by email) is
// changed per case.
func TestPreAuthenticationTrigger(t *testing.T) {
	raw, err := os.ReadFile("../../events/cognito-pre-authentication.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample events.CognitoEventUserPoolsPreAuthentication
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	if sample.TriggerSource != "PreAuthentication_Authentication" || sample.Request.UserAttributes["sub"] == "" {
		t.Fatalf("the sample is not a pre-authentication event: %+v", sample)
	}
	fn, err := lambdas.Build(context.Background(), "auth-pre-authentication")
	if err != nil {
		t.Fatal(err)
	}
	if fn.PreAuthentication == nil {
		t.Fatal("auth-pre-authentication is not a pre-authentication trigger")
	}
	invoke := func(sub string, edit func(*events.CognitoEventUserPoolsPreAuthentication)) error {
		t.Helper()
		var ev events.CognitoEventUserPoolsPreAuthentication
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		ev.UserName = sub
		ev.Request.UserAttributes["sub"] = sub
		if edit != nil {
			edit(&ev)
		}
		out, err := fn.PreAuthentication(invokeCtx(), ev)
		if err == nil && !reflect.DeepEqual(out, ev) {
			t.Fatalf("the trigger changed the event:\n%+v\n%+v", ev, out)
		}
		return err
	}
	allowed := func(t *testing.T, sub string) {
		t.Helper()
		if err := invoke(sub, nil); err != nil {
			t.Fatalf("refused: %v", err)
		}
	}
	refused := func(t *testing.T, sub string) {
		t.Helper()
		err := invoke(sub, nil)
		if err == nil {
			t.Fatal("allowed")
		}
		// Cognito shows the message to the client: it must not say why.
		if err.Error() != identity.ErrSignInRefused.Error() {
			t.Fatalf("error %q, want %q", err, identity.ErrSignInRefused)
		}
	}

	tok := admin(t)
	d := createDistributor(t, tok, unique("Trigger Dist"))
	p := createPartner(t, tok, d.ID, unique("Trigger Partner"))
	o := createOrganization(t, tok, p.ID, unique("Trigger Org"))
	c := createCompany(t, tok, o.ID, unique("Trigger Company"))
	_, sub := signInUser(t, tree.RoleCompanyAdmin, nodeOf(t, c.ID))
	var adminProfile profile
	do(t, req{method: "GET", path: "/v1/me", token: tok}).json(t, &adminProfile)

	t.Run("an active user of an active branch signs in", func(t *testing.T) { allowed(t, sub) })
	t.Run("the platform admin signs in", func(t *testing.T) { allowed(t, adminProfile.ID) })
	t.Run("an unknown user is left to Cognito (userNotFound)", func(t *testing.T) {
		if err := invoke("00000000-0000-0000-0000-000000000000", func(ev *events.CognitoEventUserPoolsPreAuthentication) {
			ev.Request.UserNotFound = true
			delete(ev.Request.UserAttributes, "sub")
		}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a Cognito user without a console account is refused", func(t *testing.T) {
		refused(t, "11111111-2222-3333-4444-555555555555")
	})
	t.Run("a deactivated organization refuses its users, and reactivating lets them in", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/organizations/" + o.ID + "/deactivate", token: tok}).expect(t, 200)
		refused(t, sub)
		do(t, req{method: "POST", path: "/v1/organizations/" + o.ID + "/reactivate", token: tok}).expect(t, 200)
		allowed(t, sub)
	})
	t.Run("a suspended distributor refuses every user below it", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/distributors/" + d.ID + "/suspend", token: tok}).expect(t, 200)
		refused(t, sub)
		do(t, req{method: "POST", path: "/v1/distributors/" + d.ID + "/enable", token: tok}).expect(t, 200)
		allowed(t, sub)
	})
	t.Run("a branch being deleted refuses its users", func(t *testing.T) {
		setAttr(t, nodes.Key(p.ID), "deleting", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"jobId": &types.AttributeValueMemberS{Value: "sample"}}})
		refused(t, sub)
		removeAttr(t, nodes.Key(p.ID), "deleting")
		allowed(t, sub)
	})
	t.Run("a deactivated user is refused", func(t *testing.T) {
		setAttr(t, identity.UserKey(sub), "status", &types.AttributeValueMemberS{Value: identity.StatusDeactivated})
		refused(t, sub)
		setAttr(t, identity.UserKey(sub), "status", &types.AttributeValueMemberS{Value: identity.StatusActive})
		allowed(t, sub)
	})
	t.Run("a TOTP removed in Cognito directly is caught at the next sign-in", func(t *testing.T) {
		do(t, req{method: "PATCH", path: "/v1/organizations/" + o.ID, token: tok, body: map[string]any{"mfaRequired": true}}).expect(t, 200)
		email, mfaSub := signInUser(t, tree.RoleCompanyAdmin, nodeOf(t, c.ID))
		userTok := signIn(t, email, signInPassword).AccessToken
		enrolTOTP(t, userTok)
		do(t, req{method: "GET", path: "/v1/companies/" + c.ID, token: userTok}).expect(t, 200)
		// The user turns TOTP off with their own access token, behind the API's back:
		// Cognito's own JSON call, by hand, since the Go SDK leaves a false Enabled out
		// and moto then changes nothing (Cognito reads the missing field as false).
		body := `{"AccessToken":"` + userTok + `","SoftwareTokenMfaSettings":{"Enabled":false,"PreferredMfa":false}}`
		hr, err := http.NewRequest("POST", sys.Services.MotoURL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("Content-Type", "application/x-amz-json-1.1")
		hr.Header.Set("X-Amz-Target", "AWSCognitoIdentityProviderService.SetUserMFAPreference")
		res, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("SetUserMFAPreference: %s", res.Status)
		}
		if out, err := cognito.AdminGetUser(t0(), &cip.AdminGetUserInput{UserPoolId: &poolID, Username: &email}); err != nil || len(out.UserMFASettingList) != 0 {
			t.Fatalf("Cognito still has %v (%v)", out.UserMFASettingList, err)
		}
		if !me(t, userTok).MFAEnrolled {
			t.Fatal("the API learnt of the removal before the next sign-in")
		}
		allowed(t, mfaSub)
		if pr := me(t, userTok); pr.MFAEnrolled || !pr.MFARequired {
			t.Fatalf("profile after the sign-in: %+v", pr)
		}
		do(t, req{method: "GET", path: "/v1/companies/" + c.ID, token: userTok}).problem(t, 403, "mfa-enrolment-required")
		enrolTOTP(t, userTok)
		do(t, req{method: "GET", path: "/v1/companies/" + c.ID, token: userTok}).expect(t, 200)
		t.Run("an enrolled user whose TOTP is still there signs in unchanged", func(t *testing.T) {
			allowed(t, mfaSub)
			if !me(t, userTok).MFAEnrolled {
				t.Fatal("enrolment forgotten")
			}
		})
	})
}

func setAttr(t *testing.T, key map[string]types.AttributeValue, name string, v types.AttributeValue) {
	t.Helper()
	if _, err := st.DB.UpdateItem(t0(), &dynamodb.UpdateItemInput{
		TableName: &st.Table, Key: key, UpdateExpression: aws.String("SET #a = :v"),
		ExpressionAttributeNames: map[string]string{"#a": name}, ExpressionAttributeValues: map[string]types.AttributeValue{":v": v},
	}); err != nil {
		t.Fatal(err)
	}
}

func removeAttr(t *testing.T, key map[string]types.AttributeValue, name string) {
	t.Helper()
	if _, err := st.DB.UpdateItem(t0(), &dynamodb.UpdateItemInput{
		TableName: &st.Table, Key: key, UpdateExpression: aws.String("REMOVE #a"),
		ExpressionAttributeNames: map[string]string{"#a": name},
	}); err != nil {
		t.Fatal(err)
	}
}
