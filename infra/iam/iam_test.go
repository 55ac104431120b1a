package iam

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"opsconsole/infra/template"
	"opsconsole/shared/awscall"
)

const tableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/T"

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		fold, want bool
	}{
		{tableARN, tableARN, false, true},
		{tableARN, tableARN + "/index/GSI1", false, false},
		{tableARN + "/index/*", tableARN + "/index/GSI1", false, true},
		{"arn:aws:ses:us-east-1:123456789012:identity/*", "arn:aws:ses:us-east-1:123456789012:identity/a@b.c", false, true},
		{"*", "anything:at/all", false, true},
		{"dynamodb:*", "dynamodb:GetItem", true, true},
		{"dynamodb:getitem", "dynamodb:GetItem", true, true},
		{"dynamodb:Get?tem", "dynamodb:GetItem", true, true},
		{"dynamodb:Get*", "dynamodb:PutItem", true, false},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
	} {
		if got := glob(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestConditions(t *testing.T) {
	eq := Statement{Conditions: []Condition{{Operator: "StringEquals", Key: "ses:FromAddress", Values: []string{"no-reply@example.com"}}}}
	if !eq.conditionsHold(map[string]string{"ses:fromaddress": "no-reply@example.com"}) {
		t.Error("StringEquals: the same value (key in another case) does not hold")
	}
	if eq.conditionsHold(map[string]string{"ses:FromAddress": "other@example.com"}) || eq.conditionsHold(nil) {
		t.Error("StringEquals: another value or no key holds")
	}
	ne := Statement{Conditions: []Condition{{Operator: "StringNotLike", Key: "k", Values: []string{"a*"}}}}
	if !ne.conditionsHold(nil) || ne.conditionsHold(map[string]string{"k": "abc"}) || !ne.conditionsHold(map[string]string{"k": "b"}) {
		t.Error("StringNotLike")
	}
	ifx := Statement{Conditions: []Condition{{Operator: "StringEqualsIfExists", Key: "k", Values: []string{"v"}}}}
	if !ifx.conditionsHold(nil) || ifx.conditionsHold(map[string]string{"k": "w"}) {
		t.Error("StringEqualsIfExists")
	}
}

func TestRequests(t *testing.T) {
	r := NewRecorder("us-east-1", "123456789012")
	tbl := aws.String("T")
	reqs, err := r.Requests(awscall.Call{Function: "f", Service: "DynamoDB", Operation: "TransactWriteItems",
		Input: &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: tbl}}, {Update: &types.Update{TableName: tbl}},
			{Delete: &types.Delete{TableName: tbl}}, {ConditionCheck: &types.ConditionCheck{TableName: tbl}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range reqs {
		got = append(got, q.Action+" "+q.Resource)
	}
	want := []string{"dynamodb:PutItem " + tableARN, "dynamodb:UpdateItem " + tableARN, "dynamodb:DeleteItem " + tableARN, "dynamodb:ConditionCheckItem " + tableARN}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TransactWriteItems: %v, want %v", got, want)
	}

	one := func(c awscall.Call) Request {
		t.Helper()
		reqs, err := r.Requests(c)
		if err != nil || len(reqs) != 1 {
			t.Fatalf("%s %s: %v, %v", c.Service, c.Operation, reqs, err)
		}
		return reqs[0]
	}
	if q := one(awscall.Call{Service: "DynamoDB", Operation: "Query", Input: &dynamodb.QueryInput{TableName: tbl, IndexName: aws.String("GSI1")}}); q.Resource != tableARN+"/index/GSI1" {
		t.Errorf("Query on an index: %s", q.Resource)
	}
	if q := one(awscall.Call{Service: "Cognito Identity Provider", Operation: "AdminGetUser", Input: &cip.AdminGetUserInput{UserPoolId: aws.String("us-east-1_X")}}); q.Action != "cognito-idp:AdminGetUser" || q.Resource != "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_X" {
		t.Errorf("AdminGetUser: %+v", q)
	}
	if q := one(awscall.Call{Service: "Cognito Identity Provider", Operation: "InitiateAuth", Input: &cip.InitiateAuthInput{}}); !q.NoIAM {
		t.Errorf("InitiateAuth is IAM-authorized: %+v", q)
	}
	type sqsInput struct{ QueueUrl *string }
	if q := one(awscall.Call{Service: "SQS", Operation: "SendMessage", Input: &sqsInput{QueueUrl: aws.String("http://localhost:5000/123456789012/q1")}}); q.Resource != "arn:aws:sqs:us-east-1:123456789012:q1" {
		t.Errorf("SQS: %+v", q)
	}
	if q := one(awscall.Call{Service: "SQS", Operation: "SendMessageBatch", Input: &sqsInput{QueueUrl: aws.String("http://localhost:5000/123456789012/q1.fifo")}}); q.Action != "sqs:SendMessage" || q.Resource != "arn:aws:sqs:us-east-1:123456789012:q1.fifo" {
		t.Errorf("SendMessageBatch: %+v", q)
	}
	type s3Input struct{ Bucket, Key *string }
	if q := one(awscall.Call{Service: "S3", Operation: "HeadObject", Input: &s3Input{Bucket: aws.String("b"), Key: aws.String("k")}}); q.Action != "s3:GetObject" || q.Resource != "arn:aws:s3:::b/k" {
		t.Errorf("S3: %+v", q)
	}
	if _, err := r.Requests(awscall.Call{Service: "Nope", Operation: "X"}); err == nil {
		t.Error("an unknown service maps")
	}

	ses, err := r.Requests(awscall.Call{Service: "SESv2", Operation: "SendEmail", Input: &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("Console <no-reply@example.com>"),
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: []byte("x")}},
	}})
	if err != nil || len(ses) != 2 || ses[0].Action != "ses:SendEmail" || ses[1].Action != "ses:SendRawEmail" ||
		ses[0].Resource != "arn:aws:ses:us-east-1:123456789012:identity/no-reply@example.com" || ses[0].Context["ses:FromAddress"] != "no-reply@example.com" {
		t.Errorf("SendEmail raw: %+v, %v", ses, err)
	}
}

const policyTemplate = `
Parameters:
  MailFrom: { Type: String, Default: no-reply@example.com }
Resources:
  Table: { Type: AWS::DynamoDB::Table }
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn/
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem]
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: [dynamodb:Query]
              Resource: [!Sub "${Table.Arn}/index/GSI1", !Sub "${Table.Arn}/index/GSI2"]
            - Effect: Allow
              Action: [ses:SendEmail]
              Resource: !Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*
              Condition: { StringEquals: { ses:FromAddress: !Ref MailFrom } }
`

func compiled(t *testing.T) map[string]*FunctionPolicy {
	t.Helper()
	tpl, err := template.Parse([]byte(policyTemplate))
	if err != nil {
		t.Fatal(err)
	}
	r := template.Resolver{
		Ref: func(name string) (any, error) {
			return map[string]any{"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "MailFrom": "no-reply@example.com"}[name], nil
		},
		GetAtt: func(res, att string) (any, error) { return tableARN, nil },
	}
	ps, err := Compile(tpl, r)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestCheck(t *testing.T) {
	ps := compiled(t)
	ses := "arn:aws:ses:us-east-1:123456789012:identity/no-reply@example.com"
	rec := []Recorded{
		{Request: Request{Function: "fn", Action: "dynamodb:GetItem", Resource: tableARN}, Count: 3},
		{Request: Request{Function: "fn", Action: "dynamodb:Query", Resource: tableARN + "/index/GSI1"}, Count: 1},
		// Query on the table itself is not granted, nor a GetItem on an index.
		{Request: Request{Function: "fn", Action: "dynamodb:Query", Resource: tableARN}, Count: 1},
		{Request: Request{Function: "fn", Action: "dynamodb:GetItem", Resource: tableARN + "/index/GSI1"}, Count: 1},
		{Request: Request{Function: "fn", Action: "ses:SendEmail", Resource: ses, Context: map[string]string{"ses:FromAddress": "no-reply@example.com"}}, Count: 1},
		// Another From address fails the condition.
		{Request: Request{Function: "fn", Action: "ses:SendEmail", Resource: ses, Context: map[string]string{"ses:FromAddress": "x@example.com"}}, Count: 1},
		{Request: Request{Function: "ghost", Action: "dynamodb:GetItem", Resource: tableARN}, Count: 1},
	}
	keep := []Keep{
		{Function: "fn", Action: "dynamodb:PutItem", Reason: "error path"},
		{Function: "fn", Action: "dynamodb:DeleteItem", Reason: "no such grant"},
	}
	rep := Check(ps, rec, keep)
	var denied []string
	for _, q := range rep.Denied {
		denied = append(denied, q.Action+" "+q.Resource)
	}
	wantDenied := []string{"dynamodb:Query " + tableARN, "dynamodb:GetItem " + tableARN + "/index/GSI1", "ses:SendEmail " + ses}
	if !reflect.DeepEqual(denied, wantDenied) {
		t.Errorf("denied %v, want %v", denied, wantDenied)
	}
	if len(rep.Unused) != 1 || rep.Unused[0].Action != "dynamodb:Query" || rep.Unused[0].Written != "!Sub ${Table.Arn}/index/GSI2" {
		t.Errorf("unused %v, want Query on GSI2", rep.Unused)
	}
	if len(rep.Kept) != 1 || rep.Kept[0].Action != "dynamodb:PutItem" {
		t.Errorf("kept %v", rep.Kept)
	}
	if len(rep.Stale) != 1 || rep.Stale[0].Action != "dynamodb:DeleteItem" {
		t.Errorf("stale %v", rep.Stale)
	}
	// A Keep marked Sometimes (a path only a drawn fault reaches) is never stale.
	sometimes := append([]Keep(nil), keep...)
	for i := range sometimes {
		sometimes[i].Sometimes = true
	}
	if again := Check(ps, rec, sometimes); len(again.Stale) != 0 {
		t.Errorf("stale with Sometimes: %v", again.Stale)
	}
	if !reflect.DeepEqual(rep.Unknown, []string{"ghost"}) {
		t.Errorf("unknown %v", rep.Unknown)
	}
	if rep.OK() || rep.Checked != 1 || rep.Calls != 9 {
		t.Errorf("OK %v, checked %d, calls %d", rep.OK(), rep.Checked, rep.Calls)
	}
}

// TestInstrument: a client built from an instrumented configuration reports each
// call, with the function its context names, and is left alone without an observer.
func TestInstrument(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	build := func() *dynamodb.Client {
		cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
		awscall.Instrument(&cfg)
		return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	}
	plain := build()
	r := NewRecorder("us-east-1", "123456789012")
	awscall.SetObserver(r.Observe)
	defer awscall.SetObserver(nil)
	observed := build()
	ctx := awscall.WithFunction(context.Background(), "me-get")
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "x"}}
	for _, c := range []*dynamodb.Client{plain, observed, observed} {
		if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("T"), Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := observed.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("T"), Key: key}); err != nil {
		t.Fatal(err)
	}
	got := r.Recorded()
	if len(got) != 1 || got[0].Function != "me-get" || got[0].Action != "dynamodb:GetItem" || got[0].Resource != tableARN || got[0].Count != 2 {
		t.Errorf("recorded %+v", got)
	}
	if u := r.Unattributed(); u["DynamoDB GetItem"] != 1 {
		t.Errorf("unattributed %v", u)
	}
}
