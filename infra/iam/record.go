// Package iam holds what the functions do in AWS against what template.yaml lets
// them do. A Recorder, installed as the awscall observer while a test suite drives
// the local system, turns each AWS call of each function into the IAM requests AWS
// would authorize (action, resource ARN, condition keys); Compile reads each
// function's Policies from the template, resolved against the local resources; and
// Check tells which requests no statement allows and which granted actions no
// request used.
package iam

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"opsconsole/shared/awscall"
)

// Request is one authorization AWS makes for a call: a call can need several
// (a transaction needs the action of each of its items, on each item's table).
type Request struct {
	Function string
	// Action is the IAM action ("dynamodb:PutItem").
	Action string
	// Resource is the ARN the action is authorized on.
	Resource string
	// Context holds the condition keys the request carries ("ses:FromAddress").
	Context map[string]string
	// Call is the API call it comes from ("DynamoDB TransactWriteItems").
	Call string
	// StandIn: the local runtime did the call's work otherwise (awscall.Call.StandIn).
	StandIn bool
	// NoIAM: the operation is authorized by a token or is public, not by IAM
	// (tokenAuthorized); it is counted, not checked.
	NoIAM bool
}

// Recorded is a distinct request with how many times it was made.
type Recorded struct {
	Request
	Count int
}

// Recorder collects the requests of every observed call. The zero value is not
// usable; see NewRecorder.
type Recorder struct {
	partition, region, account string

	mu           sync.Mutex
	requests     map[string]*Recorded
	unattributed map[string]int
	errs         map[string]int
}

// NewRecorder records with ARNs in the given region and account: those the
// template's ARNs resolve to (Resolver).
func NewRecorder(region, account string) *Recorder {
	return &Recorder{
		partition: "aws", region: region, account: account,
		requests: map[string]*Recorded{}, unattributed: map[string]int{}, errs: map[string]int{},
	}
}

// Observe is the awscall.Observer.
func (r *Recorder) Observe(_ context.Context, c awscall.Call) {
	reqs, err := r.Requests(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	name := c.Service + " " + c.Operation
	if c.Function == "" {
		// The test harness's own calls (seeding the admin) are no function's.
		r.unattributed[name]++
		return
	}
	if err != nil {
		r.errs[c.Function+": "+name+": "+err.Error()]++
		return
	}
	for _, q := range reqs {
		k := q.key()
		if rec, ok := r.requests[k]; ok {
			rec.Count++
			continue
		}
		r.requests[k] = &Recorded{Request: q, Count: 1}
	}
}

func (q Request) key() string {
	keys := make([]string, 0, len(q.Context))
	for k := range q.Context {
		keys = append(keys, k+"="+q.Context[k])
	}
	sort.Strings(keys)
	return strings.Join([]string{q.Function, q.Action, q.Resource, strings.Join(keys, "&"), q.Call, fmt.Sprint(q.StandIn, q.NoIAM)}, "\x00")
}

// Recorded returns the distinct requests, sorted by function, action, resource.
func (r *Recorder) Recorded() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Recorded, 0, len(r.requests))
	for _, q := range r.requests {
		out = append(out, *q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// Unattributed counts the calls made under no function's name, by "Service Operation".
func (r *Recorder) Unattributed() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyCounts(r.unattributed)
}

// Errors counts the calls that could not be turned into IAM requests (a service or
// operation this package does not know), by description.
func (r *Recorder) Errors() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyCounts(r.errs)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// prefixes are the IAM service prefixes of the SDK's service ids.
var prefixes = map[string]string{
	"DynamoDB":                  "dynamodb",
	"DynamoDB Streams":          "dynamodb",
	"Cognito Identity Provider": "cognito-idp",
	"SESv2":                     "ses",
	"SES":                       "ses",
	"SQS":                       "sqs",
	"KMS":                       "kms",
	"S3":                        "s3",
	"Secrets Manager":           "secretsmanager",
}

// tokenAuthorized are the Cognito user pool operations that IAM does not authorize:
// public ones and those authorized by the user's access token (Cognito's "Understanding
// API, OIDC, and managed login pages authentication": unauthenticated and
// token-authorized operations). A function calling them needs no permission; the
// template says so where they are called (auth-login, auth-refresh, auth-logout,
// me-mfa-*).
var tokenAuthorized = map[string]bool{
	"InitiateAuth": true, "RespondToAuthChallenge": true, "RevokeToken": true,
	"GlobalSignOut": true, "GetUser": true, "ChangePassword": true,
	"AssociateSoftwareToken": true, "VerifySoftwareToken": true, "SetUserMFAPreference": true,
	"ForgotPassword": true, "ConfirmForgotPassword": true, "SignUp": true, "ConfirmSignUp": true,
	"UpdateUserAttributes": true, "VerifyUserAttribute": true, "DeleteUser": true,
}

// s3Actions are the S3 operations whose IAM action is not s3:<operation>.
var s3Actions = map[string]string{
	"HeadObject": "s3:GetObject", "ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket",
	"HeadBucket": "s3:ListBucket", "DeleteObjects": "s3:DeleteObject", "CopyObject": "s3:PutObject",
	"CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
}

// sqsActions are the SQS operations whose IAM action is not sqs:<operation>: a batch
// call is authorized as its single form (the SQS developer guide's "Amazon SQS API
// permissions: Actions and resource reference").
var sqsActions = map[string]string{
	"SendMessageBatch": "sqs:SendMessage", "DeleteMessageBatch": "sqs:DeleteMessage",
	"ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

// Requests turns one call into the IAM requests AWS authorizes for it.
func (r *Recorder) Requests(c awscall.Call) ([]Request, error) {
	prefix, ok := prefixes[c.Service]
	if !ok {
		return nil, fmt.Errorf("service %q has no IAM prefix here", c.Service)
	}
	base := Request{Function: c.Function, Call: c.Service + " " + c.Operation, StandIn: c.StandIn}
	one := func(action, resource string) Request {
		q := base
		q.Action, q.Resource = action, resource
		return q
	}
	switch in := c.Input.(type) {
	case *dynamodb.TransactWriteItemsInput:
		// IAM has no TransactWriteItems action: each item needs its own.
		var out []Request
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, one("dynamodb:PutItem", r.table(it.Put.TableName, nil)))
			case it.Update != nil:
				out = append(out, one("dynamodb:UpdateItem", r.table(it.Update.TableName, nil)))
			case it.Delete != nil:
				out = append(out, one("dynamodb:DeleteItem", r.table(it.Delete.TableName, nil)))
			case it.ConditionCheck != nil:
				out = append(out, one("dynamodb:ConditionCheckItem", r.table(it.ConditionCheck.TableName, nil)))
			}
		}
		return out, nil
	case *dynamodb.TransactGetItemsInput:
		var out []Request
		for _, it := range in.TransactItems {
			if it.Get != nil {
				out = append(out, one("dynamodb:GetItem", r.table(it.Get.TableName, nil)))
			}
		}
		return out, nil
	case *dynamodb.BatchGetItemInput:
		return r.perTable(one, "dynamodb:BatchGetItem", keys(in.RequestItems)), nil
	case *dynamodb.BatchWriteItemInput:
		return r.perTable(one, "dynamodb:BatchWriteItem", keys(in.RequestItems)), nil
	case *dynamodb.QueryInput:
		return []Request{one("dynamodb:Query", r.table(in.TableName, in.IndexName))}, nil
	case *dynamodb.ScanInput:
		return []Request{one("dynamodb:Scan", r.table(in.TableName, in.IndexName))}, nil
	case *sesv2.SendEmailInput:
		return r.sendEmail(base, in)
	}
	if prefix == "cognito-idp" && tokenAuthorized[c.Operation] {
		q := one("cognito-idp:"+c.Operation, "")
		q.NoIAM = true
		return []Request{q}, nil
	}
	resource, err := r.generic(prefix, c.Input)
	if err != nil {
		return nil, err
	}
	action := prefix + ":" + c.Operation
	if a, ok := s3Actions[c.Operation]; ok && prefix == "s3" {
		action = a
	}
	if a, ok := sqsActions[c.Operation]; ok && prefix == "sqs" {
		action = a
	}
	return []Request{one(action, resource)}, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r *Recorder) perTable(one func(string, string) Request, action string, tables []string) []Request {
	out := make([]Request, 0, len(tables))
	for _, t := range tables {
		out = append(out, one(action, r.table(&t, nil)))
	}
	return out
}

// table is the ARN of a table (or of its index) named by name or ARN.
func (r *Recorder) table(name, index *string) string {
	arn := deref(name)
	if !strings.HasPrefix(arn, "arn:") {
		arn = fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", r.partition, r.region, r.account, arn)
	}
	if i := deref(index); i != "" {
		arn += "/index/" + i
	}
	return arn
}

// sendEmail: SES authorizes SendEmail on the sending identity (and configuration
// set), with the From address as ses:FromAddress. With raw content SES v2 checks
// ses:SendRawEmail as well as ses:SendEmail (the SES v1 action of raw messages:
// its AccessDenied errors name ses:SendRawEmail; anymail's SES v2 guide was
// corrected to need both, django-anymail issue #384), so both are requested.
func (r *Recorder) sendEmail(base Request, in *sesv2.SendEmailInput) ([]Request, error) {
	from := deref(in.FromEmailAddress)
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	if from == "" {
		return nil, fmt.Errorf("SendEmail without FromEmailAddress: the identity is not known")
	}
	resources := []string{fmt.Sprintf("arn:%s:ses:%s:%s:identity/%s", r.partition, r.region, r.account, from)}
	if cs := deref(in.ConfigurationSetName); cs != "" {
		resources = append(resources, fmt.Sprintf("arn:%s:ses:%s:%s:configuration-set/%s", r.partition, r.region, r.account, cs))
	}
	actions := []string{"ses:SendEmail"}
	if in.Content != nil && in.Content.Raw != nil {
		actions = append(actions, "ses:SendRawEmail")
	}
	var out []Request
	for _, a := range actions {
		for _, res := range resources {
			q := base
			q.Action, q.Resource = a, res
			q.Context = map[string]string{"ses:FromAddress": from}
			out = append(out, q)
		}
	}
	return out, nil
}

// generic finds the resource of a call from the input's identifying field:
// UserPoolId (Cognito), QueueUrl (SQS), KeyId (KMS), Bucket and Key (S3), SecretId,
// TableName.
func (r *Recorder) generic(prefix string, input any) (string, error) {
	field := func(name string) string {
		v := reflect.ValueOf(input)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return ""
		}
		f := v.FieldByName(name)
		if !f.IsValid() {
			return ""
		}
		if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String && !f.IsNil() {
			return f.Elem().String()
		}
		if f.Kind() == reflect.String {
			return f.String()
		}
		return ""
	}
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", r.partition, service, r.region, r.account, resource)
	}
	switch prefix {
	case "cognito-idp":
		if id := field("UserPoolId"); id != "" {
			return arn("cognito-idp", "userpool/"+id), nil
		}
	case "dynamodb":
		if t := field("TableName"); t != "" {
			return r.table(&t, nil), nil
		}
	case "sqs":
		if u := field("QueueUrl"); u != "" {
			// https://sqs.<region>.amazonaws.com/<account>/<name>
			p, err := url.Parse(u)
			if err != nil {
				return "", err
			}
			parts := strings.Split(strings.Trim(p.Path, "/"), "/")
			if len(parts) == 2 {
				return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", r.partition, r.region, parts[0], parts[1]), nil
			}
			return "", fmt.Errorf("queue URL %s has no /<account>/<name> path", u)
		}
	case "kms":
		// IAM authorizes a key's use on the key even when it is named by an alias; an
		// alias here stands for its key only in policies that grant on the alias ARN.
		if id := field("KeyId"); id != "" {
			if strings.HasPrefix(id, "arn:") {
				return id, nil
			}
			if strings.HasPrefix(id, "alias/") {
				return arn("kms", id), nil
			}
			return arn("kms", "key/"+id), nil
		}
	case "s3":
		if b := field("Bucket"); b != "" {
			if k := field("Key"); k != "" {
				return fmt.Sprintf("arn:%s:s3:::%s/%s", r.partition, b, k), nil
			}
			return fmt.Sprintf("arn:%s:s3:::%s", r.partition, b), nil
		}
	case "secretsmanager":
		if id := field("SecretId"); id != "" {
			if strings.HasPrefix(id, "arn:") {
				return id, nil
			}
			return arn("secretsmanager", "secret:"+id), nil
		}
	}
	return "", fmt.Errorf("no resource known for %s input %T", prefix, input)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
