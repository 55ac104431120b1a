// Command floor-dynamodb is the DynamoDB-only floor of the cold-start benchmark
// (infra/coldstart): what every function that reads the table pays at least, the SDK's
// default configuration and one DynamoDB client, built at cold start as shared/deps
// builds them, and nothing of the project.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// event names a key to read; the benchmark's events have none, so that the handler
// makes no call, but the call is there so that the binary links a real operation.
type event struct {
	Key string `json:"floorKey"`
}

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	table := os.Getenv("TABLE_NAME")
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (string, error) {
		var ev event
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Key == "" {
			return "floor", err
		}
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key:       map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: ev.Key}, "SK": &types.AttributeValueMemberS{Value: ev.Key}},
		})
		return "floor", err
	})
}
