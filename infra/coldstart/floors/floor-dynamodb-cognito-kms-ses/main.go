// Command floor-dynamodb-cognito-kms-ses is the floor of the cold-start benchmark
// (infra/coldstart) for the functions that manage console users and send mail, through
// a branch's own server too: the DynamoDB floor plus a Cognito user pool client, an SES
// (v2) client and a KMS client (the tenant's SMTP password), built at cold start, and
// nothing of the project.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// event names a key to read, a user to look up and an address to write to; the
// benchmark's events have none, so that the handler makes no call, but the calls are
// there so that the binary links a real operation of each client.
type event struct {
	Key string `json:"floorKey"`
}

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	idp := cip.NewFromConfig(cfg)
	ses := sesv2.NewFromConfig(cfg)
	keys := kms.NewFromConfig(cfg)
	table, pool, from := os.Getenv("TABLE_NAME"), os.Getenv("USER_POOL_ID"), os.Getenv("MAIL_FROM")
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
		if _, err := idp.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool), Username: aws.String(ev.Key)}); err != nil {
			return "floor", err
		}
		if _, err := keys.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte(ev.Key)}); err != nil {
			return "floor", err
		}
		_, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String(from),
			Destination:      &sestypes.Destination{ToAddresses: []string{ev.Key}},
			Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: []byte(ev.Key)}},
		})
		return "floor", err
	})
}
