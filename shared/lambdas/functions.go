// Package lambdas is the table of every Lambda function, keyed by the folder name of
// its code under functions/ (template.yaml's CodeUri). The local runtime (infra/) finds
// handlers here by name, and the route checks read each HTTP function's routes from
// it; a Lambda main never imports it (it would link every package).
//
// Adding a function, in four steps:
//  1. Write the operation in its domain package (an api.Operation: method, path,
//     policy operation, target loader, handler) and a constructor that builds it
//     from a function's deps, taking only what it needs: `func(deps.Deps)
//     api.Operation` for HTTP (see levels.Level.Create, users.Function), wrapped in
//     deps.API; deps.Consumer for a consumer of the table's stream (it is served
//     from its SQS queue behind the stream router: shared/consumers tells the rest);
//     deps.Queue for another SQS consumer; deps.Schedule for a function a Schedule
//     event runs (the local runtime plays it: infra/local/schedules.go); function.Static for a route that needs
//     no configuration. An expensive operation also takes an allowance per
//     node: `NodeLimit: throttle.PerTarget(store, throttle.<Allowance>)`.
//  2. Add one line to the table below, in order: "<function-name>": <builder>.
//  3. Write functions/<function-name>/main.go calling function.Start with the same
//     builder expression as the table (copy any main), and nothing else: the binary
//     then links only the packages the constructor uses. Check with
//     `go list -deps ./functions/<function-name>`.
//  4. Add the function to template.yaml (CodeUri functions/<function-name>/, least-
//     privilege policies, or `Role: !GetAtt <Role>.Arn` of a shared role whose grants
//     are exactly what it needs, its route) and the route to shared/apidocs/openapi.yaml:
//     TestRoutes (shared/apidocs) fails until the table, the template and the
//     document agree, and TestTable here until every folder has its entry; the
//     IAM check of infra/e2e (docs/robustness.md) until its policies allow every AWS
//     call the e2e suite sees it make and grant nothing it never uses.
package lambdas

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/events"

	"opsconsole/shared/api"
	"opsconsole/shared/apiclients"
	"opsconsole/shared/apidocs"
	"opsconsole/shared/audit"
	"opsconsole/shared/auditdigest"
	"opsconsole/shared/auditexport"
	"opsconsole/shared/auditsign"
	"opsconsole/shared/awscall"
	"opsconsole/shared/cascade"
	"opsconsole/shared/clientservices"
	"opsconsole/shared/counts"
	"opsconsole/shared/dashboard"
	"opsconsole/shared/deps"
	"opsconsole/shared/firstadmin"
	"opsconsole/shared/function"
	"opsconsole/shared/identity"
	"opsconsole/shared/impersonation"
	"opsconsole/shared/levels"
	"opsconsole/shared/licenses"
	"opsconsole/shared/router"
	"opsconsole/shared/signin"
	"opsconsole/shared/signup"
	"opsconsole/shared/smtpsettings"
	"opsconsole/shared/sweep"
	"opsconsole/shared/users"
	"opsconsole/shared/webhooks"
	"opsconsole/shared/webhooks/deliver"
	"opsconsole/shared/webhooks/dispatch"
	"opsconsole/shared/webhooks/sealkms"
)

// Functions is every function, by name. An HTTP function's builder is a
// function.Routed, which also tells its routes.
var Functions = map[string]function.Builder{
	"api-clients-create":                    deps.API(apiclients.Function("api-clients-create")),
	"api-clients-delete":                    deps.API(apiclients.Function("api-clients-delete")),
	"api-clients-get":                       deps.API(apiclients.Function("api-clients-get")),
	"api-clients-list":                      deps.API(apiclients.Function("api-clients-list")),
	"api-clients-revoke":                    deps.API(apiclients.Function("api-clients-revoke")),
	"api-clients-rotate-secret":             deps.API(apiclients.Function("api-clients-rotate-secret")),
	"api-clients-update":                    deps.API(apiclients.Function("api-clients-update")),
	"auth-token":                            deps.API(apiclients.Function("auth-token")),
	"client-services-activate":              deps.API(clientservices.Function("client-services-activate")),
	"client-services-certificate-get":       deps.API(clientservices.Function("client-services-certificate-get")),
	"client-services-configurations-get":    deps.API(clientservices.Function("client-services-configurations-get")),
	"client-services-configurations-update": deps.API(clientservices.Function("client-services-configurations-update")),
	"client-services-create":                deps.API(clientservices.Function("client-services-create")),
	"client-services-deactivate":            deps.API(clientservices.Function("client-services-deactivate")),
	"client-services-delete":                deps.API(clientservices.Function("client-services-delete")),
	"client-services-get":                   deps.API(clientservices.Function("client-services-get")),
	"client-services-list":                  deps.API(clientservices.Function("client-services-list")),
	"client-services-update":                deps.API(clientservices.Function("client-services-update")),
	"audit-logs-list": deps.API(func(d deps.Deps) api.Operation {
		return (&audit.Lister{Store: d.Store, Cursors: d.Cursors, Callers: d.Callers}).Operation()
	}),
	"audit-digest-maker":   deps.Schedule(auditsign.MakerFunction),
	"audit-digests-list":   deps.API(auditdigest.ListFunction),
	"audit-exporter":       deps.Queue(auditexport.JobFunction),
	"audit-public-key-get": deps.API(auditsign.PublicKeyFunction),
	"audit-exports-create": deps.API(auditexport.CreateFunction),
	"audit-exports-get":    deps.API(auditexport.GetFunction),
	"audit-writer": deps.Consumer(func(d deps.Deps) function.StreamHandler {
		return (&audit.Consumer{Store: d.Store, Backoff: 50 * time.Millisecond, Retention: audit.EntryRetentionFromEnv(), Period: audit.DigestPeriodFromEnv()}).Handle
	}),
	"auth-activate":           deps.API(users.Function("auth-activate")),
	"auth-challenge":          deps.API(signin.ChallengeFunction),
	"auth-forgot-password":    deps.API(users.Function("auth-forgot-password")),
	"auth-login":              deps.API(signin.LoginFunction),
	"auth-logout":             deps.API(signin.LogoutFunction),
	"auth-pre-authentication": signin.PreAuthenticationFunction,
	"auth-refresh":            deps.API(signin.RefreshFunction),
	"first-admin":             firstadmin.Function,
	"auth-reset-password":     deps.API(users.Function("auth-reset-password")),
	"companies-create":        deps.API(levels.Companies.Create),
	"companies-delete":        deps.API(levels.Companies.Delete),
	"companies-get":           deps.API(levels.Companies.Get),
	"companies-list":          deps.API(levels.Companies.List),
	"companies-update":        deps.API(levels.Companies.Update),
	"dashboard-get":           deps.API(dashboard.Function),
	"distributors-create":     deps.API(levels.Distributors.Create),
	"distributors-delete":     deps.API(levels.Distributors.Delete),
	"distributors-enable":     deps.API(levels.Distributors.Action("enable")),
	"distributors-get":        deps.API(levels.Distributors.Get),
	"distributors-list":       deps.API(levels.Distributors.List),
	"distributors-suspend":    deps.API(levels.Distributors.Action("suspend")),
	"distributors-update":     deps.API(levels.Distributors.Update),
	"docs-openapi":            function.Static(apidocs.Operations()[apidocs.FunctionOpenAPI]...),
	"docs-ui":                 function.Static(apidocs.Operations()[apidocs.FunctionUI]...),
	"end-users-create":        deps.API(levels.EndUsers.Create),
	"end-users-deactivate":    deps.API(levels.EndUsers.Action("deactivate")),
	"end-users-delete":        deps.API(levels.EndUsers.Delete),
	"end-users-get":           deps.API(levels.EndUsers.Get),
	"end-users-invite":        deps.API(users.Function("end-users-invite")),
	"end-users-list":          deps.API(levels.EndUsers.List),
	"end-users-reactivate":    deps.API(levels.EndUsers.Action("reactivate")),
	"end-users-update":        deps.API(levels.EndUsers.Update),
	"impersonations-create": deps.API(func(d deps.Deps) api.Operation {
		return (&impersonation.Service{Store: d.Store, Callers: d.Callers}).Operations()["impersonations-create"]
	}),
	"impersonations-delete": deps.API(func(d deps.Deps) api.Operation {
		return (&impersonation.Service{Store: d.Store, Callers: d.Callers}).Operations()["impersonations-delete"]
	}),
	"impersonations-get": deps.API(func(d deps.Deps) api.Operation {
		return (&impersonation.Service{Store: d.Store, Callers: d.Callers}).Operations()["impersonations-get"]
	}),
	"licenses-activate":        deps.API(licenses.Function("licenses-activate")),
	"licenses-create":          deps.API(licenses.Function("licenses-create")),
	"licenses-deactivate":      deps.API(licenses.Function("licenses-deactivate")),
	"licenses-delete":          deps.API(licenses.Function("licenses-delete")),
	"licenses-get":             deps.API(licenses.Function("licenses-get")),
	"licenses-list":            deps.API(licenses.Function("licenses-list")),
	"licenses-update":          deps.API(licenses.Function("licenses-update")),
	"me-get":                   deps.API(func(d deps.Deps) api.Operation { return (&identity.Me{Store: d.Store, Callers: d.Callers}).Operation() }),
	"me-mfa-enrol":             deps.API(signin.MFAEnrolFunction),
	"me-mfa-remove":            deps.API(signin.MFARemoveFunction),
	"me-mfa-verify":            deps.API(signin.MFAVerifyFunction),
	"me-update":                deps.API(users.Function("me-update")),
	"node-sweeper":             deps.Consumer(sweep.Function),
	"organizations-approve":    deps.API(signup.Function("organizations-approve")),
	"organizations-create":     deps.API(levels.Organizations.Create),
	"organizations-deactivate": deps.API(levels.Organizations.Action("deactivate")),
	"organizations-delete":     deps.API(levels.Organizations.Delete),
	"organizations-get":        deps.API(levels.Organizations.Get),
	"organizations-list":       deps.API(levels.Organizations.List),
	"organizations-reactivate": deps.API(levels.Organizations.Action("reactivate")),
	"organizations-reject":     deps.API(signup.Function("organizations-reject")),
	"organizations-update":     deps.API(levels.Organizations.Update),
	"partners-create":          deps.API(levels.Partners.Create),
	"partners-delete":          deps.API(levels.Partners.Delete),
	"partners-enable":          deps.API(levels.Partners.Action("enable")),
	"partners-get":             deps.API(levels.Partners.Get),
	"partners-list":            deps.API(levels.Partners.List),
	"partners-suspend":         deps.API(levels.Partners.Action("suspend")),
	"partners-update":          deps.API(levels.Partners.Update),
	"signup-create":            deps.API(signup.Function("signup-create")),
	"signup-get":               deps.API(signup.Function("signup-get")),
	"signup-settings-get":      deps.API(signup.Function("signup-settings-get")),
	"signup-settings-put":      deps.API(signup.Function("signup-settings-put")),
	"signup-verify":            deps.API(signup.Function("signup-verify")),
	"smtp-settings-delete":     deps.APIs(smtpsettings.Function(smtpsettings.FunctionDelete)),
	"smtp-settings-get":        deps.APIs(smtpsettings.Function(smtpsettings.FunctionGet)),
	"smtp-settings-put":        deps.APIs(smtpsettings.Function(smtpsettings.FunctionPut)),
	"smtp-settings-test":       deps.APIs(smtpsettings.Function(smtpsettings.FunctionTest)),
	"stream-router":            router.Function,
	"tree-counter":             deps.Consumer(func(d deps.Deps) function.StreamHandler { return (&counts.Consumer{Store: d.Store}).Handle }),
	"tree-deleter": deps.Consumer(func(d deps.Deps) function.StreamHandler {
		// Each run works up to the Lambda deadline (less cascade.SafetyMargin) or this
		// budget, then records its progress, which starts the next run.
		return (&cascade.Worker{Store: d.Store, Budget: 10 * time.Minute}).Handle
	}),
	"users-deactivate":                deps.API(users.Function("users-deactivate")),
	"users-delete":                    deps.API(users.Function("users-delete")),
	"users-get":                       deps.API(users.Function("users-get")),
	"users-invite":                    deps.API(users.Function("users-invite")),
	"users-list":                      deps.API(users.Function("users-list")),
	"users-reactivate":                deps.API(users.Function("users-reactivate")),
	"users-resend-invite":             deps.API(users.Function("users-resend-invite")),
	"users-update":                    deps.API(users.Function("users-update")),
	"webhook-deliverer":               deps.Queue(deliver.Function),
	"webhook-deliveries-list":         deps.API(webhooks.Function("webhook-deliveries-list")),
	"webhook-deliveries-redeliver":    deps.API(webhooks.Function("webhook-deliveries-redeliver")),
	"webhook-dispatcher":              deps.Consumer(dispatch.Function),
	"webhook-endpoints-create":        deps.API(sealkms.Function("webhook-endpoints-create")),
	"webhook-endpoints-delete":        deps.API(webhooks.Function("webhook-endpoints-delete")),
	"webhook-endpoints-enable":        deps.API(webhooks.Function("webhook-endpoints-enable")),
	"webhook-endpoints-get":           deps.API(webhooks.Function("webhook-endpoints-get")),
	"webhook-endpoints-list":          deps.API(webhooks.Function("webhook-endpoints-list")),
	"webhook-endpoints-recover":       deps.API(webhooks.Function("webhook-endpoints-recover")),
	"webhook-endpoints-rotate-secret": deps.API(sealkms.Function("webhook-endpoints-rotate-secret")),
	"webhook-endpoints-test":          deps.API(webhooks.Function("webhook-endpoints-test")),
	"webhook-endpoints-update":        deps.API(webhooks.Function("webhook-endpoints-update")),
	"webhook-endpoints-verify":        deps.API(webhooks.Function("webhook-endpoints-verify")),
	"webhook-event-types-list":        deps.API(webhooks.Function("webhook-event-types-list")),
}

// The handler types, as the local runtime names them.
type (
	// Function is one built handler.
	Function = function.Function
	// HTTPHandler is an API Gateway HTTP API function's handler.
	HTTPHandler = function.HTTPHandler
	// StreamHandler is a DynamoDB stream consumer's handler.
	StreamHandler = function.StreamHandler
	// SQSHandler is an SQS queue consumer's handler.
	SQSHandler = function.SQSHandler
	// ScheduleHandler is a scheduled function's handler.
	ScheduleHandler = function.ScheduleHandler
)

// Names lists every function, sorted.
func Names() []string {
	names := make([]string, 0, len(Functions))
	for n := range Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Build constructs the named function's handler. Its configuration comes from the
// process environment, as the Lambda service provides it from template.yaml. The
// build and every invocation carry the function's name (awscall.WithFunction), so
// that the IAM check (infra/iam) knows whose each AWS call is; a Lambda main does
// not come here (function.Start).
func Build(ctx context.Context, name string) (Function, error) {
	b, ok := Functions[name]
	if !ok {
		return Function{}, fmt.Errorf("no function named %q", name)
	}
	f, err := b.Build(awscall.WithFunction(ctx, name))
	if err != nil {
		return f, err
	}
	return named(f, name), nil
}

// named wraps f's handler so that each invocation's context names the function.
func named(f Function, name string) Function {
	if h := f.HTTP; h != nil {
		f.HTTP = func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return h(awscall.WithFunction(ctx, name), ev)
		}
	}
	if h := f.Stream; h != nil {
		f.Stream = func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return h(awscall.WithFunction(ctx, name), ev)
		}
	}
	if h := f.SQS; h != nil {
		f.SQS = func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			return h(awscall.WithFunction(ctx, name), ev)
		}
	}
	if h := f.Schedule; h != nil {
		f.Schedule = func(ctx context.Context, ev events.EventBridgeEvent) error {
			return h(awscall.WithFunction(ctx, name), ev)
		}
	}
	if h := f.PreAuthentication; h != nil {
		f.PreAuthentication = func(ctx context.Context, ev events.CognitoEventUserPoolsPreAuthentication) (events.CognitoEventUserPoolsPreAuthentication, error) {
			return h(awscall.WithFunction(ctx, name), ev)
		}
	}
	if h := f.CustomResource; h != nil {
		f.CustomResource = func(ctx context.Context, ev cfn.Event) (string, error) {
			return h(awscall.WithFunction(ctx, name), ev)
		}
	}
	return f
}

// Route is one HTTP route a function serves.
type Route struct {
	Function, Method, Path string
	// Public routes take no token.
	Public bool
}

// Routes lists every HTTP route of every function: what the router serves, to be
// compared with template.yaml and the OpenAPI document. It needs no configuration.
func Routes() []Route {
	var out []Route
	for _, name := range Names() {
		r, ok := Functions[name].(function.Routed)
		if !ok {
			continue
		}
		for _, op := range r.Operations() {
			out = append(out, Route{Function: name, Method: op.Method, Path: op.Path, Public: op.ID == ""})
		}
	}
	return out
}
