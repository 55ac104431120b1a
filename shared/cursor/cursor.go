// Package cursor makes the opaque list cursors: a page's last evaluated key, signed
// with HMAC-SHA256 over the key and a binding (the caller and the query), so a cursor
// cannot be forged, altered, or replayed by another caller or for another query.
package cursor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrInvalid is returned for any cursor that does not verify.
var ErrInvalid = errors.New("invalid cursor")

// MaxLen bounds the cursor text accepted, well above any cursor we issue.
const MaxLen = 2048

// Signer signs and verifies cursors with one secret.
type Signer struct{ Secret []byte }

func (s Signer) mac(binding string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.Secret)
	m.Write([]byte(binding))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

// Encode turns a last evaluated key into a cursor bound to binding. All our key
// attributes are strings, which keeps the payload small and plain.
func (s Signer) Encode(binding string, key map[string]types.AttributeValue) (string, error) {
	var plain map[string]string
	if err := attributevalue.UnmarshalMap(key, &plain); err != nil {
		return "", err
	}
	payload, err := json.Marshal(plain)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(binding, payload)), nil
}

// Decode verifies a cursor against binding and returns its key.
func (s Signer) Decode(binding, c string) (map[string]types.AttributeValue, error) {
	if len(c) > MaxLen || len(s.Secret) == 0 {
		return nil, ErrInvalid
	}
	p, sig, ok := strings.Cut(c, ".")
	if !ok {
		return nil, ErrInvalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(binding, payload)) {
		return nil, ErrInvalid
	}
	var plain map[string]string
	if err := json.Unmarshal(payload, &plain); err != nil || len(plain) == 0 {
		return nil, ErrInvalid
	}
	key, err := attributevalue.MarshalMap(plain)
	if err != nil {
		return nil, ErrInvalid
	}
	return key, nil
}
