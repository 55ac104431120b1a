package signin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// Sign-in throttling: failed attempts (a wrong password, an unknown email, a wrong TOTP
// code) are counted per account (the email as typed, known or not) and per source
// address in windows of SignInWindow; past the limit the API answers 429 throttled
// without asking Cognito, until the window ends.
const (
	SignInWindow          = 15 * time.Minute
	MaxFailuresPerAccount = 5
	MaxFailuresPerAddress = 30
)

// The scopes of the sign-in counters (the items THROTTLE#<scope>#<value>).
const (
	scopeAccount = identity.ThrottleSignIn
	scopeAddress = "signin-ip"
)

// signInAttempt is one counted sign-in attempt; nil when nothing is counted.
type signInAttempt struct{ a *throttle.Attempt }

// beginAttempt counts an attempt to sign in as email from the request's source
// address, and refuses it (429 with Retry-After) when either is over its limit.
func beginAttempt(w http.ResponseWriter, r *http.Request, l *throttle.Limiter, email string) (*signInAttempt, error) {
	if l == nil {
		return nil, nil
	}
	keys := []throttle.Key{{Scope: scopeAccount, Value: email, Max: MaxFailuresPerAccount}}
	if ip := api.MetaOf(r).SourceIP; ip != "" {
		keys = append(keys, throttle.Key{Scope: scopeAddress, Value: ip, Max: MaxFailuresPerAddress})
	}
	a, err := l.Begin(r.Context(), keys...)
	if err != nil {
		return nil, err
	}
	if !a.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(a.RetryAfter.Seconds()))))
		return nil, problem.Throttled("too many failed sign-in attempts for this account or from this address; retry after the time in Retry-After")
	}
	return &signInAttempt{a: a}, nil
}

// settle gives a successful step's attempt back: the address's always, and the
// account's whole count once signed in (done), so that the account starts afresh. It
// is best effort: Cognito has answered, and a failure here only leaves the attempt
// counted, so it is logged rather than answered.
func (s *signInAttempt) settle(r *http.Request, done bool) {
	if s == nil {
		return
	}
	var clear, giveBack []string
	giveBack = append(giveBack, scopeAddress)
	if done {
		clear = append(clear, scopeAccount)
	}
	if err := s.a.Settle(r.Context(), clear, giveBack); err != nil {
		api.Log(r.Context()).ErrorContext(r.Context(), "sign-in attempt not given back", "requestId", api.MetaOf(r).RequestID, "error", err.Error())
	}
}

// SessionCognito is the part of the Cognito client the rest of the sign-in API uses.
type SessionCognito interface {
	InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, opts ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
	RespondToAuthChallenge(ctx context.Context, in *cip.RespondToAuthChallengeInput, opts ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error)
	GlobalSignOut(ctx context.Context, in *cip.GlobalSignOutInput, opts ...func(*cip.Options)) (*cip.GlobalSignOutOutput, error)
}

// Sessions serves the sign-in steps after the password: the TOTP challenge, refresh
// and sign-out.
type Sessions struct {
	Cognito  SessionCognito
	ClientID string
	// Store records sign-outs on the user item (signedOutAt).
	Store *store.Store
	// Limiter counts TOTP attempts with the password attempts; nil counts nothing.
	Limiter *throttle.Limiter
}

// OpLogout names the sign-out in logs; it needs only a token (api.Operation.TokenOnly),
// so it has no rule in the policy table.
const OpLogout tree.Operation = "auth.logout"

// ChallengeOperation serves POST /v1/auth/challenge (public).
func (s *Sessions) ChallengeOperation() api.Operation {
	return api.Operation{Method: http.MethodPost, Path: "/v1/auth/challenge", Kind: "route", Handle: s.challenge}
}

// RefreshOperation serves POST /v1/auth/refresh (public).
func (s *Sessions) RefreshOperation() api.Operation {
	return api.Operation{Method: http.MethodPost, Path: "/v1/auth/refresh", Kind: "route", Handle: s.refresh}
}

// LogoutOperation serves POST /v1/auth/logout: any token API Gateway accepts may sign
// its user out, even a user whose console access is gone.
func (s *Sessions) LogoutOperation() api.Operation {
	return api.Operation{ID: OpLogout, Method: http.MethodPost, Path: "/v1/auth/logout", Kind: "route",
		TokenOnly: true, Handle: s.logout}
}

// ChallengeSoftwareToken is the only challenge this API answers: the TOTP code of a
// user who enrolled. (The pool's MFA is OPTIONAL, so Cognito never asks for MFA_SETUP;
// users get a permanent password when they activate, so never NEW_PASSWORD_REQUIRED.)
const ChallengeSoftwareToken = string(ciptypes.ChallengeNameTypeSoftwareTokenMfa)

type challengeBody struct {
	Email     *string `json:"email"`
	Session   *string `json:"session"`
	Challenge *string `json:"challenge"`
	Code      *string `json:"code"`
}

var totpCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{6}$`) })

// MaxSession bounds the session accepted; Cognito's own limit is 2048.
const MaxSession = 2048

func (s *Sessions) challenge(w http.ResponseWriter, r *http.Request) error {
	var body challengeBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return err
	}
	email, errs := requiredEmail(body.Email)
	switch {
	case body.Session == nil || *body.Session == "":
		errs = append(errs, problem.Field("session", "is required"))
	case len(*body.Session) > MaxSession:
		errs = append(errs, problem.Field("session", "is too long"))
	}
	if body.Challenge != nil && *body.Challenge != ChallengeSoftwareToken {
		errs = append(errs, problem.Field("challenge", "must be "+ChallengeSoftwareToken))
	}
	if body.Code == nil || !totpCode().MatchString(*body.Code) {
		errs = append(errs, problem.Field("code", "must be the 6 digits the authenticator shows"))
	}
	if len(errs) > 0 {
		return problem.Invalid("the challenge answer is invalid", errs...)
	}
	attempt, err := beginAttempt(w, r, s.Limiter, email)
	if err != nil {
		return err
	}
	out, err := s.Cognito.RespondToAuthChallenge(r.Context(), &cip.RespondToAuthChallengeInput{
		ClientId:      &s.ClientID,
		ChallengeName: ciptypes.ChallengeNameTypeSoftwareTokenMfa,
		Session:       body.Session,
		ChallengeResponses: map[string]string{
			"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": *body.Code,
		},
	})
	if err != nil {
		return challengeError(err)
	}
	if out.ChallengeName != "" {
		// Not expected after a TOTP code; the client signs in again.
		return errors.New("cognito answered a TOTP code with another challenge: " + string(out.ChallengeName))
	}
	return signedIn(w, r, attempt, out.AuthenticationResult)
}

// challengeError answers every failed answer to a challenge alike: a wrong code, an
// expired or used session, a session of someone else.
func challengeError(err error) error {
	var (
		mismatch *ciptypes.CodeMismatchException
		expired  *ciptypes.ExpiredCodeException
		notAuth  *ciptypes.NotAuthorizedException
		notFound *ciptypes.UserNotFoundException
		// moto answers an unknown session with ResourceNotFoundException (Cognito
		// with NotAuthorizedException); the client id is ours and known, so this
		// can only be the session.
		noSession *ciptypes.ResourceNotFoundException
		throttled *ciptypes.TooManyRequestsException
	)
	switch {
	case errors.As(err, &mismatch), errors.As(err, &expired), errors.As(err, &notAuth), errors.As(err, &notFound), errors.As(err, &noSession):
		p := problem.InvalidCredentials()
		p.Detail = "the code is incorrect, or the sign-in session has expired; sign in again"
		return p
	case errors.As(err, &throttled):
		return problem.Throttled("too many sign-in attempts; wait and retry")
	}
	return err
}

type refreshBody struct {
	RefreshToken *string `json:"refreshToken"`
}

// MaxRefreshToken bounds the refresh token accepted (Cognito's are about 1,800
// characters).
const MaxRefreshToken = 8192

func (s *Sessions) refresh(w http.ResponseWriter, r *http.Request) error {
	var body refreshBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return err
	}
	switch {
	case body.RefreshToken == nil || *body.RefreshToken == "":
		return problem.Invalid("the refresh request is invalid", problem.Field("refreshToken", "is required"))
	case len(*body.RefreshToken) > MaxRefreshToken:
		return problem.Invalid("the refresh request is invalid", problem.Field("refreshToken", "is too long"))
	}
	out, err := s.Cognito.InitiateAuth(r.Context(), &cip.InitiateAuthInput{
		AuthFlow:       ciptypes.AuthFlowTypeRefreshTokenAuth,
		ClientId:       &s.ClientID,
		AuthParameters: map[string]string{"REFRESH_TOKEN": *body.RefreshToken},
	})
	if err != nil {
		var notAuth *ciptypes.NotAuthorizedException
		var throttled *ciptypes.TooManyRequestsException
		switch {
		case errors.As(err, &notAuth):
			p := problem.InvalidCredentials()
			p.Detail = "the refresh token is invalid, expired or revoked; sign in again"
			return p
		case errors.As(err, &throttled):
			return problem.Throttled("too many requests; wait and retry")
		}
		return err
	}
	if out.AuthenticationResult == nil {
		return errors.New("cognito answered a refresh without tokens")
	}
	return api.WriteJSON(w, http.StatusOK, tokensOf(out.AuthenticationResult))
}

// logout signs the token's user out everywhere: Cognito revokes every refresh token
// (and the access tokens, for Cognito's own APIs), and the user item records the
// moment, after which the API refuses every token issued before it. API Gateway
// itself checks tokens offline, so it still lets them through until they expire.
func (s *Sessions) logout(w http.ResponseWriter, r *http.Request) error {
	if err := emptyBody(r); err != nil {
		return err
	}
	token, err := accessToken(r)
	if err != nil {
		return err
	}
	_, err = s.Cognito.GlobalSignOut(r.Context(), &cip.GlobalSignOutInput{AccessToken: &token})
	var notAuth *ciptypes.NotAuthorizedException
	if err != nil && !errors.As(err, &notAuth) {
		// A token Cognito no longer accepts was signed out already (or has expired).
		return err
	}
	sub := api.MetaOf(r).Claims["sub"]
	_, err = s.Store.UpdateOne(r.Context(), signOutUpdate(sub, time.Now()))
	if err != nil && !errors.Is(err, store.ErrConditionFailed) {
		// ErrConditionFailed: the user has no console account (any more); Cognito's
		// sign-out was all there was to do.
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// signOutUpdate sets the user's signedOutAt, if the user exists.
func signOutUpdate(sub string, at time.Time) store.Write {
	return store.Edit(identity.UserKey(sub), store.Expr{
		Update:    "SET #s = :s",
		Condition: "attribute_exists(PK)",
		Names:     map[string]string{"#s": "signedOutAt"},
		Values:    map[string]any{":s": at.Unix()},
	})
}

// accessToken is the bearer token of the request, which API Gateway has verified.
func accessToken(r *http.Request) (string, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", problem.Unauthenticated("send the access token as Authorization: Bearer <accessToken>")
	}
	return token, nil
}

// emptyBody accepts a request without a body, or with an empty JSON object: the
// operations that take no input still refuse fields they do not know.
func emptyBody(r *http.Request) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, api.MaxBody+1))
	if err != nil {
		return problem.MalformedJSON("the body could not be read")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var none struct{}
	return api.DecodeJSON(r, &none)
}
