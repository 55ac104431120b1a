package signin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/identity"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// MFACognito is the part of the Cognito client TOTP enrolment uses; every call is
// made with the user's own access token.
type MFACognito interface {
	AssociateSoftwareToken(ctx context.Context, in *cip.AssociateSoftwareTokenInput, opts ...func(*cip.Options)) (*cip.AssociateSoftwareTokenOutput, error)
	VerifySoftwareToken(ctx context.Context, in *cip.VerifySoftwareTokenInput, opts ...func(*cip.Options)) (*cip.VerifySoftwareTokenOutput, error)
	SetUserMFAPreference(ctx context.Context, in *cip.SetUserMFAPreferenceInput, opts ...func(*cip.Options)) (*cip.SetUserMFAPreferenceOutput, error)
}

// MFA serves the signed-in user's TOTP: POST /v1/me/mfa/totp (a new secret),
// POST /v1/me/mfa/totp/verify (the first code, which turns TOTP on) and
// DELETE /v1/me/mfa/totp. All three are open before enrolment, so that a user whose
// organization requires MFA can enrol.
type MFA struct {
	Cognito MFACognito
	Store   *store.Store
	Callers api.Callers
	// Issuer names the service in authenticator apps (the otpauth URI's issuer).
	Issuer string
}

// DefaultIssuer is the authenticator apps' name for the service when none is set.
const DefaultIssuer = "Operations console"

// EnrolOperation serves POST /v1/me/mfa/totp.
func (m *MFA) EnrolOperation() api.Operation {
	return api.Operation{ID: tree.OpMeMFAEnrol, Method: http.MethodPost, Path: "/v1/me/mfa/totp", Kind: "user",
		Callers: m.Callers, BeforeMFAEnrolment: true, AsSignedInUser: true, Handle: m.enrol}
}

// VerifyOperation serves POST /v1/me/mfa/totp/verify.
func (m *MFA) VerifyOperation() api.Operation {
	return api.Operation{ID: tree.OpMeMFAVerify, Method: http.MethodPost, Path: "/v1/me/mfa/totp/verify", Kind: "user",
		Callers: m.Callers, BeforeMFAEnrolment: true, AsSignedInUser: true, Handle: m.verify}
}

// RemoveOperation serves DELETE /v1/me/mfa/totp.
func (m *MFA) RemoveOperation() api.Operation {
	return api.Operation{ID: tree.OpMeMFARemove, Method: http.MethodDelete, Path: "/v1/me/mfa/totp", Kind: "user",
		Callers: m.Callers, BeforeMFAEnrolment: true, AsSignedInUser: true, Handle: m.remove}
}

// TOTPSecret is a new authenticator secret, to be shown once (as a QR code of the URI).
type TOTPSecret struct {
	Secret     string `json:"secret"`
	OtpauthURI string `json:"otpauthUri"`
}

func (m *MFA) enrol(w http.ResponseWriter, r *http.Request) error {
	if err := emptyBody(r); err != nil {
		return err
	}
	if api.CallerOf(r.Context()).MFAEnrolled {
		// A new secret would switch the enrolled authenticator off in Cognito until
		// it is verified: a user who is asked for MFA could sign in without it.
		return problem.Conflict("mfa-already-enrolled",
			"a TOTP authenticator is enrolled already; remove it (DELETE /v1/me/mfa/totp) before enrolling another",
			problem.Field("mfa", "is enrolled already"))
	}
	token, err := accessToken(r)
	if err != nil {
		return err
	}
	out, err := m.Cognito.AssociateSoftwareToken(r.Context(), &cip.AssociateSoftwareTokenInput{AccessToken: &token})
	if err != nil {
		return mfaError(err)
	}
	secret := aws.ToString(out.SecretCode)
	issuer := m.Issuer
	if issuer == "" {
		issuer = DefaultIssuer
	}
	return api.WriteJSON(w, http.StatusOK, TOTPSecret{Secret: secret, OtpauthURI: OtpauthURI(issuer, api.CallerOf(r.Context()).Email, secret)})
}

// OtpauthURI is the key URI authenticator apps read (Google Authenticator's format):
// otpauth://totp/<issuer>:<account>?secret=<secret>&issuer=<issuer>, percent-encoded.
func OtpauthURI(issuer, account, secret string) string {
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	return "otpauth://totp/" + esc(issuer) + ":" + esc(account) + "?secret=" + esc(secret) + "&issuer=" + esc(issuer)
}

type verifyBody struct {
	Code *string `json:"code"`
}

func (m *MFA) verify(w http.ResponseWriter, r *http.Request) error {
	var body verifyBody
	if err := api.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Code == nil || !totpCode().MatchString(*body.Code) {
		return problem.Invalid("the code is invalid", problem.Field("code", "must be the 6 digits the authenticator shows"))
	}
	token, err := accessToken(r)
	if err != nil {
		return err
	}
	out, err := m.Cognito.VerifySoftwareToken(r.Context(), &cip.VerifySoftwareTokenInput{AccessToken: &token, UserCode: body.Code})
	if err != nil {
		return mfaError(err)
	}
	if out.Status != ciptypes.VerifySoftwareTokenResponseTypeSuccess {
		return wrongCode()
	}
	if _, err := m.Cognito.SetUserMFAPreference(r.Context(), &cip.SetUserMFAPreferenceInput{
		AccessToken:              &token,
		SoftwareTokenMfaSettings: &ciptypes.SoftwareTokenMfaSettingsType{Enabled: true, PreferredMfa: true},
	}); err != nil {
		return mfaError(err)
	}
	// Recorded (and audited) even when the user item says enrolled already: the
	// secret was replaced in Cognito directly.
	if err := m.record(r, true); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (m *MFA) remove(w http.ResponseWriter, r *http.Request) error {
	caller := api.CallerOf(r.Context())
	if caller.MFARequired {
		return problem.Conflict("mfa-required", "your organization requires multi-factor authentication; TOTP cannot be removed",
			problem.Field("mfa", "is required by your organization"))
	}
	token, err := accessToken(r)
	if err != nil {
		return err
	}
	if _, err := m.Cognito.SetUserMFAPreference(r.Context(), &cip.SetUserMFAPreferenceInput{
		AccessToken:              &token,
		SoftwareTokenMfaSettings: &ciptypes.SoftwareTokenMfaSettingsType{Enabled: false, PreferredMfa: false},
	}); err != nil {
		return mfaError(err)
	}
	// Cognito is told even when the user item says there is nothing to remove, so
	// that the two agree again if they ever drifted apart.
	if caller.MFAEnrolled {
		if err := m.record(r, false); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// record writes the user's mfaEnrolled with its change record (identity.RecordMFA).
func (m *MFA) record(r *http.Request, enrolled bool) error {
	caller := api.CallerOf(r.Context())
	return identity.RecordMFA(r.Context(), m.Store, caller.UserID, enrolled, audit.ActorOf(caller), api.MetaOf(r))
}

// wrongCode answers a code the authenticator did not show (now).
func wrongCode() *problem.Problem {
	return problem.Invalid("the code is not the authenticator's current code",
		problem.Field("code", "is not the code the authenticator shows now; check the device's clock and retry"))
}

// mfaError answers Cognito's refusals of the MFA calls.
func mfaError(err error) error {
	var (
		mismatch *ciptypes.CodeMismatchException
		enable   *ciptypes.EnableSoftwareTokenMFAException
		notFound *ciptypes.SoftwareTokenMFANotFoundException
		invalid  *ciptypes.InvalidParameterException
		notAuth  *ciptypes.NotAuthorizedException
		limited  *ciptypes.TooManyRequestsException
		exceeded *ciptypes.LimitExceededException
	)
	switch {
	case errors.As(err, &mismatch), errors.As(err, &enable):
		return wrongCode()
	case errors.As(err, &notFound), errors.As(err, &invalid):
		// No secret is being set up (verify before POST /v1/me/mfa/totp).
		return problem.Invalid("no authenticator is being set up",
			problem.Field("code", "no authenticator is being set up; call POST /v1/me/mfa/totp first"))
	case errors.As(err, &notAuth):
		// API Gateway checks tokens offline; Cognito knows this one was revoked.
		return problem.Unauthenticated("the access token was revoked or has expired; sign in again")
	case errors.As(err, &limited), errors.As(err, &exceeded):
		return problem.Throttled("too many attempts; wait and retry")
	}
	return err
}
