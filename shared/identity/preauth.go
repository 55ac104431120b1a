package identity

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/api"
	"opsconsole/shared/store"
)

// PreAuthentication is the user pool's pre-authentication trigger: Cognito calls it
// at every sign-in with a password, before it checks the password, and refuses the
// sign-in when it returns an error. It refuses a user who has no active console
// account, or any node of whose lineage is suspended, deactivated or being deleted:
// the same check (Callers) every API call makes, so a blocked user can neither sign
// in nor use a token they already hold.
type PreAuthentication struct {
	Callers Callers
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
	sub := ev.Request.UserAttributes["sub"]
	if sub == "" {
		outcome, reason = "refused", "the event carries no sub"
		return ev, ErrSignInRefused
	}
	_, err = p.Callers.Caller(ctx, sub)
	switch {
	case err == nil:
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
