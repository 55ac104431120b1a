// Command floor-dynamodb-kms is the floor of the cold-start benchmark (infra/coldstart)
// for the functions that seal webhook secrets (create, rotate-secret) and the audit
// digest functions (the maker, which signs, and the public key route): the DynamoDB
// floor plus a KMS client, built at cold start, and nothing of the project.
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
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// event names a key to read (and what the other clients would touch); the benchmark's
// events have none, so that the handler makes no call, but the calls are there so that
// the binary links a real operation of each client.
type event struct {
	Key string `json:"floorKey"`
}

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	keys := kms.NewFromConfig(cfg)
	table := os.Getenv("TABLE_NAME")
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (string, error) {
		var ev event
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Key == "" {
			return "floor", err
		}
		if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key:       map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: ev.Key}, "SK": &types.AttributeValueMemberS{Value: ev.Key}},
		}); err != nil {
			return "floor", err
		}
		if _, err := keys.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ev.Key), Plaintext: []byte(ev.Key)}); err != nil {
			return "floor", err
		}
		return "floor", nil
	})
}
