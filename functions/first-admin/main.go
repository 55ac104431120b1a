// Command first-admin is the Lambda function of that operation; its handler lives in shared/.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"opsconsole/shared/lambdas"
)

func main() {
	lambda.Start(lambdas.MustBuild(context.Background(), "first-admin").Handler())
}
