package signin

import (
	"context"
	"slices"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"opsconsole/shared/api"
	"opsconsole/shared/config"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"opsconsole/shared/identity"
	"opsconsole/shared/store"
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

// PreAuthenticationFunction is the user pool's pre-authentication trigger
// (auth-pre-authentication): the table's caller check, and the TOTP check against
// Cognito (identity.PreAuthentication).
var PreAuthenticationFunction = function.BuildFunc(func(ctx context.Context) (function.Function, error) {
	cfg, err := config.Load(ctx)
	if err != nil {
		return function.Function{}, err
	}
	st := store.New(cfg.AWS, cfg.TableName)
	p := &identity.PreAuthentication{
		Callers: identity.Callers{Store: st, ClientAppID: cfg.APIClientsAppClient},
		TOTP:    cognitoTOTP{cognito: cip.NewFromConfig(cfg.AWS), poolID: cfg.UserPoolID},
	}
	return function.Function{PreAuthentication: p.Handle}, nil
})

// cognitoTOTP asks Cognito whether a user still has a TOTP authenticator.
type cognitoTOTP struct {
	cognito interface {
		AdminGetUser(ctx context.Context, in *cip.AdminGetUserInput, opts ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	}
	poolID string
}

// TOTPEnabled reads the user's MFA settings (AdminGetUser's UserMFASettingList).
func (c cognitoTOTP) TOTPEnabled(ctx context.Context, email string) (bool, error) {
	out, err := c.cognito.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &c.poolID, Username: &email})
	if err != nil {
		return false, err
	}
	return slices.Contains(out.UserMFASettingList, "SOFTWARE_TOKEN_MFA"), nil
}
