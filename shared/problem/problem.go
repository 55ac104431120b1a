// Package problem holds the API's typed errors and writes them as RFC 9457
// application/problem+json. Handlers return these errors; one writer maps them, so no
// internal message ever reaches a client.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// ContentType is the media type of every error answer.
const ContentType = "application/problem+json"

// TypePrefix starts every problem type URI. The URIs are stable identifiers that
// clients may switch on; they are documented in the OpenAPI document.
const TypePrefix = "urn:opsconsole:problem:"

// FieldError names one input that is wrong and why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an error that is safe to show to the caller.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
	// Children, on has-children, counts what is still below the node: kind → status →
	// count. It is an interface so that an empty count still shows as {}.
	Children any `json:"children,omitempty"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

func newProblem(slug, title string, status int, detail string) *Problem {
	return &Problem{Type: TypePrefix + slug, Title: title, Status: status, Detail: detail}
}

// Invalid reports bad input; each FieldError names the field at fault.
func Invalid(detail string, errs ...FieldError) *Problem {
	p := newProblem("validation", "Invalid request", http.StatusBadRequest, detail)
	p.Errors = errs
	return p
}

// Field is shorthand for one FieldError.
func Field(field, message string) FieldError { return FieldError{Field: field, Message: message} }

// MalformedJSON reports a body that is not the JSON the operation takes.
func MalformedJSON(detail string) *Problem {
	p := newProblem("malformed-json", "Malformed JSON body", http.StatusBadRequest, detail)
	p.Errors = []FieldError{{Field: "body", Message: detail}}
	return p
}

// InvalidCursor reports a cursor that was not issued for this caller and query.
func InvalidCursor() *Problem {
	p := newProblem("invalid-cursor", "Invalid cursor", http.StatusBadRequest,
		"the cursor is malformed, was altered, or belongs to another query")
	p.Errors = []FieldError{{Field: "cursor", Message: "not a cursor issued for this query"}}
	return p
}

// InvalidPrecondition reports an If-Match header that is not an ETag of ours.
func InvalidPrecondition() *Problem {
	p := newProblem("invalid-if-match", "Invalid If-Match header", http.StatusBadRequest,
		`If-Match must be an ETag returned by this API, such as "3"`)
	p.Errors = []FieldError{{Field: "If-Match", Message: "not a valid ETag"}}
	return p
}

// Unauthenticated reports a request without a usable identity.
func Unauthenticated(detail string) *Problem {
	return newProblem("unauthenticated", "Authentication required", http.StatusUnauthorized, detail)
}

// InvalidCredentials reports a failed sign-in without saying which part was wrong.
func InvalidCredentials() *Problem {
	return newProblem("invalid-credentials", "Invalid credentials", http.StatusUnauthorized,
		"the email or password is incorrect")
}

// Forbidden reports an operation the caller may see but not perform.
func Forbidden(detail string) *Problem {
	return newProblem("forbidden", "Not allowed", http.StatusForbidden, detail)
}

// NoConsoleAccess reports a valid token whose user has no active console account.
func NoConsoleAccess() *Problem {
	return newProblem("no-console-access", "No console access", http.StatusForbidden,
		"this account has no active access to the console")
}

// BranchSuspended reports a user whose distributor or partner is suspended, or whose
// organization is deactivated: the whole subtree is blocked until it is enabled again.
func BranchSuspended() *Problem {
	return newProblem("branch-suspended", "Access suspended", http.StatusForbidden,
		"a distributor, partner or organization above this account is suspended or deactivated")
}

// ClientRefused reports an API client's token whose client may no longer call: revoked,
// expired or deleted (all alike), checked on every call, not at the token's expiry.
func ClientRefused() *Problem {
	return newProblem("client-refused", "API client refused", http.StatusForbidden,
		"this API client is revoked, expired or deleted")
}

// AddressNotAllowed reports an API client's call from an address outside its
// allowedIps.
func AddressNotAllowed() *Problem {
	return newProblem("address-not-allowed", "Address not allowed", http.StatusForbidden,
		"this API client may not call from this address (see its allowedIps)")
}

// ReadOnlyClient reports a read-only API client's attempt to change something.
func ReadOnlyClient() *Problem {
	return newProblem("read-only-client", "Read-only API client", http.StatusForbidden,
		"this API client is read-only: it may only GET")
}

// MFAEnrolmentRequired reports a user whose organization requires MFA and who has not
// enrolled TOTP yet: until they have, only their profile, the enrolment and sign-out
// are open to them.
func MFAEnrolmentRequired() *Problem {
	return newProblem("mfa-enrolment-required", "MFA enrolment required", http.StatusForbidden,
		"your organization requires multi-factor authentication: enrol TOTP (POST /v1/me/mfa/totp, then POST /v1/me/mfa/totp/verify) first")
}

// ImpersonationEnded reports a request whose X-Impersonation-Id header names a login-as session
// that cannot be used: ended, expired, unknown, or someone else's (all alike).
func ImpersonationEnded() *Problem {
	return newProblem("impersonation-ended", "Login-as session ended", http.StatusForbidden,
		"the login-as session named by X-Impersonation-Id has ended, has expired or is not yours; drop the header or start a new one")
}

// Throttled reports too many attempts (the answer's Retry-After header says when to
// try again).
func Throttled(detail string) *Problem {
	return newProblem("throttled", "Too many requests", http.StatusTooManyRequests, detail)
}

// NotFound reports a thing that does not exist or lies outside the caller's branch;
// the two are indistinguishable on purpose.
func NotFound(kind string) *Problem {
	return newProblem("not-found", "Not found", http.StatusNotFound, kind+" not found")
}

// Conflict reports a request that clashes with the current state.
func Conflict(slug, detail string, errs ...FieldError) *Problem {
	p := newProblem(slug, "Conflict", http.StatusConflict, detail)
	p.Errors = errs
	return p
}

// HasChildren refuses to delete a node that still has children; counts says what
// they are (kind → status → count, possibly empty while the counts catch up).
func HasChildren(kind string, counts map[string]map[string]int) *Problem {
	if counts == nil {
		counts = map[string]map[string]int{}
	}
	p := Conflict("has-children", "the "+kind+" still has children; delete them first, or delete with ?cascade=true",
		Field("id", "has children"))
	p.Children = counts
	return p
}

// EmailTaken refuses to invite an email that another console user already has. It
// tells the caller that the address is in use somewhere, whatever the branch: emails
// are unique across the whole console, because they are the sign-in name.
func EmailTaken() *Problem {
	return Conflict("email-taken", "another console user already has this email", Field("email", "already taken"))
}

// LastAdmin refuses to deactivate, demote or delete the last active admin of a node,
// which would leave the node with nobody to manage it.
func LastAdmin() *Problem {
	return Conflict("last-admin", "this is the last active admin of the node; make another user an active admin first",
		Field("id", "last active admin"))
}

// InvalidToken answers every activation token that does not work, unknown, expired or
// already used, alike.
func InvalidToken() *Problem {
	p := newProblem("invalid-token", "Invalid token", http.StatusBadRequest,
		"the activation link is invalid, has expired or was already used; ask for a new invitation")
	p.Errors = []FieldError{{Field: "token", Message: "invalid, expired or already used"}}
	return p
}

// InvalidCode answers every password reset that does not work, an unknown email, a
// wrong, expired or spent code, alike, so the answer never tells whether an account
// exists.
func InvalidCode() *Problem {
	p := newProblem("invalid-code", "Invalid code", http.StatusBadRequest,
		"the email and code do not match a pending password reset, or the code has expired; ask for a new code")
	p.Errors = []FieldError{{Field: "code", Message: "invalid or expired"}}
	return p
}

// Stale reports an If-Match that no longer matches the current version.
func Stale() *Problem {
	return newProblem("stale", "Precondition failed", http.StatusPreconditionFailed,
		"the resource changed since this version was read; read it again and retry")
}

// TooLarge reports a body over the operation's limit.
func TooLarge(limit int64) *Problem {
	p := newProblem("too-large", "Request body too large", http.StatusRequestEntityTooLarge,
		fmt.Sprintf("the body must not exceed %d bytes", limit))
	p.Errors = []FieldError{{Field: "body", Message: "too large"}}
	return p
}

// UnsupportedMediaType reports a body that is not JSON.
func UnsupportedMediaType() *Problem {
	p := newProblem("unsupported-media-type", "Unsupported media type", http.StatusUnsupportedMediaType,
		"send the body as application/json")
	p.Errors = []FieldError{{Field: "Content-Type", Message: "must be application/json"}}
	return p
}

// RetryAfterUnavailable is the Retry-After (seconds) of an unavailable answer: the
// throttling and failures it reports pass within moments.
const RetryAfterUnavailable = 1

// Unavailable reports that the table (or another AWS service the operation needs)
// throttled the request or failed for a moment, even after the SDK's own retries:
// 503, with Retry-After. What the operation did not finish was not written (every
// change is one all-or-nothing transaction, and the steps around it are safe to
// repeat), so the same request may simply be sent again.
func Unavailable() *Problem {
	return newProblem("unavailable", "Service unavailable", http.StatusServiceUnavailable,
		"the service is busy for a moment and nothing was changed; retry after the time in Retry-After")
}

// ErrUnavailable marks an error as a passing refusal of a service the API depends
// on, for the errors Transient cannot tell from their codes (a transaction cancelled
// by throttling or by contention that outlasted its retries, shared/store).
var ErrUnavailable = errors.New("a service the operation depends on is unavailable for a moment")

// transientCodes are the AWS error codes of throttling and of the services' own
// failures, which pass: DynamoDB's (ProvisionedThroughputExceededException,
// ThrottlingException, RequestLimitExceeded, InternalServerError,
// TransactionInProgressException) and Cognito's (TooManyRequestsException,
// InternalErrorException).
var transientCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"RequestLimitExceeded":                   true,
	"InternalServerError":                    true,
	"InternalFailure":                        true,
	"ServiceUnavailable":                     true,
	"TransactionInProgressException":         true,
	"TooManyRequestsException":               true,
	"InternalErrorException":                 true,
}

// Transient reports an error that trying again shortly can cure: one marked with
// ErrUnavailable, an AWS error whose code is throttling or a service failure, or any
// AWS answer with a 5xx status. It reads the SDK's errors through the methods they
// have (ErrorCode, HTTPStatusCode), so this package links no SDK.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) && transientCodes[coded.ErrorCode()] {
		return true
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && status.HTTPStatusCode() >= 500
}

// Internal is what the client sees of any unexpected error.
func Internal() *Problem {
	return newProblem("internal", "Internal error", http.StatusInternalServerError,
		"the request could not be completed; it is safe to retry")
}

// Write answers err as problem+json. Errors that are not a *Problem are answered as
// 503 unavailable when they are Transient, otherwise as a generic 500: their text
// stays on our side (the caller logs it). A 503 carries Retry-After.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		if Transient(err) {
			p = Unavailable()
		} else {
			p = Internal()
		}
	}
	if p.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterUnavailable))
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
