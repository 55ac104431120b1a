package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"opsconsole/infra/template"
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
	// Moto serves Cognito IdP, SQS, KMS and SES.
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
		"AWS_REGION":                                 Region,
		"AWS_DEFAULT_REGION":                         Region,
		"AWS_ACCESS_KEY_ID":                          AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":                      SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED":                  "true",
	}
	if ep.SMTPHost != "" {
		env["SMTP_HOST"] = ep.SMTPHost
		env["SMTP_PORT"] = strconv.Itoa(ep.SMTPPort)
		// The functions send their email by SMTP into maildev (shared/mail), where
		// template.yaml's Globals say SES.
		env["MAIL_TRANSPORT"] = "smtp"
		env["SMTP_ADDR"] = net.JoinHostPort(ep.SMTPHost, strconv.Itoa(ep.SMTPPort))
	}
	return env
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
	b.res = &Resources{
		StackName: b.opts.StackName, Region: Region, AccountID: AccountID,
		Tables: map[string]Table{}, UserPools: map[string]string{}, UserPoolClients: map[string]string{},
		Queues: map[string]Queue{}, KMSKeys: map[string]Key{}, KMSAliases: map[string]string{},
		Secrets: map[string]Secret{},
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

// ---------------------------------------------------------------- DynamoDB

func (b *bootstrapper) createTable(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &dynamodb.CreateTableInput{}
	skipped, err := decodeProps(props, in, nil, "TableName", "StreamSpecification", "SSESpecification",
		"TimeToLiveSpecification", "PointInTimeRecoverySpecification")
	if err != nil {
		return err
	}
	name := b.physicalName(r.LogicalID)
	if n, ok := props["TableName"].(string); ok && n != "" {
		name = n
	}
	in.TableName = aws.String(name)
	if ss := template.AsMap(props["StreamSpecification"]); ss != nil {
		view, _ := ss["StreamViewType"].(string)
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(view)}
	}
	if sse := template.AsMap(props["SSESpecification"]); sse != nil {
		spec := &ddbtypes.SSESpecification{}
		if v, ok := sse["SSEEnabled"].(bool); ok {
			spec.Enabled = aws.Bool(v)
		}
		if v, ok := sse["SSEType"].(string); ok {
			spec.SSEType = ddbtypes.SSEType(v)
		}
		if v, ok := sse["KMSMasterKeyId"].(string); ok {
			spec.KMSMasterKeyId = aws.String(v)
		}
		in.SSESpecification = spec
	}
	b.notApplied(r, skipped)
	if _, err := b.ddb.CreateTable(ctx, in); err != nil {
		return err
	}
	var desc *ddbtypes.TableDescription
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := b.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
		if err != nil {
			return err
		}
		if desc = out.Table; desc.TableStatus == ddbtypes.TableStatusActive {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("table %s is still %s", name, desc.TableStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ttl := template.AsMap(props["TimeToLiveSpecification"]); ttl != nil && ttl["Enabled"] == true {
		attr, _ := ttl["AttributeName"].(string)
		if _, err := b.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               in.TableName,
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
		}); err != nil {
			return fmt.Errorf("time to live: %w", err)
		}
		b.log.Debug("DynamoDB Local records TTL but never expires items", "table", name)
	}
	if pitr := template.AsMap(props["PointInTimeRecoverySpecification"]); pitr != nil && pitr["PointInTimeRecoveryEnabled"] == true {
		_, err := b.ddb.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
			TableName:                        in.TableName,
			PointInTimeRecoverySpecification: &ddbtypes.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
		})
		var ae smithy.APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.ErrorCode() == "UnknownOperationException":
			b.log.Debug("DynamoDB Local has no point-in-time recovery", "table", name)
		default:
			return fmt.Errorf("point-in-time recovery: %w", err)
		}
	}
	t := Table{Name: name, ARN: aws.ToString(desc.TableArn), StreamARN: aws.ToString(desc.LatestStreamArn)}
	b.res.Tables[r.LogicalID] = t
	if b.res.TableName == "" {
		b.res.TableName, b.res.TableARN, b.res.StreamARN = t.Name, t.ARN, t.StreamARN
	}
	b.refs[r.LogicalID] = name
	b.atts[r.LogicalID] = map[string]any{"Arn": t.ARN, "StreamArn": t.StreamARN}
	return nil
}

// ---------------------------------------------------------------- SQS

// sqsAttributes are the AWS::SQS::Queue properties that are queue attributes of the
// same name.
var sqsAttributes = map[string]bool{
	"ContentBasedDeduplication": true, "DeduplicationScope": true, "DelaySeconds": true,
	"FifoQueue": true, "FifoThroughputLimit": true, "KmsDataKeyReusePeriodSeconds": true,
	"KmsMasterKeyId": true, "MaximumMessageSize": true, "MessageRetentionPeriod": true,
	"ReceiveMessageWaitTimeSeconds": true, "RedriveAllowPolicy": true, "RedrivePolicy": true,
	"SqsManagedSseEnabled": true, "VisibilityTimeout": true,
}

func (b *bootstrapper) createQueue(ctx context.Context, r template.Resource, props map[string]any) error {
	name := b.physicalName(r.LogicalID)
	if n, ok := props["QueueName"].(string); ok && n != "" {
		name = n
	} else if props["FifoQueue"] == true {
		name += ".fifo"
	}
	attrs := map[string]string{}
	var skipped []string
	for _, k := range sortedKeys(props) {
		v := props[k]
		switch {
		case k == "QueueName" || k == "Tags":
		case sqsAttributes[k]:
			s, err := attributeString(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			attrs[k] = s
		default:
			skipped = append(skipped, k)
		}
	}
	b.notApplied(r, skipped)
	in := &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs, Tags: cfnTags(props["Tags"])}
	out, err := b.sqs.CreateQueue(ctx, in)
	if err != nil {
		return err
	}
	ga, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return err
	}
	q := Queue{Name: name, URL: aws.ToString(out.QueueUrl), ARN: ga.Attributes["QueueArn"]}
	b.res.Queues[r.LogicalID] = q
	b.refs[r.LogicalID] = q.URL
	b.atts[r.LogicalID] = map[string]any{"Arn": q.ARN, "QueueName": q.Name, "QueueUrl": q.URL}
	return nil
}

// attributeString formats a property as an SQS attribute value: JSON for objects.
func attributeString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool, int, int64, float64:
		return fmt.Sprint(x), nil
	case map[string]any, []any:
		raw, err := json.Marshal(x)
		return string(raw), err
	}
	return "", fmt.Errorf("unexpected %T", v)
}

// cfnTags turns CloudFormation's [{Key, Value}] into a map.
func cfnTags(v any) map[string]string {
	list, _ := v.([]any)
	if len(list) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, t := range list {
		m := template.AsMap(t)
		k, _ := m["Key"].(string)
		val, _ := m["Value"].(string)
		if k != "" {
			out[k] = val
		}
	}
	return out
}

// ---------------------------------------------------------------- KMS

func (b *bootstrapper) createKey(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &kms.CreateKeyInput{}
	var skipped []string
	for _, k := range sortedKeys(props) {
		v := props[k]
		switch k {
		case "Description":
			in.Description = aws.String(fmt.Sprint(v))
		case "KeySpec":
			in.KeySpec = kmstypes.KeySpec(fmt.Sprint(v))
		case "KeyUsage":
			in.KeyUsage = kmstypes.KeyUsageType(fmt.Sprint(v))
		case "MultiRegion":
			in.MultiRegion = aws.Bool(v == true)
		case "Origin":
			in.Origin = kmstypes.OriginType(fmt.Sprint(v))
		case "KeyPolicy":
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			in.Policy = aws.String(string(raw))
		case "Tags":
			for key, val := range cfnTags(v) {
				in.Tags = append(in.Tags, kmstypes.Tag{TagKey: aws.String(key), TagValue: aws.String(val)})
			}
		case "EnableKeyRotation", "RotationPeriodInDays", "Enabled":
		default:
			skipped = append(skipped, k)
		}
	}
	b.notApplied(r, skipped)
	out, err := b.kms.CreateKey(ctx, in)
	if err != nil {
		return err
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	if props["EnableKeyRotation"] == true {
		rot := &kms.EnableKeyRotationInput{KeyId: aws.String(id)}
		if n, ok := props["RotationPeriodInDays"].(int); ok {
			rot.RotationPeriodInDays = aws.Int32(int32(n))
		}
		if _, err := b.kms.EnableKeyRotation(ctx, rot); err != nil {
			return fmt.Errorf("key rotation: %w", err)
		}
	}
	if props["Enabled"] == false {
		if _, err := b.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
			return err
		}
	}
	k := Key{ID: id, ARN: aws.ToString(out.KeyMetadata.Arn)}
	b.res.KMSKeys[r.LogicalID] = k
	if b.res.KMSKeyID == "" {
		b.res.KMSKeyID, b.res.KMSKeyARN = k.ID, k.ARN
	}
	b.refs[r.LogicalID] = k.ID
	b.atts[r.LogicalID] = map[string]any{"Arn": k.ARN, "KeyId": k.ID}
	return nil
}

func (b *bootstrapper) createAlias(ctx context.Context, r template.Resource, props map[string]any) error {
	name, _ := props["AliasName"].(string)
	target, _ := props["TargetKeyId"].(string)
	if name == "" || target == "" {
		return errors.New("AliasName and TargetKeyId are required")
	}
	if _, err := b.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(target)}); err != nil {
		return err
	}
	b.res.KMSAliases[r.LogicalID] = name
	b.refs[r.LogicalID] = name
	return nil
}

// ---------------------------------------------------------------- Cognito

func (b *bootstrapper) createUserPool(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &cip.CreateUserPoolInput{}
	// The MFA setting is applied after creation, as CloudFormation does: a pool is
	// created without MFA, then SetUserPoolMfaConfig turns on the EnabledMfas.
	skipped, err := decodeProps(props, in, map[string]string{"UserPoolName": "PoolName"},
		"MfaConfiguration", "EnabledMfas", "LambdaConfig")
	if err != nil {
		return err
	}
	if _, ok := props["LambdaConfig"]; ok {
		skipped = append(skipped, "LambdaConfig (moto never invokes Cognito triggers)")
	}
	b.notApplied(r, skipped)
	if aws.ToString(in.PoolName) == "" {
		in.PoolName = aws.String(b.physicalName(r.LogicalID))
	}
	out, err := b.cognito.CreateUserPool(ctx, in)
	if err != nil {
		return err
	}
	id := aws.ToString(out.UserPool.Id)
	if mfa, _ := props["MfaConfiguration"].(string); mfa != "" && mfa != "OFF" {
		set := &cip.SetUserPoolMfaConfigInput{UserPoolId: aws.String(id), MfaConfiguration: ciptypes.UserPoolMfaType(mfa)}
		for _, m := range template.AsSlice(props["EnabledMfas"]) {
			switch m {
			case "SOFTWARE_TOKEN_MFA":
				set.SoftwareTokenMfaConfiguration = &ciptypes.SoftwareTokenMfaConfigType{Enabled: true}
			case "SMS_MFA":
				set.SmsMfaConfiguration = &ciptypes.SmsMfaConfigType{SmsConfiguration: in.SmsConfiguration}
			case "EMAIL_OTP":
				set.EmailMfaConfiguration = &ciptypes.EmailMfaConfigType{}
			default:
				return fmt.Errorf("EnabledMfas: unknown %v", m)
			}
		}
		if _, err := b.cognito.SetUserPoolMfaConfig(ctx, set); err != nil {
			return fmt.Errorf("MFA configuration: %w", err)
		}
	}
	b.res.UserPools[r.LogicalID] = id
	arn := aws.ToString(out.UserPool.Arn)
	if b.res.UserPoolID == "" {
		b.res.UserPoolID, b.res.UserPoolARN = id, arn
	}
	provider := fmt.Sprintf("cognito-idp.%s.amazonaws.com/%s", Region, id)
	b.refs[r.LogicalID] = id
	b.atts[r.LogicalID] = map[string]any{"Arn": arn, "ProviderName": provider, "ProviderURL": "https://" + provider, "UserPoolId": id}
	return nil
}

func (b *bootstrapper) createUserPoolClient(ctx context.Context, r template.Resource, props map[string]any) error {
	in := &cip.CreateUserPoolClientInput{}
	skipped, err := decodeProps(props, in, nil)
	if err != nil {
		return err
	}
	b.notApplied(r, skipped)
	if aws.ToString(in.ClientName) == "" {
		in.ClientName = aws.String(r.LogicalID)
	}
	out, err := b.cognito.CreateUserPoolClient(ctx, in)
	if err != nil {
		return err
	}
	id := aws.ToString(out.UserPoolClient.ClientId)
	b.res.UserPoolClients[r.LogicalID] = id
	if b.res.UserPoolClientID == "" {
		b.res.UserPoolClientID = id
	}
	b.refs[r.LogicalID] = id
	b.atts[r.LogicalID] = map[string]any{"ClientId": id, "Name": aws.ToString(out.UserPoolClient.ClientName)}
	if s := aws.ToString(out.UserPoolClient.ClientSecret); s != "" {
		b.atts[r.LogicalID]["ClientSecret"] = s
	}
	return nil
}

// ---------------------------------------------------------------- secrets

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// createSecret makes up the secret's value (GenerateSecretString) or takes its
// SecretString. Nothing is created in an emulator: CloudFormation resolves the
// {{resolve:secretsmanager:...}} references at deploy time, and so does Bootstrap.
func (b *bootstrapper) createSecret(_ context.Context, r template.Resource, props map[string]any) error {
	name := b.physicalName(r.LogicalID)
	if n, ok := props["Name"].(string); ok && n != "" {
		name = n
	}
	suffix, err := randomString(6, alnum)
	if err != nil {
		return err
	}
	arn := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", Region, AccountID, name, suffix)
	var value string
	if s, ok := props["SecretString"].(string); ok {
		value = s
	} else if value, err = generateSecret(template.AsMap(props["GenerateSecretString"])); err != nil {
		return err
	}
	b.res.Secrets[r.LogicalID] = Secret{ARN: arn, Name: name, Value: value}
	b.secrets[arn], b.secrets[name] = value, value
	b.refs[r.LogicalID] = arn
	b.atts[r.LogicalID] = map[string]any{"Id": arn}
	return nil
}

// generateSecret follows GenerateSecretString: PasswordLength (default 32), the
// Exclude* options, and SecretStringTemplate with GenerateStringKey.
func generateSecret(g map[string]any) (string, error) {
	length := 32
	if n, ok := g["PasswordLength"].(int); ok && n > 0 {
		length = n
	}
	const upper, lower, digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	var set string
	if g["ExcludeUppercase"] != true {
		set += upper
	}
	if g["ExcludeLowercase"] != true {
		set += lower
	}
	if g["ExcludeNumbers"] != true {
		set += digits
	}
	if g["ExcludePunctuation"] != true {
		set += punct
	}
	if g["IncludeSpace"] == true {
		set += " "
	}
	if ex, ok := g["ExcludeCharacters"].(string); ok {
		set = strings.Map(func(r rune) rune {
			if strings.ContainsRune(ex, r) {
				return -1
			}
			return r
		}, set)
	}
	if set == "" {
		return "", errors.New("GenerateSecretString excludes every character")
	}
	s, err := randomString(length, set)
	if err != nil {
		return "", err
	}
	tmpl, _ := g["SecretStringTemplate"].(string)
	key, _ := g["GenerateStringKey"].(string)
	if tmpl == "" || key == "" {
		return s, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(tmpl), &obj); err != nil {
		return "", fmt.Errorf("SecretStringTemplate: %w", err)
	}
	obj[key] = s
	raw, err := json.Marshal(obj)
	return string(raw), err
}

func randomString(n int, set string) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(set)))
	for i := range out {
		j, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		out[i] = set[j.Int64()]
	}
	return string(out), nil
}

var dynamicRef = regexp.MustCompile(`\{\{resolve:([a-z-]+):([^}]*)\}\}`)

// resolveDynamic replaces the {{resolve:secretsmanager:...}} references in s by the
// secrets' values. A secret the template does not declare gets a random 64-character
// value, the same for every reference.
func (b *bootstrapper) resolveDynamic(s string) (string, error) {
	var firstErr error
	out := dynamicRef.ReplaceAllStringFunc(s, func(m string) string {
		parts := dynamicRef.FindStringSubmatch(m)
		if parts[1] != "secretsmanager" {
			if firstErr == nil {
				firstErr = fmt.Errorf("dynamic reference %s: only secretsmanager is supported locally", m)
			}
			return m
		}
		fields := strings.Split(parts[2], ":")
		var id string
		var rest []string
		if strings.HasPrefix(parts[2], "arn:") && len(fields) >= 7 {
			id, rest = strings.Join(fields[:7], ":"), fields[7:]
		} else {
			id, rest = fields[0], fields[1:]
		}
		val, ok := b.secrets[id]
		if !ok {
			v, err := randomString(64, alnum)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			val, b.secrets[id] = v, v
		}
		if len(rest) >= 2 && rest[1] != "" { // SecretString:json-key
			var obj map[string]any
			if err := json.Unmarshal([]byte(val), &obj); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("dynamic reference %s: the secret is not JSON", m)
				}
				return m
			}
			return fmt.Sprint(obj[rest[1]])
		}
		return val
	})
	return out, firstErr
}

// ---------------------------------------------------------------- authorizer and environment

// authorizer resolves the HTTP API's JWT authorizer and where moto serves its keys.
func (b *bootstrapper) authorizer() error {
	auths := b.tpl.JWTAuthorizers()
	if len(auths) == 0 {
		return nil
	}
	a := auths[0]
	r := b.resolver()
	iss, err := r.ResolveString(a.Issuer)
	if err != nil {
		return fmt.Errorf("local: authorizer %s issuer: %w", a.Name, err)
	}
	b.res.Issuer = iss
	for _, v := range a.Audience {
		s, err := r.ResolveString(v)
		if err != nil {
			return fmt.Errorf("local: authorizer %s audience: %w", a.Name, err)
		}
		b.res.Audience = append(b.res.Audience, s)
	}
	// moto signs tokens with issuer https://cognito-idp.<region>.amazonaws.com/<pool>
	// and serves the pool's keys at <moto>/<pool>/.well-known/jwks.json.
	u, err := url.Parse(iss)
	if err == nil && strings.HasPrefix(u.Host, "cognito-idp.") {
		b.res.JWKSURL = strings.TrimRight(b.ep.Moto, "/") + "/" + strings.Trim(u.Path, "/") + "/.well-known/jwks.json"
	} else {
		b.res.JWKSURL = strings.TrimRight(iss, "/") + "/.well-known/jwks.json"
	}
	return nil
}

func (b *bootstrapper) environment() error {
	fns, err := b.tpl.Functions()
	if err != nil {
		return err
	}
	b.res.FunctionEnv = map[string]map[string]string{}
	b.res.Env = map[string]string{}
	owner := map[string]string{}
	r := b.resolver()
	for _, f := range fns {
		env := map[string]string{}
		for k, v := range f.MergedEnv(b.tpl.Globals) {
			s, err := r.ResolveString(v)
			if err != nil {
				return fmt.Errorf("local: %s environment %s: %w", f.LogicalID, k, err)
			}
			if s, err = b.resolveDynamic(s); err != nil {
				return fmt.Errorf("local: %s environment %s: %w", f.LogicalID, k, err)
			}
			env[k] = s
			if prev, ok := b.res.Env[k]; ok && prev != s {
				return fmt.Errorf("local: environment variable %s is %q for %s but %q for %s; locally all functions share one process environment", k, prev, owner[k], s, f.LogicalID)
			}
			b.res.Env[k], owner[k] = s, f.LogicalID
		}
		b.res.FunctionEnv[f.Name] = env
	}
	for k, v := range EndpointEnv(b.ep) {
		if prev, ok := b.res.Env[k]; ok && prev != v {
			b.log.Info("template environment variable replaced by its local value", "name", k, "template", prev, "local", v)
		}
		b.res.Env[k] = v
	}
	if b.res.JWKSURL != "" {
		b.res.Env["JWKS_URL"] = b.res.JWKSURL
		b.res.Env["JWT_ISSUER"] = b.res.Issuer
	}
	return nil
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
