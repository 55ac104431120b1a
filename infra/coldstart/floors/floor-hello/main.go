// Command floor-hello is the smallest Lambda function the cold-start benchmark
// (infra/coldstart) measures: the Lambda runtime client and a handler that answers
// without doing anything. It is the floor under which no Go function built with the
// Makefile's flags can start.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
