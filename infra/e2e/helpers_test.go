package e2e

import (
	"context"
	"net/url"
	"testing"
)

func urlq(s string) string { return url.QueryEscape(s) }

func t0() context.Context { return context.Background() }

// expect fails the test unless the answer has status.
func (r response) expect(t testing.TB, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}
