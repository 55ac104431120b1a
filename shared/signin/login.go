package signin

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/problem"
	"opsconsole/shared/throttle"
)

// Cognito is the part of the Cognito client sign-in uses.
type Cognito interface {
	InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, opts ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
}

// Login serves POST /v1/auth/login.
type Login struct {
	Cognito  Cognito
	ClientID string
	// Limiter counts sign-in attempts per account and per address (Throttle); nil
	// counts nothing.
	Limiter *throttle.Limiter
}

// Tokens is a successful sign-in.
type Tokens struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	ExpiresIn    int32  `json:"expiresIn"`
	TokenType    string `json:"tokenType"`
}

// Challenge is a sign-in that needs one more step (a TOTP code, a new password).
type Challenge struct {
	Challenge string `json:"challenge"`
	Session   string `json:"session"`
}

type loginBody struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// Operation is the route's operation; it is public.
func (l *Login) Operation() api.Operation {
	return api.Operation{Method: http.MethodPost, Path: "/v1/auth/login", Kind: "route", Handle: l.login}
}

func (l *Login) login(w http.ResponseWriter, r *http.Request) error {
	var body loginBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return err
	}
	email, errs := requiredEmail(body.Email)
	if body.Password == nil || *body.Password == "" {
		errs = append(errs, problem.Field("password", "is required"))
	} else if len(*body.Password) > identity.MaxPassword {
		errs = append(errs, problem.Field("password", "is too long"))
	}
	if len(errs) > 0 {
		return problem.Invalid("the sign-in request is invalid", errs...)
	}
	attempt, err := beginAttempt(w, r, l.Limiter, email)
	if err != nil {
		return err
	}
	out, err := l.Cognito.InitiateAuth(r.Context(), &cip.InitiateAuthInput{
		AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		ClientId: &l.ClientID,
		AuthParameters: map[string]string{
			"USERNAME": email, "PASSWORD": *body.Password,
		},
	})
	if err != nil {
		// The failure stays counted against the account and the address.
		return signInError(err)
	}
	if out.ChallengeName != "" {
		// The password was right, so the address gets its attempt back; the account's
		// stays counted until the challenge is answered, so that someone who knows the
		// password cannot try TOTP codes without limit.
		attempt.settle(r, false)
		return api.WriteJSON(w, http.StatusOK, Challenge{Challenge: string(out.ChallengeName), Session: aws.ToString(out.Session)})
	}
	return signedIn(w, r, attempt, out.AuthenticationResult)
}

// signedIn answers the tokens of a completed sign-in, after giving its attempt back.
func signedIn(w http.ResponseWriter, r *http.Request, attempt *signInAttempt, res *ciptypes.AuthenticationResultType) error {
	if res == nil {
		return errors.New("cognito answered neither tokens nor a challenge")
	}
	attempt.settle(r, true)
	return api.WriteJSON(w, http.StatusOK, tokensOf(res))
}

func tokensOf(res *ciptypes.AuthenticationResultType) Tokens {
	return Tokens{
		AccessToken: aws.ToString(res.AccessToken), IDToken: aws.ToString(res.IdToken),
		RefreshToken: aws.ToString(res.RefreshToken), ExpiresIn: res.ExpiresIn,
		TokenType: aws.ToString(res.TokenType),
	}
}

// signInError answers every "who are you" failure alike, so no answer tells whether an
// account exists.
func signInError(err error) error {
	var (
		notAuth     *ciptypes.NotAuthorizedException
		notFound    *ciptypes.UserNotFoundException
		unconfirmed *ciptypes.UserNotConfirmedException
		reset       *ciptypes.PasswordResetRequiredException
		throttled   *ciptypes.TooManyRequestsException
		// The pre-authentication trigger refused: the account or its branch is
		// blocked. Answered like a wrong password, because the trigger runs before
		// Cognito checks the password.
		refused *ciptypes.UserLambdaValidationException
	)
	switch {
	case errors.As(err, &notAuth), errors.As(err, &notFound), errors.As(err, &unconfirmed), errors.As(err, &reset), errors.As(err, &refused):
		return problem.InvalidCredentials()
	case errors.As(err, &throttled):
		return problem.Throttled("too many sign-in attempts; wait and retry")
	}
	return err
}

// requiredEmail checks a body's required "email" member: the clean address, or the
// field error to report.
func requiredEmail(v *string) (string, []problem.FieldError) {
	if v == nil {
		return "", []problem.FieldError{problem.Field("email", "is required")}
	}
	e, err := identity.CleanEmail(*v)
	if err != nil {
		return "", []problem.FieldError{problem.Field("email", "must be a plain email address")}
	}
	return e, nil
}
