// Package awscall lets a test see every AWS call the functions make, named by the
// function that makes it, so that infra/iam can hold each call against that
// function's policy in template.yaml.
//
// Nothing here acts unless an Observer is set (SetObserver), which only tests do:
// in Lambda, config.Load's Instrument adds no middleware and StandIn returns at
// once, so the deployed code paths are the same as without this package. It links
// no service client (only the SDK's middleware packages every client links).
package awscall

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Call is one AWS API call a function made (or, StandIn, one a local stand-in did
// the work of).
type Call struct {
	// Function is the function's name (its folder under functions/), "" when the
	// context names none (the test harness's own calls through config.Load).
	Function string
	// Service is the SDK's service id ("DynamoDB", "Cognito Identity Provider",
	// "SESv2", …) and Operation the API operation ("GetItem", …).
	Service, Operation string
	// Input is the operation's input, as the caller passed it (*dynamodb.GetItemInput, …).
	Input any
	// StandIn is true when no AWS call was made: the local runtime did the work by
	// other means (mail through SMTP instead of SES) and reports the call the
	// deployed function makes in its place.
	StandIn bool
}

// Observer receives every call. It runs on the caller's goroutine, before the
// request is sent, and must be safe for concurrent use.
type Observer func(ctx context.Context, c Call)

var observer atomic.Pointer[Observer]

// SetObserver installs o for every client built afterwards (by config.Load) and
// every stand-in; nil removes it. Tests only.
func SetObserver(o Observer) {
	if o == nil {
		observer.Store(nil)
		return
	}
	observer.Store(&o)
}

type functionKey struct{}

// WithFunction names the function whose work ctx carries. The local runtime's
// function table (shared/lambdas.Build) sets it on the build and on every
// invocation.
func WithFunction(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, functionKey{}, name)
}

// FunctionOf returns the function WithFunction named, or "".
func FunctionOf(ctx context.Context) string {
	s, _ := ctx.Value(functionKey{}).(string)
	return s
}

// Instrument adds the middleware that reports each call of every client built
// from cfg, when an Observer is set; otherwise it leaves cfg as it is.
func Instrument(cfg *aws.Config) {
	if observer.Load() == nil {
		return
	}
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		// Initialize runs once per operation, before retries, with the input as the
		// caller gave it.
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("awscall.Observe",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if o := observer.Load(); o != nil {
					(*o)(ctx, Call{
						Function: FunctionOf(ctx), Service: awsmiddleware.GetServiceID(ctx),
						Operation: awsmiddleware.GetOperationName(ctx), Input: in.Parameters,
					})
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

// StandIn reports the call a deployed function makes where the local runtime does
// the work otherwise (shared/mail's SMTP transport reports SESv2 SendEmail). It does
// nothing when no Observer is set.
func StandIn(ctx context.Context, service, operation string, input func() any) {
	if o := observer.Load(); o != nil {
		(*o)(ctx, Call{Function: FunctionOf(ctx), Service: service, Operation: operation, Input: input(), StandIn: true})
	}
}
