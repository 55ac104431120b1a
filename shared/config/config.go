// Package config reads a function's settings from its environment, as template.yaml
// gives them to Lambda (and the local runtime gives them to the same code), and builds
// the AWS SDK configuration once per cold start.
package config

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"opsconsole/shared/awscall"
)

// Config is what the operations need to know about their surroundings.
type Config struct {
	AWS            aws.Config
	TableName      string
	UserPoolID     string
	UserPoolClient string
	// APIClientsAppClient is the Cognito app client that issues API clients' tokens
	// (shared/apiclients).
	APIClientsAppClient string
	CursorSecret        []byte
	ConsoleURL          string
}

// Load reads the environment. Endpoints come from the SDK's own variables
// (AWS_ENDPOINT_URL_DYNAMODB, …), so nothing here knows whether it runs locally.
func Load(ctx context.Context) (Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	// Only under a test's observer (the IAM check, infra/iam); in Lambda a no-op.
	awscall.Instrument(&awsCfg)
	c := Config{
		AWS:                 awsCfg,
		TableName:           os.Getenv("TABLE_NAME"),
		UserPoolID:          os.Getenv("USER_POOL_ID"),
		UserPoolClient:      os.Getenv("USER_POOL_CLIENT_ID"),
		APIClientsAppClient: os.Getenv("API_CLIENTS_APP_CLIENT_ID"),
		CursorSecret:        []byte(os.Getenv("CURSOR_SECRET")),
		ConsoleURL:          os.Getenv("CONSOLE_URL"),
	}
	if c.TableName == "" {
		return Config{}, fmt.Errorf("TABLE_NAME is not set")
	}
	return c, nil
}
