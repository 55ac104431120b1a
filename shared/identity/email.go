package identity

import (
	"errors"
	"net/mail"
	"strings"
)

// CleanEmail trims and lower-cases an email address and checks that it is a plain
// address of at most 254 characters.
func CleanEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", errors.New("not a plain email address")
	}
	return s, nil
}

// MaxPassword bounds the password accepted; Cognito's own limit is 256.
const MaxPassword = 256
