// Command floor-dynamodb-kms-sesv2-sqs is the floor of the cold-start benchmark
// (infra/coldstart) for the webhook deliverer: the DynamoDB floor plus KMS, SES (v2) and SQS clients, built at cold start, and nothing of the project.
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
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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
	ses := sesv2.NewFromConfig(cfg)
	queues := sqs.NewFromConfig(cfg)
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
		if _, err := keys.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(ev.Key), CiphertextBlob: []byte(ev.Key)}); err != nil {
			return "floor", err
		}
		if _, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String(ev.Key),
			Destination:      &sestypes.Destination{ToAddresses: []string{ev.Key}},
			Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: []byte(ev.Key)}},
		}); err != nil {
			return "floor", err
		}
		if _, err := queues.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(ev.Key), MessageBody: aws.String(ev.Key)}); err != nil {
			return "floor", err
		}
		return "floor", nil
	})
}
