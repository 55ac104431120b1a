package auditsign

import (
	"context"
	"encoding/pem"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"opsconsole/shared/api"
	"opsconsole/shared/tree"
)

// PublicKeyGetter is the part of the KMS client the public key route uses.
type PublicKeyGetter interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// PublicKey serves GET /v1/audit-logs/public-key: the digests' key in PEM
// (SubjectPublicKeyInfo), asked of KMS once per cold start.
type PublicKey struct {
	KMS     PublicKeyGetter
	KeyID   string
	Callers api.Callers

	mu  sync.Mutex
	pem []byte
}

// Operation is the route's operation.
func (p *PublicKey) Operation() api.Operation {
	return api.Operation{
		ID: tree.OpAuditDigestsKey, Method: http.MethodGet, Path: "/v1/audit-logs/public-key", Kind: "public key",
		Callers: p.Callers, Handle: p.get,
	}
}

func (p *PublicKey) get(w http.ResponseWriter, r *http.Request) error {
	b, err := p.key(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

func (p *PublicKey) key(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pem != nil {
		return p.pem, nil
	}
	out, err := p.KMS.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(p.KeyID)})
	if err != nil {
		return nil, err
	}
	p.pem = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: out.PublicKey})
	return p.pem, nil
}
