package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"

	"opsconsole/infra/template"
)

// requireServices gates the integration tests: they run whenever the services are
// installed, and fail (not skip) in CI when they are not.
func requireServices(t *testing.T) {
	t.Helper()
	missing := Missing("")
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("local services not installed (%s); run `%s`", strings.Join(missing, ", "), InstallHint)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func loadTemplate(t *testing.T) *template.Template {
	t.Helper()
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := template.Load(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestSystem(t *testing.T) {
	requireServices(t)
	ctx := context.Background()
	tpl := loadTemplate(t)

	var seeded map[string]string
	var seedSawEnv string
	sys, err := Start(ctx, Options{
		Seed: func(ctx context.Context, env map[string]string) error {
			seeded = env
			seedSawEnv = os.Getenv("TABLE_NAME")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			sys.Stop()
		}
	})
	t.Logf("started in %s (services %v): API %s, DynamoDB %s, moto %s, mail %s", sys.Took.Round(time.Millisecond),
		sys.Services.StartTimes, sys.APIURL, sys.Services.DynamoDBURL, sys.Services.MotoURL, sys.MailURL)
	res := sys.Resources
	cfg := AWSConfig()
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(sys.Services.DynamoDBURL) })
	cognito := cip.NewFromConfig(cfg, func(o *cip.Options) { o.BaseEndpoint = aws.String(sys.Services.MotoURL) })
	sqsClient := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(sys.Services.MotoURL) })
	kmsClient := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(sys.Services.MotoURL) })

	t.Run("table has the template's keys, GSIs and stream", func(t *testing.T) {
		props := tpl.Resources["Table"].Properties
		if res.TableName != DefaultStackName+"-Table" {
			t.Errorf("table name %q", res.TableName)
		}
		out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(res.TableName)})
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, g := range props["GlobalSecondaryIndexes"].([]any) {
			g := g.(map[string]any)
			var keys []string
			for _, k := range g["KeySchema"].([]any) {
				k := k.(map[string]any)
				keys = append(keys, fmt.Sprint(k["AttributeName"], ":", k["KeyType"]))
			}
			want = append(want, fmt.Sprint(g["IndexName"], " ", keys))
		}
		for _, g := range out.Table.GlobalSecondaryIndexes {
			var keys []string
			for _, k := range g.KeySchema {
				keys = append(keys, fmt.Sprint(*k.AttributeName, ":", k.KeyType))
			}
			got = append(got, fmt.Sprint(*g.IndexName, " ", keys))
		}
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("GSIs %v, want %v", got, want)
		}
		ss := out.Table.StreamSpecification
		wantView := props["StreamSpecification"].(map[string]any)["StreamViewType"]
		if ss == nil || !aws.ToBool(ss.StreamEnabled) || string(ss.StreamViewType) != wantView {
			t.Errorf("stream %+v, want enabled %v", ss, wantView)
		}
		if aws.ToString(out.Table.LatestStreamArn) != res.StreamARN || res.StreamARN == "" {
			t.Errorf("stream ARN %q, resources say %q", aws.ToString(out.Table.LatestStreamArn), res.StreamARN)
		}
		if !aws.ToBool(out.Table.DeletionProtectionEnabled) {
			t.Error("deletion protection is off")
		}
		ttl, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(res.TableName)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" {
			t.Errorf("TTL %+v", ttl.TimeToLiveDescription)
		}
	})

	t.Run("DynamoDB errors pass the SDK's CRC32 check", func(t *testing.T) {
		var logged strings.Builder
		c := cfg.Copy()
		c.Logger = logging.LoggerFunc(func(cl logging.Classification, format string, v ...any) {
			fmt.Fprintf(&logged, string(cl)+" "+format+"\n", v...)
		})
		db := dynamodb.NewFromConfig(c, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(sys.Services.DynamoDBURL) })
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(res.TableName),
			Item:                map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "x"}, "SK": &ddbtypes.AttributeValueMemberS{Value: "x"}},
			ConditionExpression: aws.String("attribute_exists(PK)"),
		})
		var ccf *ddbtypes.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("err = %v, want ConditionalCheckFailedException", err)
		}
		if logged.Len() > 0 {
			t.Errorf("the SDK logged:\n%s", logged.String())
		}
	})

	t.Run("pool has the template's password policy", func(t *testing.T) {
		props := tpl.Resources["UserPool"].Properties
		pp := props["Policies"].(map[string]any)["PasswordPolicy"].(map[string]any)
		out, err := cognito.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: aws.String(res.UserPoolID)})
		if err != nil {
			t.Fatal(err)
		}
		got := out.UserPool.Policies.PasswordPolicy
		checks := []struct {
			name      string
			got, want any
		}{
			{"MinimumLength", int(aws.ToInt32(got.MinimumLength)), pp["MinimumLength"]},
			{"RequireLowercase", got.RequireLowercase, pp["RequireLowercase"]},
			{"RequireUppercase", got.RequireUppercase, pp["RequireUppercase"]},
			{"RequireNumbers", got.RequireNumbers, pp["RequireNumbers"]},
			{"RequireSymbols", got.RequireSymbols, pp["RequireSymbols"]},
			{"TemporaryPasswordValidityDays", int(got.TemporaryPasswordValidityDays), pp["TemporaryPasswordValidityDays"]},
			{"Name", aws.ToString(out.UserPool.Name), DefaultStackName + "-users"},
			{"MfaConfiguration", string(out.UserPool.MfaConfiguration), props["MfaConfiguration"]},
			{"UsernameAttributes", fmt.Sprint(out.UserPool.UsernameAttributes), "[email]"},
			{"AllowAdminCreateUserOnly", out.UserPool.AdminCreateUserConfig.AllowAdminCreateUserOnly, true},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
	})

	t.Run("client exists", func(t *testing.T) {
		out, err := cognito.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{
			UserPoolId: aws.String(res.UserPoolID), ClientId: aws.String(res.UserPoolClientID)})
		if err != nil {
			t.Fatal(err)
		}
		c := out.UserPoolClient
		if aws.ToString(c.ClientName) != "console" || aws.ToString(c.ClientSecret) != "" ||
			!aws.ToBool(c.EnableTokenRevocation) || c.PreventUserExistenceErrors != "ENABLED" ||
			aws.ToInt32(c.AccessTokenValidity) != 60 || c.TokenValidityUnits.RefreshToken != "days" {
			t.Errorf("client %+v", c)
		}
	})

	t.Run("queues exist", func(t *testing.T) {
		qs := tpl.ResourcesOfType("AWS::SQS::Queue")
		if len(qs) == 0 {
			t.Fatal("the template has no queue")
		}
		for _, q := range qs {
			got, ok := res.Queues[q.LogicalID]
			if !ok {
				t.Fatalf("queue %s not created", q.LogicalID)
			}
			out, err := sqsClient.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(got.Name)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.QueueUrl) != got.URL || !strings.HasPrefix(got.ARN, "arn:aws:sqs:") {
				t.Errorf("queue %+v, URL %s", got, aws.ToString(out.QueueUrl))
			}
		}
	})

	t.Run("key and alias exist", func(t *testing.T) {
		out, err := kmsClient.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/" + DefaultStackName + "-secrets")})
		secrets := res.KMSKeys["SecretsKey"].ID
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.KeyMetadata.KeyId) != secrets {
			t.Errorf("alias points at %s, key is %s", aws.ToString(out.KeyMetadata.KeyId), secrets)
		}
	})

	t.Run("environment", func(t *testing.T) {
		want := map[string]string{
			"TABLE_NAME": res.TableName, "USER_POOL_ID": res.UserPoolID, "USER_POOL_CLIENT_ID": res.UserPoolClientID,
			"CONSOLE_URL": "http://localhost:3000", "LOG_LEVEL": "INFO",
			"AWS_ENDPOINT_URL_DYNAMODB": sys.Services.DynamoDBURL, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": sys.Services.DynamoDBURL,
			"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": sys.Services.MotoURL, "AWS_ENDPOINT_URL_SQS": sys.Services.MotoURL,
			"AWS_ENDPOINT_URL_KMS": sys.Services.MotoURL, "AWS_ENDPOINT_URL_SES": sys.Services.MotoURL,
			"AWS_REGION": "us-east-1", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(sys.Services.SMTPPort),
		}
		for k, v := range want {
			if os.Getenv(k) != v || seeded[k] != v {
				t.Errorf("%s = %q (seed saw %q), want %q", k, os.Getenv(k), seeded[k], v)
			}
		}
		if s := os.Getenv("CURSOR_SECRET"); len(s) != 64 || strings.Contains(s, "{{") {
			t.Errorf("CURSOR_SECRET = %q, want 64 random characters", s)
		}
		if seedSawEnv != res.TableName {
			t.Errorf("the seed ran before the environment was set")
		}
	})

	t.Run("mail server keeps what is sent", func(t *testing.T) {
		addr := net.JoinHostPort(sys.Services.SMTPHost, strconv.Itoa(sys.Services.SMTPPort))
		msg := "From: Ops <noreply@example.com>\r\nTo: a@example.com\r\nSubject: Hello\r\n\r\nbody\r\n"
		if err := smtp.SendMail(addr, nil, "noreply@example.com", []string{"a@example.com"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		mails, err := sys.Services.Emails(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) != 1 || mails[0].Subject != "Hello" || len(mails[0].To) != 1 || mails[0].To[0].Address != "a@example.com" {
			t.Fatalf("emails %+v", mails)
		}
		if err := sys.Services.DeleteEmails(ctx); err != nil {
			t.Fatal(err)
		}
		if mails, err := sys.Services.Emails(ctx); err != nil || len(mails) != 0 {
			t.Errorf("after delete: %+v, %v", mails, err)
		}
	})

	t.Run("gateway refuses an anonymous call to a protected route", func(t *testing.T) {
		res, err := http.Get(sys.APIURL + "/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", res.StatusCode)
		}
	})

	t.Run("gateway accepts a moto access token", func(t *testing.T) {
		email := fmt.Sprintf("probe-%d@example.com", time.Now().UnixNano())
		const password = "Probe-Passw0rd-Local"
		if _, err := cognito.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
			UserPoolId: aws.String(res.UserPoolID), Username: aws.String(email), MessageAction: ciptypes.MessageActionTypeSuppress,
			UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: aws.String(email)}},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := cognito.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
			UserPoolId: aws.String(res.UserPoolID), Username: aws.String(email), Password: aws.String(password), Permanent: true,
		}); err != nil {
			t.Fatal(err)
		}
		out, err := cognito.InitiateAuth(ctx, &cip.InitiateAuthInput{
			ClientId: aws.String(res.UserPoolClientID), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
			AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password},
		})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, sys.APIURL+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+aws.ToString(out.AuthenticationResult.AccessToken))
		hr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(hr.Body)
		hr.Body.Close()
		// The handler decides the answer (this user has no console profile, so 403 from
		// the handler); the authorizer must have let the request through (it answers
		// 401 with {"message":"Unauthorized"}, or 403 {"message":"Forbidden"}).
		if hr.StatusCode == http.StatusUnauthorized || strings.Contains(string(body), `"message":"Forbidden"`) {
			t.Errorf("status %d: the gateway refused moto's token: %s", hr.StatusCode, body)
		}
	})

	t.Run("stop frees the ports and ends the processes", func(t *testing.T) {
		ports := sys.Services.Ports()
		_, apiPort, _ := net.SplitHostPort(strings.TrimPrefix(sys.APIURL, "http://"))
		p, _ := strconv.Atoi(apiPort)
		ports = append(ports, p)
		var pids []int
		for _, pr := range sys.Services.procs {
			pids = append(pids, pr.cmd.Process.Pid)
		}
		if err := sys.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		stopped = true
		for _, port := range ports {
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(loopback, strconv.Itoa(port)), time.Second); err == nil {
				c.Close()
				t.Errorf("port %d still answers", port)
			}
		}
		for _, pid := range pids {
			if err := syscall.Kill(-pid, 0); err != syscall.ESRCH {
				t.Errorf("process group %d still exists (%v)", pid, err)
			}
		}
		if os.Getenv("TABLE_NAME") == res.TableName {
			t.Error("Stop left the environment set")
		}
	})
}

func TestStartRefusesABusyPort(t *testing.T) {
	requireServices(t)
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	s, err := StartServices(context.Background(), ServiceOptions{MotoPort: port})
	if err == nil {
		s.Stop()
		t.Fatal("started on a busy port")
	}
	if !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Errorf("error %q does not name the port", err)
	}
}
