package signin

import (
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"opsconsole/shared/api"
	"opsconsole/shared/deps"
	"opsconsole/shared/throttle"
)

// The sign-in functions, each built from a function's deps with a Cognito client of
// its own: for the function table (shared/lambdas) and the function's own main.

// LoginFunction is auth-login.
func LoginFunction(d deps.Deps) api.Operation {
	return (&Login{Cognito: cognito(d), ClientID: d.Config.UserPoolClient, Limiter: limiter(d)}).Operation()
}

// ChallengeFunction is auth-challenge.
func ChallengeFunction(d deps.Deps) api.Operation { return sessions(d).ChallengeOperation() }

// RefreshFunction is auth-refresh.
func RefreshFunction(d deps.Deps) api.Operation { return sessions(d).RefreshOperation() }

// LogoutFunction is auth-logout.
func LogoutFunction(d deps.Deps) api.Operation { return sessions(d).LogoutOperation() }

// MFAEnrolFunction is me-mfa-enrol.
func MFAEnrolFunction(d deps.Deps) api.Operation { return mfa(d).EnrolOperation() }

// MFAVerifyFunction is me-mfa-verify.
func MFAVerifyFunction(d deps.Deps) api.Operation { return mfa(d).VerifyOperation() }

// MFARemoveFunction is me-mfa-remove.
func MFARemoveFunction(d deps.Deps) api.Operation { return mfa(d).RemoveOperation() }

// cognito is the Cognito client, none when built from zero deps (to tell the routes).
func cognito(d deps.Deps) *cip.Client {
	if d.Store == nil {
		return nil
	}
	return cip.NewFromConfig(d.Config.AWS)
}

// limiter counts sign-in attempts per account and per address.
func limiter(d deps.Deps) *throttle.Limiter {
	return &throttle.Limiter{Store: d.Store, Window: SignInWindow}
}

func sessions(d deps.Deps) *Sessions {
	return &Sessions{Cognito: cognito(d), ClientID: d.Config.UserPoolClient, Store: d.Store, Limiter: limiter(d)}
}

func mfa(d deps.Deps) *MFA {
	return &MFA{Cognito: cognito(d), Store: d.Store, Callers: d.Callers}
}
