// Package function is what every Lambda main starts: the handler types of the kinds
// of function (HTTP behind API Gateway, DynamoDB stream consumer, SQS consumer,
// Cognito trigger), a Builder that makes one at cold start, and Start. It imports no AWS SDK
// client, so a function links only the clients its own Builder uses (the docs none).
package function

import (
	"context"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"opsconsole/shared/api"
)

// HTTPHandler is the signature of a function behind an API Gateway HTTP API route
// (payload format 2.0).
type HTTPHandler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// StreamHandler is the signature of a DynamoDB stream consumer that reports partial
// batch failures.
type StreamHandler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// SQSHandler is the signature of an SQS queue's consumer that reports partial batch
// failures (the event source mapping's ReportBatchItemFailures).
type SQSHandler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// PreAuthenticationHandler is the signature of a Cognito pre-authentication trigger.
type PreAuthenticationHandler func(ctx context.Context, ev events.CognitoEventUserPoolsPreAuthentication) (events.CognitoEventUserPoolsPreAuthentication, error)

// ScheduleHandler is the signature of a function an EventBridge schedule invokes
// (template.yaml: a Schedule or ScheduleV2 event).
type ScheduleHandler func(ctx context.Context, ev events.EventBridgeEvent) error

// Function is one built handler; exactly one field is set.
type Function struct {
	HTTP   HTTPHandler
	Stream StreamHandler
	// SQS consumes a queue (the audit exports' job, shared/auditexport).
	SQS SQSHandler
	// PreAuthentication is a Cognito trigger (template.yaml: the user pool's
	// LambdaConfig). moto never calls triggers; tests invoke it with events/.
	PreAuthentication PreAuthenticationHandler
	// CustomResource answers CloudFormation's custom resource requests (shared/firstadmin).
	CustomResource cfn.CustomResourceLambdaFunction
	// Schedule runs on a schedule (the audit digests, shared/auditdigest).
	Schedule ScheduleHandler
}

// Handler returns the handler in the form lambda.Start takes.
func (f Function) Handler() any {
	if f.HTTP != nil {
		return f.HTTP
	}
	if f.PreAuthentication != nil {
		return f.PreAuthentication
	}
	if f.CustomResource != nil {
		return f.CustomResource
	}
	if f.SQS != nil {
		return f.SQS
	}
	if f.Schedule != nil {
		return f.Schedule
	}
	return f.Stream
}

// Builder makes a function's handler once per cold start, from the environment
// template.yaml gives it.
type Builder interface {
	Build(ctx context.Context) (Function, error)
}

// BuildFunc is a Builder written as a function (the stream consumers, the trigger).
type BuildFunc func(ctx context.Context) (Function, error)

// Build implements Builder.
func (f BuildFunc) Build(ctx context.Context) (Function, error) { return f(ctx) }

// Routed is the Builder of an HTTP function: it also tells its operations (method,
// path, whether public) without any configuration, for the router and the checks
// that routes, template.yaml and the OpenAPI document agree.
type Routed interface {
	Builder
	Operations() []api.Operation
}

// Start builds the function and hands it to the Lambda runtime; a configuration
// error stops the cold start.
func Start(b Builder) {
	f, err := b.Build(context.Background())
	if err != nil {
		panic(err)
	}
	lambda.Start(f.Handler())
}

// Static serves operations that need no configuration (the docs).
func Static(ops ...api.Operation) Routed { return static(ops) }

type static []api.Operation

func (s static) Build(context.Context) (Function, error) { return Serve(s...), nil }
func (s static) Operations() []api.Operation             { return s }

// Serve is the HTTP function of ops.
func Serve(ops ...api.Operation) Function {
	return Function{HTTP: api.Lambda(api.Serve(ops...))}
}
