package local

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The endpoint variables must be the ones the SDK reads: load a configuration from
// the environment and check each client's endpoint.
func TestEndpointEnvIsWhatTheSDKReads(t *testing.T) {
	ep := Endpoints{DynamoDB: "http://127.0.0.1:1", Moto: "http://127.0.0.1:2", SMTPHost: "127.0.0.1", SMTPPort: 3}
	for k, v := range EndpointEnv(ep) {
		t.Setenv(k, v)
	}
	for _, k := range UnsetEnv {
		t.Setenv(k, "")
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		service string
		got     *string
		want    string
	}{
		{dynamodb.ServiceID, dynamodb.NewFromConfig(cfg).Options().BaseEndpoint, ep.DynamoDB},
		{dynamodbstreams.ServiceID, dynamodbstreams.NewFromConfig(cfg).Options().BaseEndpoint, ep.DynamoDB},
		{cip.ServiceID, cip.NewFromConfig(cfg).Options().BaseEndpoint, ep.Moto},
		{sqs.ServiceID, sqs.NewFromConfig(cfg).Options().BaseEndpoint, ep.Moto},
		{kms.ServiceID, kms.NewFromConfig(cfg).Options().BaseEndpoint, ep.Moto},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			if aws.ToString(tc.got) != tc.want {
				t.Errorf("endpoint %q, want %q", aws.ToString(tc.got), tc.want)
			}
		})
	}
	t.Run("region and credentials", func(t *testing.T) {
		if cfg.Region != Region {
			t.Errorf("region %q", cfg.Region)
		}
		creds, err := cfg.Credentials.Retrieve(context.Background())
		if err != nil || creds.AccessKeyID != AccessKeyID {
			t.Errorf("credentials %+v, %v", creds, err)
		}
	})
}

func TestResolveDynamic(t *testing.T) {
	b := &bootstrapper{secrets: map[string]string{
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:s-Cursor-abc123": "plain",
		"json": `{"user":"u","password":"p"}`,
	}}
	tests := []struct {
		name, in, want string
	}{
		{"by ARN", "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:s-Cursor-abc123:SecretString}}", "plain"},
		{"by ARN, no field", "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:s-Cursor-abc123}}", "plain"},
		{"JSON key", "x-{{resolve:secretsmanager:json:SecretString:password}}-y", "x-p-y"},
		{"no reference", "plain text", "plain text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.resolveDynamic(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("unknown secret is random and stable", func(t *testing.T) {
		a, err1 := b.resolveDynamic("{{resolve:secretsmanager:elsewhere}}")
		c, err2 := b.resolveDynamic("{{resolve:secretsmanager:elsewhere:SecretString}}")
		if err1 != nil || err2 != nil || len(a) != 64 || a != c {
			t.Errorf("got %q and %q (%v, %v)", a, c, err1, err2)
		}
	})
	t.Run("ssm is refused", func(t *testing.T) {
		if _, err := b.resolveDynamic("{{resolve:ssm:/p}}"); err == nil {
			t.Error("no error")
		}
	})
}

func TestGenerateSecret(t *testing.T) {
	tests := []struct {
		name  string
		spec  map[string]any
		check func(string) bool
	}{
		{"template's cursor secret", map[string]any{"PasswordLength": 64, "ExcludePunctuation": true}, func(s string) bool {
			return len(s) == 64 && strings.Trim(s, alnum) == ""
		}},
		{"default length", map[string]any{}, func(s string) bool { return len(s) == 32 }},
		{"digits only", map[string]any{"ExcludeUppercase": true, "ExcludeLowercase": true, "ExcludePunctuation": true, "PasswordLength": 10},
			func(s string) bool { return len(s) == 10 && strings.Trim(s, "0123456789") == "" }},
		{"JSON template", map[string]any{"SecretStringTemplate": `{"user":"a"}`, "GenerateStringKey": "password"}, func(s string) bool {
			var m map[string]string
			return json.Unmarshal([]byte(s), &m) == nil && m["user"] == "a" && len(m["password"]) == 32
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := generateSecret(tc.spec)
			if err != nil || !tc.check(s) {
				t.Errorf("got %q, %v", s, err)
			}
		})
	}
}

func TestDecodeProps(t *testing.T) {
	in := &cip.CreateUserPoolInput{}
	unused, err := decodeProps(map[string]any{
		"UserPoolName":       "p",
		"UsernameAttributes": []any{"email"},
		"Policies":           map[string]any{"PasswordPolicy": map[string]any{"MinimumLength": 12, "RequireSymbols": false}},
		"EnabledMfas":        []any{"SOFTWARE_TOKEN_MFA"},
		"Bogus":              1,
	}, in, map[string]string{"UserPoolName": "PoolName"}, "EnabledMfas")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.PoolName) != "p" || len(in.UsernameAttributes) != 1 || aws.ToInt32(in.Policies.PasswordPolicy.MinimumLength) != 12 {
		t.Errorf("decoded %+v", in)
	}
	if len(unused) != 1 || unused[0] != "Bogus" {
		t.Errorf("unused %v", unused)
	}
}

func TestMissingNamesEachTool(t *testing.T) {
	missing := Missing(t.TempDir())
	got := strings.Join(missing, "; ")
	for _, want := range []string{"DynamoDB Local", "moto", "maildev"} {
		if !strings.Contains(got, want) {
			t.Errorf("Missing = %q, lacks %s", got, want)
		}
	}
}
