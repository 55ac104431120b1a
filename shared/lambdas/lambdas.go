// Package lambdas is the table of every Lambda function's handler, keyed by the folder
// name of its code under functions/ (template.yaml's CodeUri). The Lambda mains and the
// local runtime both build handlers here, so the code that runs locally is the code that
// runs in AWS.
package lambdas

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/events"
)

// HTTPHandler is the signature of a function behind an API Gateway HTTP API route
// (payload format 2.0).
type HTTPHandler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// StreamHandler is the signature of a DynamoDB stream consumer that reports partial
// batch failures.
type StreamHandler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// PreAuthenticationHandler is the signature of a Cognito pre-authentication trigger.
type PreAuthenticationHandler func(ctx context.Context, ev events.CognitoEventUserPoolsPreAuthentication) (events.CognitoEventUserPoolsPreAuthentication, error)

// Function is one built handler; exactly one field is set.
type Function struct {
	HTTP   HTTPHandler
	Stream StreamHandler
	// PreAuthentication is a Cognito trigger (template.yaml: the user pool's
	// LambdaConfig). moto never calls triggers; tests invoke it with events/.
	PreAuthentication PreAuthenticationHandler
	// CustomResource answers CloudFormation's custom resource requests (shared/firstadmin).
	CustomResource cfn.CustomResourceLambdaFunction
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
	return f.Stream
}

type builder func(ctx context.Context) (Function, error)

var builders = map[string]builder{}

// Names lists every function this binary can build, sorted.
func Names() []string {
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Build constructs the named function's handler. Its configuration comes from the
// process environment, as the Lambda service provides it from template.yaml.
func Build(ctx context.Context, name string) (Function, error) {
	b, ok := builders[name]
	if !ok {
		return Function{}, fmt.Errorf("no function named %q", name)
	}
	return b(ctx)
}

// MustBuild is Build for a Lambda main, where a configuration error must stop the
// cold start.
func MustBuild(ctx context.Context, name string) Function {
	f, err := Build(ctx, name)
	if err != nil {
		panic(err)
	}
	return f
}
