// Package sealkms seals webhook signing secrets with the KMS key: a package of its
// own so that only the functions that seal or open secrets (create, rotate-secret,
// the deliverer) link the KMS client.
package sealkms

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"opsconsole/shared/api"
	"opsconsole/shared/deps"
	"opsconsole/shared/webhooks"
)

// KMSAPI is the part of the KMS client the sealer uses.
type KMSAPI interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Sealer (a webhooks.Sealer) seals with the KMS key KeyID (SECRETS_KEY_ID), the endpoint's id as the
// encryption context: a ciphertext copied to another endpoint does not decrypt.
type Sealer struct {
	KMS   KMSAPI
	KeyID string
}

func encryptionContext(endpointID string) map[string]string {
	return map[string]string{"webhookEndpoint": endpointID}
}

// Seal implements Sealer.
func (k Sealer) Seal(ctx context.Context, endpointID string, plaintext []byte) ([]byte, error) {
	out, err := k.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: &k.KeyID, Plaintext: plaintext, EncryptionContext: encryptionContext(endpointID)})
	if err != nil {
		return nil, err
	}
	return out.CiphertextBlob, nil
}

// Open implements Sealer.
func (k Sealer) Open(ctx context.Context, endpointID string, ciphertext []byte) ([]byte, error) {
	out, err := k.KMS.Decrypt(ctx, &kms.DecryptInput{KeyId: &k.KeyID, CiphertextBlob: ciphertext, EncryptionContext: encryptionContext(endpointID)})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// KeyEnv names the variable of the KMS key (template.yaml: SecretsKey).
const KeyEnv = "SECRETS_KEY_ID"

// New is the sealer of a function's deps: KMS with the key SECRETS_KEY_ID names.
func New(d deps.Deps) webhooks.Sealer {
	return Sealer{KMS: kms.NewFromConfig(d.Config.AWS), KeyID: os.Getenv(KeyEnv)}
}

// Function is the constructor of webhook-endpoints-create and
// webhook-endpoints-rotate-secret, the HTTP functions that seal secrets.
func Function(name string) func(deps.Deps) api.Operation {
	return webhooks.FunctionWith(name, New)
}
