package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"opsconsole/shared/store"
)

// MaxEmail bounds an email address, as RFC 5321 bounds a forward path.
const MaxEmail = 254

// EmailPattern is the rule of ValidEmail as the OpenAPI document states it (with the
// blanks TrimEmail removes): the addresses Cognito accepts as a user name, so that no
// address the API accepts is refused later by Cognito (which answered a 500 to a
// fuzzer's invitation of an address net/mail had accepted).
const EmailPattern = `^[ \t\r\n]*[A-Za-z0-9_][A-Za-z0-9_%+-]*(\.[A-Za-z0-9_%+-]+)*@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}[ \t\r\n]*$`

// TrimEmail removes the blanks (space, tab, line breaks) around an address, and only
// those: EmailPattern allows exactly them, where strings.TrimSpace's Unicode spaces
// and a JSON Schema \s differ.
func TrimEmail(s string) string { return strings.Trim(s, " \t\r\n") }

// ValidEmail reports whether s, already trimmed, is a plain address such as
// ops@example.com: dot-separated runs of letters, digits and _%+- (the first not one
// of %+-) before the @, a domain of at least two labels whose last is two or more
// letters, at most MaxEmail characters. It is EmailPattern without a regexp, which
// would cost every function's cold start its compilation.
func ValidEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if len(s) > MaxEmail || at <= 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if !wordChar(local[0]) {
		return false
	}
	for _, seg := range strings.Split(local, ".") {
		if seg == "" || strings.IndexFunc(seg, func(r rune) bool { return r > 127 || !localChar(byte(r)) }) >= 0 {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels[:len(labels)-1] {
		if l == "" || strings.IndexFunc(l, func(r rune) bool { return r > 127 || !(alnum(byte(r)) || r == '-') }) >= 0 {
			return false
		}
	}
	tld := labels[len(labels)-1]
	return len(tld) >= 2 && strings.IndexFunc(tld, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) < 0
}

func alnum(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }

func wordChar(c byte) bool { return alnum(c) || c == '_' }

func localChar(c byte) bool { return wordChar(c) || c == '%' || c == '+' || c == '-' }

// CleanEmail trims and lower-cases an email address and checks it with ValidEmail.
func CleanEmail(s string) (string, error) {
	s = strings.ToLower(TrimEmail(s))
	if !ValidEmail(s) {
		return "", errors.New("not a plain email address")
	}
	return s, nil
}

// MaxPassword bounds the password accepted; Cognito's own limit is 256.
const MaxPassword = 256

// The attempt counters kept per email address (shared/throttle), named here so that
// the sweep of a deleted account (shared/sweep) finds each one its callers count.
const (
	// ThrottleSignIn counts failed sign-ins per email as sent (shared/signin).
	ThrottleSignIn = "signin-email"
	// ForgotScope and ResetScope count forgotten-password requests and reset attempts
	// (shared/users): scope+"-email" per EmailDigest, scope+"-ip" per address.
	ForgotScope = "forgot"
	ResetScope  = "reset"
)

// EmailDigest is the value under which the password counters count an email: the
// first 16 bytes of its SHA-256, in hex, so that no key holds the address.
func EmailDigest(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:16])
}

// EmailCounters are the scopes and values of every counter kept of email.
func EmailCounters(email string) (scopes, values []string) {
	d := EmailDigest(email)
	return []string{ThrottleSignIn, ForgotScope + "-email", ResetScope + "-email"}, []string{email, d, d}
}

// ActivationKey is the key of the pending activation whose token hashes to hash.
func ActivationKey(hash string) store.Item { return store.Key("ACTIVATION#"+hash, "ACTIVATION") }

// ResetKey is the key of user userID's pending password reset.
func ResetKey(userID string) store.Item { return store.Key("RESET#"+userID, "RESET") }
