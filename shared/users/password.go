package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
)

// PasswordPolicy is the user pool's password policy (template.yaml,
// UserPool.Policies.PasswordPolicy; a test keeps the two equal). Passwords are checked
// against it before Cognito sees them, so that every rule broken is named at once
// (Cognito names one), and without reading anything.
var PasswordPolicy = struct {
	MinimumLength                                      int
	RequireLowercase, RequireUppercase, RequireNumbers bool
	RequireSymbols                                     bool
}{MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true}

// PasswordProblems lists what is wrong with password under the policy, naming field.
func PasswordProblems(field, password string) []problem.FieldError {
	var errs []problem.FieldError
	add := func(msg string) { errs = append(errs, problem.Field(field, msg)) }
	has := func(f func(rune) bool) bool {
		for _, r := range password {
			if f(r) {
				return true
			}
		}
		return false
	}
	p := PasswordPolicy
	switch n := len([]rune(password)); {
	case n < p.MinimumLength:
		add(fmt.Sprintf("must be at least %d characters long", p.MinimumLength))
	case len(password) > identity.MaxPassword:
		add(fmt.Sprintf("must be at most %d bytes long", identity.MaxPassword))
	}
	if p.RequireLowercase && !has(unicode.IsLower) {
		add("must contain a lower-case letter")
	}
	if p.RequireUppercase && !has(unicode.IsUpper) {
		add("must contain an upper-case letter")
	}
	if p.RequireNumbers && !has(unicode.IsDigit) {
		add("must contain a digit")
	}
	if p.RequireSymbols && !has(func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }) {
		add("must contain a symbol")
	}
	if has(unicode.IsControl) {
		add("must not contain control characters")
	}
	return errs
}

// resetItem is a pending password reset of one user: the hash of the code sent by
// email, its expiry and the wrong codes tried.
type resetItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	UserID    string `dynamodbav:"userId"`
	Salt      string `dynamodbav:"salt"`
	CodeHash  string `dynamodbav:"codeHash"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
	Attempts  int    `dynamodbav:"attempts"`
	// ClaimedUntil is set while a reset uses the code (see claimFor).
	ClaimedUntil int64 `dynamodbav:"claimedUntil,omitempty"`
}

// ResetKey is the key of user userID's pending password reset.
func ResetKey(userID string) store.Item { return identity.ResetKey(userID) }

// CodeDigits is the length of a reset code.
const CodeDigits = 8

var codePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{8}$`) })

func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	return fmt.Sprintf("%08d", n.Int64())
}

func hashCode(salt, code string) string {
	sum := sha256.Sum256([]byte(salt + ":" + code))
	return hex.EncodeToString(sum[:])
}

// Accepted is the one answer of a forgotten-password request.
type Accepted struct {
	Status string `json:"status"`
}

type forgotBody struct {
	Email *string `json:"email"`
}

func readEmail(v *string) (string, []problem.FieldError) {
	if v == nil {
		return "", []problem.FieldError{problem.Field("email", "is required")}
	}
	e, err := identity.CleanEmail(*v)
	if err != nil {
		return "", []problem.FieldError{problem.Field("email", "must be a plain email address of at most 254 characters")}
	}
	return e, nil
}

// throttled counts an attempt against the email and the source IP, and refuses it
// (429 with Retry-After) over either limit. It runs before anything about the account
// is read, so its answer never depends on whether the account exists.
func (s *Service) throttled(w http.ResponseWriter, r *http.Request, scope, email string, perEmail, perIP int) error {
	keys := []throttle.Key{{Scope: scope + "-email", Value: identity.EmailDigest(email), Max: perEmail}}
	if ip := api.MetaOf(r).SourceIP; ip != "" {
		keys = append(keys, throttle.Key{Scope: scope + "-ip", Value: ip, Max: perIP})
	}
	a, err := s.limiter().Begin(r.Context(), keys...)
	if err != nil {
		return err
	}
	if !a.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(a.RetryAfter.Round(time.Second)/time.Second)+1))
		return problem.Throttled("too many attempts for this email or from this address; wait and retry")
	}
	return nil
}

// activeUserByEmail finds the active console user with email, or nil.
func (s *Service) activeUserByEmail(ctx context.Context, email string) (*identity.UserItem, error) {
	var owner nodes.UniqueName
	err := s.Store.Get(ctx, identity.EmailKey(email), &owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var u identity.UserItem
	err = s.Store.Get(ctx, identity.UserKey(owner.OwnerID), &u)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Status != identity.StatusActive {
		return nil, nil
	}
	return &u, nil
}

// forgotPassword serves POST /v1/auth/password/forgot (public). Whatever the email,
// the answer is the same 202: for an active console user a new code replaces any
// pending one and is sent by email; for anyone else nothing happens.
func (s *Service) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b forgotBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	email, errs := readEmail(b.Email)
	if len(errs) > 0 {
		return problem.Invalid("the request is invalid", errs...)
	}
	l := s.limits()
	if err := s.throttled(w, r, identity.ForgotScope, email, l.ForgotPerEmail, l.ForgotPerIP); err != nil {
		return err
	}
	u, err := s.activeUserByEmail(ctx, email)
	if err != nil {
		return err
	}
	if u != nil {
		if err := s.sendResetCode(ctx, *u); err != nil {
			return err
		}
	}
	return api.WriteJSON(w, http.StatusAccepted, Accepted{Status: "accepted"})
}

// sendResetCode stores a new code for u (replacing any pending one) and emails it.
func (s *Service) sendResetCode(ctx context.Context, u identity.UserItem) error {
	now := s.now()
	code := newCode()
	saltBytes := make([]byte, 16)
	_, _ = rand.Read(saltBytes)
	salt := hex.EncodeToString(saltBytes)
	if err := s.Store.PutIf(ctx, resetItem{
		PK: "RESET#" + u.ID, SK: "RESET", Type: "password-reset", UserID: u.ID,
		Salt: salt, CodeHash: hashCode(salt, code), ExpiresAt: now.Add(ResetValidity).Unix(),
	}, nil); err != nil {
		return err
	}
	brand, err := mail.BrandingFor(ctx, s.Store, nodeOf(u))
	if err != nil {
		return err
	}
	m, err := mail.Render(mail.TemplatePasswordReset, brand, mail.PasswordReset{
		FirstName: u.FirstName, Code: code,
		Link:     s.link("/reset-password", url.Values{"email": {u.Email}}),
		ValidFor: "15 minutes",
	})
	if err != nil {
		return err
	}
	m.To, m.Lineage = u.Email, nodeOf(u).Lineage()
	return s.Mail.Send(ctx, m)
}

type resetBody struct {
	Email       *string `json:"email"`
	Code        *string `json:"code"`
	NewPassword *string `json:"newPassword"`
}

// read validates a reset request before anything is read, the new password against
// the pool's policy included, so that the answer never depends on the account: the
// cleaned email, or the 400 naming every problem.
func (b resetBody) read() (string, error) {
	email, errs := readEmail(b.Email)
	if b.Code == nil {
		errs = append(errs, problem.Field("code", "is required"))
	} else if !codePattern().MatchString(*b.Code) {
		errs = append(errs, problem.Field("code", fmt.Sprintf("must be the %d digits sent by email", CodeDigits)))
	}
	if b.NewPassword == nil {
		errs = append(errs, problem.Field("newPassword", "is required"))
	} else {
		errs = append(errs, PasswordProblems("newPassword", *b.NewPassword)...)
	}
	if len(errs) > 0 {
		return "", problem.Invalid("the reset request is invalid", errs...)
	}
	return email, nil
}

// resetPassword serves POST /v1/auth/password/reset (public).
//
// The input is checked first, the password against the policy included, before
// anything is read: those answers never depend on the account. Then every way the
// email and code can fail to match a pending reset (no such account, no pending code,
// expired, wrong, too many wrong tries) is the one invalid-code answer; a wrong code
// counts against the pending reset, which dies after ResetMaxAttempts.
// Order, and what each failure leaves: (1) the code is claimed for claimFor, so that
// two uses of it cannot both set a password; (2) Cognito sets the password (refused:
// the claim is released and the code still works) and (3) signs the user out
// everywhere (refresh tokens revoked; a failure is logged); (4) one transaction deletes
// the pending reset (single use) and records the change. If (4) fails the password is
// already changed and the code stays claimed until claimFor passes; the answer is a
// 500.
func (s *Service) resetPassword(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b resetBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	email, err := b.read()
	if err != nil {
		return err
	}
	l := s.limits()
	if err := s.throttled(w, r, identity.ResetScope, email, l.ResetPerEmail, l.ResetPerIP); err != nil {
		return err
	}
	u, err := s.activeUserByEmail(ctx, email)
	if err != nil {
		return err
	}
	if u == nil {
		return problem.InvalidCode()
	}
	key := ResetKey(u.ID)
	var pending resetItem
	err = s.Store.Get(ctx, key, &pending)
	if errors.Is(err, store.ErrNotFound) {
		return problem.InvalidCode()
	}
	if err != nil {
		return err
	}
	now := s.now()
	if !pending.usable(now) {
		return problem.InvalidCode()
	}
	if !pending.matches(*b.Code) {
		_, err := s.Store.UpdateOne(ctx, store.Edit(key, store.Expr{
			Update: "ADD #a :one", Condition: "#h = :h",
			Names:  map[string]string{"#a": "attempts", "#h": "codeHash"},
			Values: map[string]any{":one": 1, ":h": pending.CodeHash},
		}))
		if err != nil && !errors.Is(err, store.ErrConditionFailed) {
			return err
		}
		return problem.InvalidCode()
	}

	// (1)
	same := expression.Name("codeHash").Equal(expression.Value(pending.CodeHash)).
		And(expression.Name("attempts").LessThan(expression.Value(ResetMaxAttempts)))
	if err := s.claim(ctx, key, now, &same); errors.Is(err, store.ErrConditionFailed) {
		return problem.InvalidCode()
	} else if err != nil {
		return err
	}
	// (2)
	if err := s.setPassword(ctx, u.Email, *b.NewPassword); err != nil {
		s.release(ctx, r, key)
		var p *problem.Problem
		if errors.As(err, &p) {
			p.Errors = []problem.FieldError{problem.Field("newPassword", p.Errors[0].Message)}
		}
		return err
	}
	// (3)
	if _, err := s.cognito().AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{UserPoolId: &s.PoolID, Username: &u.Email}); err != nil {
		logError(ctx, r, "reset: the Cognito sessions were not revoked", err)
	}
	// (4)
	rec, err := record(r, selfActor(*u), "password_reset", u, u)
	if err != nil {
		return err
	}
	del := store.Delete(key, store.AttrIs("codeHash", pending.CodeHash)).FailsWith(problem.InvalidCode())
	// The API refuses the tokens issued before the reset (API Gateway would accept
	// them until they expire).
	signOut, err := store.Update(identity.UserKey(u.ID),
		store.Item{"signedOutAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}}, nil,
		expression.AttributeExists(expression.Name("PK")))
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx, del, signOut.FailsWith(problem.InvalidCode()), rec); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
