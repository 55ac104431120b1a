package webhooks

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// Sealer encrypts and decrypts signing secrets, bound to their endpoint.
type Sealer interface {
	Seal(ctx context.Context, endpointID string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, endpointID string, ciphertext []byte) ([]byte, error)
}

// CachingSealer keeps opened secrets in memory for TTL, so that a warm deliverer
// calls KMS once per secret and few minutes, not once per delivery.
type CachingSealer struct {
	Sealer
	TTL time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	plain []byte
	until time.Time
}

// Open implements Sealer, from the cache when it can.
func (c *CachingSealer) Open(ctx context.Context, endpointID string, ciphertext []byte) ([]byte, error) {
	key := sha256.Sum256(append([]byte(endpointID+"\x00"), ciphertext...))
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.cache[key]; ok && now.Before(e.until) {
		c.mu.Unlock()
		return e.plain, nil
	}
	c.mu.Unlock()
	plain, err := c.Sealer.Open(ctx, endpointID, ciphertext)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[[32]byte]cached{}
	}
	for k, e := range c.cache {
		if now.After(e.until) {
			delete(c.cache, k)
		}
	}
	c.cache[key] = cached{plain: plain, until: now.Add(c.TTL)}
	c.mu.Unlock()
	return plain, nil
}
