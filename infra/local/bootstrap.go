package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"opsconsole/infra/template"
	"opsconsole/shared/smtpsettings"
)

// The local account. moto's default account is 123456789012; DynamoDB Local writes
// its own ARNs (region "ddblocal", account 000000000000).
const (
	DefaultStackName = "opsconsole-local"
	Region           = "us-east-1"
	AccountID        = "123456789012"
	// AccessKeyID and SecretAccessKey are the dummy credentials every client uses;
	// the emulators accept any.
	AccessKeyID     = "local"
	SecretAccessKey = "local"
)

// Endpoints are where the emulated services answer.
type Endpoints struct {
	// DynamoDB serves DynamoDB and DynamoDB Streams.
	DynamoDB string
	// Moto serves Cognito IdP, SQS, KMS, SES and S3.
	Moto string
	// SMTPHost and SMTPPort are the SMTP server that keeps the mail sent (maildev).
	SMTPHost string
	SMTPPort int
	// MailURL is the mail web UI.
	MailURL string
}

// BootstrapOptions tune Bootstrap; the zero value is the default stack.
type BootstrapOptions struct {
	// StackName names the resources as CloudFormation would (<stack>-<LogicalId>);
	// "" means DefaultStackName.
	StackName string
	// Parameters override the template parameters' defaults.
	Parameters map[string]string
	// Logger reports what is created and which template properties have no local
	// effect; nil discards.
	Logger *slog.Logger
}

// Table is a created DynamoDB table.
type Table struct{ Name, ARN, StreamARN string }

// Queue is a created SQS queue.
type Queue struct{ Name, URL, ARN string }

// Bucket is a created S3 bucket.
type Bucket struct{ Name, ARN string }

// Key is a created KMS key.
type Key struct{ ID, ARN string }

// Secret is an AWS::SecretsManager::Secret: locally only its value exists, made up
// at each start (CloudFormation resolves {{resolve:secretsmanager:...}} at deploy).
type Secret struct{ ARN, Name, Value string }

// Resources is what Bootstrap created, by the template's logical ids, with the
// functions' environment.
type Resources struct {
	StackName string
	Region    string
	AccountID string

	// The single table, user pool, client and key of the template (the first by
	// logical id if it has several).
	TableName        string
	TableARN         string
	StreamARN        string
	UserPoolID       string
	UserPoolARN      string
	UserPoolClientID string
	KMSKeyID         string
	KMSKeyARN        string

	Tables          map[string]Table
	UserPools       map[string]string // pool id
	UserPoolClients map[string]string // client id
	Queues          map[string]Queue
	KMSKeys         map[string]Key
	KMSAliases      map[string]string // alias name
	Secrets         map[string]Secret
	Buckets         map[string]Bucket

	// The HTTP API's JWT authorizer: the issuer and audience the tokens must carry,
	// and where the keys are (moto serves them apart from the issuer URL).
	Issuer   string
	Audience []string
	JWKSURL  string

	// Env is the functions' environment: Globals and every function's own variables
	// resolved, plus the SDK endpoint variables and dummy credentials that point the
	// AWS SDK at the emulators, and SMTP_HOST/SMTP_PORT, SMTP_ADDR and
	// MAIL_TRANSPORT=smtp for the mail server. All functions share it (locally they
	// share one process).
	Env map[string]string
	// FunctionEnv is each function's environment as Lambda would set it (without the
	// local endpoint variables), by function folder name.
	FunctionEnv map[string]map[string]string
}

// EndpointEnv returns the variables that point the AWS SDK for Go v2 (and the other
// AWS SDKs) at the emulators. The SDK reads AWS_ENDPOINT_URL_<service id> with the
// service id upper-cased and spaces made underscores (config.EnvConfig
// GetServiceBaseEndpoint).
func EndpointEnv(ep Endpoints) map[string]string {
	env := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":                  ep.DynamoDB, // "DynamoDB"
		"AWS_ENDPOINT_URL_DYNAMODB_STREAMS":          ep.DynamoDB, // "DynamoDB Streams"
		"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": ep.Moto,     // "Cognito Identity Provider"
		"AWS_ENDPOINT_URL_SQS":                       ep.Moto,     // "SQS"
		"AWS_ENDPOINT_URL_KMS":                       ep.Moto,     // "KMS"
		"AWS_ENDPOINT_URL_SES":                       ep.Moto,     // "SES"
		"AWS_ENDPOINT_URL_SESV2":                     ep.Moto,     // "SESv2"
		"AWS_ENDPOINT_URL_S3":                        ep.Moto,     // "S3"
		"AWS_REGION":                                 Region,
		"AWS_DEFAULT_REGION":                         Region,
		"AWS_ACCESS_KEY_ID":                          AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":                      SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED":                  "true",
	}
	// Webhooks (shared/ssrf): locally exactly these hosts are let through over plain
	// http, 127.0.0.1 unless LOCAL_WEBHOOK_ALLOW says otherwise; Lambda never has it.
	env["LOCAL_WEBHOOK_ALLOW"] = "127.0.0.1"
	if v := os.Getenv("LOCAL_WEBHOOK_ALLOW"); v != "" {
		env["LOCAL_WEBHOOK_ALLOW"] = v
	}
	if ep.SMTPHost != "" {
		env["SMTP_HOST"] = ep.SMTPHost
		env["SMTP_PORT"] = strconv.Itoa(ep.SMTPPort)
		// The functions send their email by SMTP into maildev (shared/mail), where
		// template.yaml's Globals say SES.
		env["MAIL_TRANSPORT"] = "smtp"
		env["SMTP_ADDR"] = net.JoinHostPort(ep.SMTPHost, strconv.Itoa(ep.SMTPPort))
	}
	// The hosts a tenant's own SMTP server may be at locally (shared/smtpsettings):
	// only those listed, 127.0.0.1 unless the variable says otherwise. Lambda never
	// has it, and there only public addresses pass.
	env[smtpsettings.AllowEnv] = "127.0.0.1"
	if v, ok := os.LookupEnv(smtpsettings.AllowEnv); ok {
		env[smtpsettings.AllowEnv] = v
	}
	return env
}

// ParameterEnv maps the template parameters make run takes from the environment to
// their variables.
var ParameterEnv = map[string]string{
	"WebhookRetrySchedule": "WEBHOOK_RETRY_SCHEDULE",
	"WebhookDisableAfter":  "WEBHOOK_DISABLE_AFTER",
}

// ParametersFromEnv are the template parameters set in the environment (ParameterEnv).
func ParametersFromEnv() map[string]string {
	out := map[string]string{}
	for p, v := range ParameterEnv {
		if s := os.Getenv(v); s != "" {
			out[p] = s
		}
	}
	return out
}

// UnsetEnv are the variables Start removes from the environment because they would
// send the SDK elsewhere than the emulators or mix real credentials in.
var UnsetEnv = []string{
	"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
}

// AWSConfig is an SDK configuration for the emulators: the local region and dummy
// credentials. Give each client its endpoint (BaseEndpoint), or use the environment
// Start sets with config.LoadDefaultConfig.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	}
}

// Bootstrap creates in the emulators the resources template.yaml declares, from
// their properties in the template, the way CloudFormation would: the DynamoDB
// tables, SQS queues, KMS keys and aliases, Cognito user pools and clients; secrets
// get a value made up now. It resolves the functions' environment against them.
func Bootstrap(ctx context.Context, tpl *template.Template, ep Endpoints, opts BootstrapOptions) (*Resources, error) {
	b := &bootstrapper{
		tpl:     tpl,
		ep:      ep,
		opts:    opts,
		log:     opts.Logger,
		refs:    map[string]any{},
		atts:    map[string]map[string]any{},
		secrets: map[string]string{},
	}
	if b.opts.StackName == "" {
		b.opts.StackName = DefaultStackName
	}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := AWSConfig()
	b.ddb = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ep.DynamoDB) })
	b.cognito = cip.NewFromConfig(cfg, func(o *cip.Options) { o.BaseEndpoint = aws.String(ep.Moto) })
	b.sqs = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(ep.Moto) })
	b.kms = kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(ep.Moto) })
	b.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(ep.Moto); o.UsePathStyle = true })
	b.res = &Resources{
		StackName: b.opts.StackName, Region: Region, AccountID: AccountID,
		Tables: map[string]Table{}, UserPools: map[string]string{}, UserPoolClients: map[string]string{},
		Queues: map[string]Queue{}, KMSKeys: map[string]Key{}, KMSAliases: map[string]string{},
		Secrets: map[string]Secret{}, Buckets: map[string]Bucket{},
	}
	if err := b.createAll(ctx); err != nil {
		return nil, err
	}
	if err := b.authorizer(); err != nil {
		return nil, err
	}
	if err := b.environment(); err != nil {
		return nil, err
	}
	return b.res, nil
}

type bootstrapper struct {
	tpl  *template.Template
	ep   Endpoints
	opts BootstrapOptions
	log  *slog.Logger

	ddb     *dynamodb.Client
	cognito *cip.Client
	sqs     *sqs.Client
	kms     *kms.Client
	s3      *s3.Client

	res     *Resources
	refs    map[string]any            // logical id → value of Ref
	atts    map[string]map[string]any // logical id → attribute → value of GetAtt
	secrets map[string]string         // secret ARN or name → value
}

type creator func(b *bootstrapper, ctx context.Context, r template.Resource, props map[string]any) error

// creators are the resource types the emulators hold.
var creators = map[string]creator{
	"AWS::DynamoDB::Table":         (*bootstrapper).createTable,
	"AWS::SQS::Queue":              (*bootstrapper).createQueue,
	"AWS::KMS::Key":                (*bootstrapper).createKey,
	"AWS::KMS::Alias":              (*bootstrapper).createAlias,
	"AWS::Cognito::UserPool":       (*bootstrapper).createUserPool,
	"AWS::Cognito::UserPoolClient": (*bootstrapper).createUserPoolClient,
	"AWS::SecretsManager::Secret":  (*bootstrapper).createSecret,
	"AWS::S3::Bucket":              (*bootstrapper).createBucket,
}

func (b *bootstrapper) physicalName(logicalID string) string {
	return b.opts.StackName + "-" + logicalID
}

// createAll creates the resources in an order where each one's references exist.
func (b *bootstrapper) createAll(ctx context.Context) error {
	// Resources that exist without being created here: their Ref and GetAtt values.
	for _, id := range sortedKeys(b.tpl.Resources) {
		r := b.tpl.Resources[id]
		switch r.Type {
		case "AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api":
			b.refs[id] = "local"
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			name := b.physicalName(id)
			if n, ok := r.Properties["FunctionName"].(string); ok {
				name = n
			}
			b.refs[id] = name
			b.atts[id] = map[string]any{"Arn": fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, AccountID, name)}
		default:
			if creators[r.Type] == nil {
				b.log.Debug("resource type not emulated locally", "resource", id, "type", r.Type)
			}
		}
	}
	pending := map[string][]string{}
	for id, r := range b.tpl.Resources {
		if creators[r.Type] == nil {
			continue
		}
		var deps []string
		for _, d := range append(template.References(r.Properties), r.DependsOn...) {
			if dr, ok := b.tpl.Resources[d]; ok && creators[dr.Type] != nil && d != id {
				deps = append(deps, d)
			}
		}
		pending[id] = deps
	}
	for len(pending) > 0 {
		var ready []string
		for id, deps := range pending {
			ok := true
			for _, d := range deps {
				if _, waiting := pending[d]; waiting {
					ok = false
					break
				}
			}
			if ok {
				ready = append(ready, id)
			}
		}
		if len(ready) == 0 {
			return fmt.Errorf("local: circular references among %v", sortedKeys(pending))
		}
		sort.Strings(ready)
		for _, id := range ready {
			r := b.tpl.Resources[id]
			resolved, err := b.resolver().Resolve(r.Properties)
			if err != nil {
				return fmt.Errorf("local: %s: %w", id, err)
			}
			props, _ := resolved.(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			start := time.Now()
			if err := creators[r.Type](b, ctx, r, props); err != nil {
				return fmt.Errorf("local: create %s (%s): %w", id, r.Type, err)
			}
			b.log.Debug("created", "resource", id, "type", r.Type, "ref", b.refs[id], "took", time.Since(start).Round(time.Millisecond))
			delete(pending, id)
		}
	}
	return nil
}

func (b *bootstrapper) resolver() template.Resolver {
	return template.Resolver{Ref: b.ref, GetAtt: b.getAtt}
}

func (b *bootstrapper) ref(name string) (any, error) {
	switch name {
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return AccountID, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return b.opts.StackName, nil
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/00000000-0000-0000-0000-000000000000", Region, AccountID, b.opts.StackName), nil
	case "AWS::NotificationARNs":
		return []any{}, nil
	}
	if p, ok := b.tpl.Parameters[name]; ok {
		if v, ok := b.opts.Parameters[name]; ok {
			return v, nil
		}
		if p.Default == nil {
			return nil, fmt.Errorf("parameter %s has no Default and no value was given", name)
		}
		return p.Default, nil
	}
	if v, ok := b.refs[name]; ok {
		return v, nil
	}
	if r, ok := b.tpl.Resources[name]; ok {
		return nil, fmt.Errorf("resource %s (%s) is not emulated locally", name, r.Type)
	}
	return nil, fmt.Errorf("no parameter or resource %s in the template", name)
}

func (b *bootstrapper) getAtt(res, att string) (any, error) {
	if v, ok := b.atts[res][att]; ok {
		return v, nil
	}
	if r, ok := b.tpl.Resources[res]; ok {
		return nil, fmt.Errorf("attribute %s of %s (%s) is not available locally", att, res, r.Type)
	}
	return nil, fmt.Errorf("no resource %s in the template", res)
}

// notApplied logs the template properties a resource has that have no local effect.
func (b *bootstrapper) notApplied(r template.Resource, props []string) {
	if len(props) > 0 {
		b.log.Info("template properties not applied locally", "resource", r.LogicalID, "properties", strings.Join(props, ", "))
	}
}

// ---------------------------------------------------------------- helpers

// decodeProps copies the template properties that are fields of the SDK input
// struct *out (same names, after rename) into it through JSON, and returns the
// properties it did not use, minus skip.
func decodeProps(props map[string]any, out any, rename map[string]string, skip ...string) ([]string, error) {
	t := reflect.TypeOf(out).Elem()
	use := map[string]any{}
	var unused []string
	for _, k := range sortedKeys(props) {
		if contains(skip, k) {
			continue
		}
		name := k
		if n, ok := rename[k]; ok {
			name = n
		}
		if f, ok := t.FieldByName(name); ok && f.IsExported() {
			use[name] = props[k]
		} else {
			unused = append(unused, k)
		}
	}
	raw, err := json.Marshal(use)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	return unused, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
