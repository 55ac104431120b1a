package signup

import (
	"crypto/subtle"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opsconsole/shared/identity"
	"opsconsole/shared/levels"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// The pure rules of self-service signup: what a form must hold, which partners take
// signups, when a verification link works, and which organizations can be decided.
// They read nothing and write nothing (the handlers read, call them, then write), so
// that rules_test.go tests them in tables, without the local system.

// maxToken bounds the verification token accepted: ours are an organization id, a
// dot and 43 characters.
const maxToken = 200

// application is a signup form, validated and cleaned.
type application struct {
	organizationName, firstName, lastName, email string
}

// read validates the signup form before anything is counted or read: the cleaned
// application, or the 400 naming every invalid field.
func (b signupBody) read() (application, error) {
	var a application
	var errs, fe []problem.FieldError
	a.organizationName, fe = cleanName("organizationName", b.OrganizationName)
	errs = append(errs, fe...)
	a.firstName, fe = cleanName("firstName", b.FirstName)
	errs = append(errs, fe...)
	a.lastName, fe = cleanName("lastName", b.LastName)
	errs = append(errs, fe...)
	if b.Email == nil {
		errs = append(errs, problem.Field("email", "is required"))
	} else if e, err := identity.CleanEmail(*b.Email); err != nil {
		errs = append(errs, problem.Field("email", "must be a plain email address of at most 254 characters"))
	} else {
		a.email = e
	}
	if len(errs) > 0 {
		return application{}, problem.Invalid("the body is invalid", errs...)
	}
	return a, nil
}

// cleanName validates a required name of the form.
func cleanName(field string, v *string) (string, []problem.FieldError) {
	if v == nil {
		return "", []problem.FieldError{problem.Field(field, "is required")}
	}
	clean, err := nodes.CleanName(field, *v)
	var p *problem.Problem
	if errors.As(err, &p) {
		return "", p.Errors
	}
	return clean, nil
}

// open tells whether partner p takes signups: its switch is on, it is active, and it
// is not being deleted. Every other partner is answered like a missing one (closed).
func open(p partnerItem) bool {
	return p.SignupEnabled && p.Status == levels.StatusActive && p.Deleting == nil
}

// settingsVerb names the change record of turning a partner's signup on or off.
func settingsVerb(enabled bool) string {
	if enabled {
		return "signup-enabled"
	}
	return "signup-disabled"
}

// tokenOrganization is the organization id a verification token was made for (the
// part before its dot), or false for a token that cannot be one of ours: such a token
// is refused without a read.
func tokenOrganization(token string) (string, bool) {
	id, _, _ := strings.Cut(token, ".")
	if !nodes.ValidID(tree.KindOrganization, id) || len(token) > maxToken {
		return "", false
	}
	return id, true
}

// verifiable reports whether the signup may be verified at now by the token whose
// hash is hash: never verified yet, this token's (compared in constant time), and the
// link not expired (checked here, never left to the table's TTL).
func (sg item) verifiable(hash string, now time.Time) bool {
	return sg.Status == StatusUnverified && subtle.ConstantTimeCompare([]byte(hash), []byte(sg.TokenHash)) == 1 &&
		now.Unix() < sg.ExpiresAt
}

// submitted reports whether the signup counts as one for its organization: an
// unverified signup has no organization yet, and reads like none.
func (sg item) submitted() bool { return sg.Status != StatusUnverified }

// mayDecide refuses to approve or reject (past names which, in the 409) an
// organization that is not pending: a decision is made once.
func mayDecide(org nodes.Item, past string) error {
	if org.Status != levels.StatusPending {
		return problem.Conflict("invalid-transition", "the organization is "+org.Status+"; only a pending one can be "+past,
			problem.Field("status", "is "+org.Status))
	}
	return nil
}

// applicantEmailTaken refuses an approval whose applicant's email now belongs to a
// console user, who could not be invited: nothing changes, and the signup can still
// be rejected.
func applicantEmailTaken() error {
	p := problem.EmailTaken()
	p.Detail = "the applicant's email now belongs to a console user; reject the signup, or approve it after that user is gone"
	return p
}

// validReason checks a rejection reason: 1 to MaxReason characters after trimming, no
// control characters but line breaks and tabs (it is shown in an email).
func validReason(v *string) (string, error) {
	if v == nil {
		return "", problem.Invalid("the body is invalid", problem.Field("reason", "is required"))
	}
	reason := strings.TrimSpace(*v)
	switch {
	case reason == "":
		return "", problem.Invalid("the reason is empty", problem.Field("reason", "must not be empty"))
	case utf8.RuneCountInString(reason) > MaxReason:
		return "", problem.Invalid("the reason is too long", problem.Field("reason", "must be at most "+strconv.Itoa(MaxReason)+" characters"))
	case strings.IndexFunc(reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0:
		return "", problem.Invalid("the reason has a control character", problem.Field("reason", "must not contain control characters other than line breaks and tabs"))
	}
	return reason, nil
}
