package e2e

import (
	"context"
	"net/url"
)

func urlq(s string) string { return url.QueryEscape(s) }

func t0() context.Context { return context.Background() }
