package smtpsettings

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KeyEnv names the variable of the secrets key (template.yaml's SecretsKey).
const KeyEnv = "SECRETS_KEY_ID"

// Cipher encrypts and decrypts an owner's password.
type Cipher interface {
	Encrypt(ctx context.Context, plaintext []byte, ownerID string) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext []byte, ownerID string) ([]byte, error)
}

// KMSClient is the part of the KMS client the cipher uses.
type KMSClient interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMS encrypts with the secrets key. The encryption context names the purpose and
// the owner, so that a ciphertext copied to another owner's item does not decrypt.
type KMS struct {
	Client KMSClient
	KeyID  string
}

func encryptionContext(ownerID string) map[string]string {
	return map[string]string{"purpose": "smtp-password", "owner": ownerID}
}

// Encrypt implements Cipher.
func (k *KMS) Encrypt(ctx context.Context, plaintext []byte, ownerID string) ([]byte, error) {
	if k.KeyID == "" {
		return nil, errors.New(KeyEnv + " is not set")
	}
	out, err := k.Client.Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String(k.KeyID), Plaintext: plaintext, EncryptionContext: encryptionContext(ownerID),
	})
	if err != nil {
		return nil, fmt.Errorf("kms encrypt: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Decrypt implements Cipher; the key is named too, so that a ciphertext of another
// key is refused.
func (k *KMS) Decrypt(ctx context.Context, ciphertext []byte, ownerID string) ([]byte, error) {
	if k.KeyID == "" {
		return nil, errors.New(KeyEnv + " is not set")
	}
	out, err := k.Client.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(k.KeyID), CiphertextBlob: ciphertext, EncryptionContext: encryptionContext(ownerID),
	})
	if err != nil {
		return nil, fmt.Errorf("kms decrypt: %w", err)
	}
	return out.Plaintext, nil
}
