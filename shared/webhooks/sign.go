package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret; the rest is the base64 of SecretBytes
// random bytes.
const (
	SecretPrefix = "whsec_"
	SecretBytes  = 32
)

// NewSecret makes a signing secret.
func NewSecret() string {
	b := make([]byte, SecretBytes)
	rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey is the HMAC key of a secret.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhooks: a secret without its whsec_ prefix")
	}
	return base64.StdEncoding.DecodeString(raw)
}

// Sign is the webhook-signature header of a message: "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" for each secret, separated by spaces (during a rotation the
// old and the new secret both sign, so a receiver holding either verifies).
func Sign(id string, at time.Time, body []byte, secrets []string) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		h := hmac.New(sha256.New, key)
		h.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
		h.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	if len(sigs) == 0 {
		return "", errors.New("webhooks: no secret to sign with")
	}
	return strings.Join(sigs, " "), nil
}
