package identity

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestPreAuthenticationWithoutTheTable(t *testing.T) {
	p := &PreAuthentication{} // no store: these cases must not read
	ev := events.CognitoEventUserPoolsPreAuthentication{}
	ev.Request.UserNotFound = true
	if _, err := p.Handle(context.Background(), ev); err != nil {
		t.Fatalf("unknown user: %v (Cognito answers them itself)", err)
	}
	ev.Request.UserNotFound = false
	if _, err := p.Handle(context.Background(), ev); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("no sub: %v", err)
	}
}
