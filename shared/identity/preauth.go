package identity

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/store"
)

// PreAuthentication is the user pool's pre-authentication trigger: Cognito calls it
// at every sign-in with a password, before it checks the password, and refuses the
// sign-in when it returns an error. It refuses a user who has no active console
// account, or any node of whose lineage is suspended, deactivated or being deleted:
// the same check (Callers) every API call makes, so a blocked user can neither sign
// in nor use a token they already hold.
//
// It also catches a TOTP removed behind the API's back: a user may call Cognito's
// SetUserMFAPreference with their own access token, and Cognito then stops asking
// them for a code. When the user item says enrolled and Cognito (TOTP) says no
// authenticator, the trigger records the user as not enrolled (user.mfa_removed, by
// the user), so that where their organization requires MFA the API answers 403
// mfa-enrolment-required until they enrol again.
type PreAuthentication struct {
	Callers Callers
	// TOTP tells whether Cognito still has the user's authenticator; nil skips the
	// check (it is given by the trigger's function, shared/signin, which links Cognito).
	TOTP TOTPChecker
}

// TOTPChecker tells whether the Cognito account of email has a TOTP authenticator.
type TOTPChecker interface {
	TOTPEnabled(ctx context.Context, email string) (bool, error)
}

// ErrSignInRefused is what Cognito tells the client (as "PreAuthentication failed
// with error …"): one message for every reason, so that the answer tells nothing of
// the account. The reason is logged.
var ErrSignInRefused = errors.New("sign-in refused")

// ErrSignInUnavailable is returned when the check could not be made (the table did
// not answer): the sign-in is refused rather than let through unchecked.
var ErrSignInUnavailable = errors.New("sign-in unavailable; retry")

// Handle is the Lambda handler.
func (p *PreAuthentication) Handle(ctx context.Context, ev events.CognitoEventUserPoolsPreAuthentication) (events.CognitoEventUserPoolsPreAuthentication, error) {
	start := time.Now()
	ctx, meter := store.WithMeter(ctx)
	outcome, reason := "allowed", ""
	var err error
	defer func() {
		read, _ := meter.Units()
		api.Log(ctx).InfoContext(ctx, "pre-authentication", "outcome", outcome, "reason", reason,
			"userName", ev.UserName, "clientId", ev.CallerContext.ClientID, "triggerSource", ev.TriggerSource,
			"latencyMs", time.Since(start).Milliseconds(), "dynamodbCalls", meter.RoundTrips(), "readUnits", read)
	}()
	// With PreventUserExistenceErrors, Cognito calls the trigger for unknown users
	// too; it answers them itself, exactly like a wrong password.
	if ev.Request.UserNotFound {
		outcome = "unknown user"
		return ev, nil
	}
	// An API client's Cognito user is signed in only by the token endpoint (with
	// AdminInitiateAuth, which needs IAM credentials), right after it checked the client
	// and its branch; every call with the token checks them again.
	if p.Callers.ClientAppID != "" && ev.CallerContext.ClientID == p.Callers.ClientAppID {
		outcome = "API client"
		return ev, nil
	}
	sub := ev.Request.UserAttributes["sub"]
	if sub == "" {
		outcome, reason = "refused", "the event carries no sub"
		return ev, ErrSignInRefused
	}
	caller, err := p.Callers.Caller(ctx, sub)
	switch {
	case err == nil:
		if p.TOTP == nil || !caller.MFAEnrolled {
			return ev, nil
		}
		on, terr := p.TOTP.TOTPEnabled(ctx, caller.Email)
		if terr == nil && !on {
			reason = "TOTP removed in Cognito directly: recorded as not enrolled"
			self := audit.Actor{UserID: caller.UserID, Email: caller.Email, Role: string(caller.Role)}
			terr = RecordMFA(ctx, p.Callers.Store, caller.UserID, false, self, api.Meta{})
		}
		if terr != nil {
			outcome, reason = "failed", terr.Error()
			return ev, ErrSignInUnavailable
		}
		return ev, nil
	case errors.Is(err, api.ErrNoCaller):
		outcome, reason = "refused", "no active console account"
		return ev, ErrSignInRefused
	case errors.Is(err, api.ErrBranchSuspended):
		outcome, reason = "refused", "a node of the lineage is suspended, deactivated or being deleted"
		return ev, ErrSignInRefused
	}
	outcome, reason = "failed", err.Error()
	return ev, ErrSignInUnavailable
}
