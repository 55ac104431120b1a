// Command floor-dynamodb-cognito is the floor of the cold-start benchmark
// (infra/coldstart) for the sign-in functions: the DynamoDB floor plus a Cognito user
// pool client, built at cold start, and nothing of the project.
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
)

// event names a key to read and a user to look up; the benchmark's events have
// neither, so that the handler makes no call, but the calls are there so that the
// binary links a real operation of each client.
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
	table, pool := os.Getenv("TABLE_NAME"), os.Getenv("USER_POOL_ID")
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
		_, err := idp.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(pool), Username: aws.String(ev.Key)})
		return "floor", err
	})
}
