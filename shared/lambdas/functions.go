package lambdas

import (
	"context"
	"errors"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/api"
	"opsconsole/shared/apidocs"
	"opsconsole/shared/audit"
	"opsconsole/shared/cascade"
	"opsconsole/shared/config"
	"opsconsole/shared/counts"
	"opsconsole/shared/cursor"
	"opsconsole/shared/identity"
	"opsconsole/shared/impersonation"
	"opsconsole/shared/levels"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
)

// deps are the clients built once per cold start, outside the handler.
type deps struct {
	cfg     config.Config
	store   *store.Store
	cursors cursor.Signer
	// callers resolve login-as sessions too (X-Impersonation-Id), for every protected function.
	callers api.Callers
	cognito *cip.Client
}

func load(ctx context.Context) (deps, error) {
	cfg, err := config.Load(ctx)
	if err != nil {
		return deps{}, err
	}
	if len(cfg.CursorSecret) < 32 {
		return deps{}, errors.New("CURSOR_SECRET must hold at least 32 bytes")
	}
	st := &store.Store{DB: dynamodb.NewFromConfig(cfg.AWS), Table: cfg.TableName}
	return deps{cfg: cfg, store: st, cursors: cursor.Signer{Secret: cfg.CursorSecret}, callers: impersonation.Callers{Callers: identity.Callers{Store: st}},
		cognito: cip.NewFromConfig(cfg.AWS)}, nil
}

// httpOps are the operations of each HTTP function, built from its deps. Built from
// zero deps they still tell the routes, which Routes reports without any AWS config.
var httpOps = map[string]func(d deps) []api.Operation{
	"auth-login": func(d deps) []api.Operation {
		return []api.Operation{(&identity.Login{Cognito: d.cognito, ClientID: d.cfg.UserPoolClient, Limiter: signInLimiter(d)}).Operation()}
	},
	"auth-challenge": func(d deps) []api.Operation { return []api.Operation{sessions(d).ChallengeOperation()} },
	"auth-refresh":   func(d deps) []api.Operation { return []api.Operation{sessions(d).RefreshOperation()} },
	"auth-logout":    func(d deps) []api.Operation { return []api.Operation{sessions(d).LogoutOperation()} },
	"me-mfa-enrol":   func(d deps) []api.Operation { return []api.Operation{mfa(d).EnrolOperation()} },
	"me-mfa-verify":  func(d deps) []api.Operation { return []api.Operation{mfa(d).VerifyOperation()} },
	"me-mfa-remove":  func(d deps) []api.Operation { return []api.Operation{mfa(d).RemoveOperation()} },
	"me-get": func(d deps) []api.Operation {
		return []api.Operation{(&identity.Me{Store: d.store, Callers: d.callers}).Operation()}
	},
	"audit-logs-list": func(d deps) []api.Operation {
		return []api.Operation{(&audit.Lister{Store: d.store, Cursors: d.cursors, Callers: d.callers}).Operation()}
	},
}

// signInLimiter counts sign-in attempts per account and per address.
func signInLimiter(d deps) *throttle.Limiter {
	return &throttle.Limiter{Store: d.store, Window: identity.SignInWindow}
}

func sessions(d deps) *identity.Sessions {
	return &identity.Sessions{Cognito: d.cognito, ClientID: d.cfg.UserPoolClient, Store: d.store, Limiter: signInLimiter(d)}
}

func mfa(d deps) *identity.MFA {
	return &identity.MFA{Cognito: d.cognito, Store: d.store, Callers: d.callers}
}

func init() {
	for _, level := range levels.All {
		for name := range (&levels.Service{Level: level}).Operations() {
			httpOps[name] = func(d deps) []api.Operation {
				s := &levels.Service{Level: level, Store: d.store, Cursors: d.cursors, Callers: d.callers}
				return []api.Operation{s.Operations()[name]}
			}
		}
	}
	for name, ops := range httpOps {
		builders[name] = func(ctx context.Context) (Function, error) {
			d, err := load(ctx)
			if err != nil {
				return Function{}, err
			}
			return Function{HTTP: api.Lambda(api.Serve(ops(d)...))}, nil
		}
	}
	// The docs need no AWS configuration, so they build without load.
	for name, ops := range apidocs.Operations() {
		builders[name] = func(context.Context) (Function, error) {
			return Function{HTTP: api.Lambda(api.Serve(ops...))}, nil
		}
	}
	builders["audit-writer"] = func(ctx context.Context) (Function, error) {
		d, err := load(ctx)
		if err != nil {
			return Function{}, err
		}
		c := &audit.Consumer{Store: d.store, Backoff: 50 * time.Millisecond}
		return Function{Stream: c.Handle}, nil
	}
	builders["tree-deleter"] = func(ctx context.Context) (Function, error) {
		d, err := load(ctx)
		if err != nil {
			return Function{}, err
		}
		// Each run works up to the Lambda deadline (less cascade.SafetyMargin) or this
		// budget, then records its progress, which starts the next run.
		w := &cascade.Worker{Store: d.store, Budget: 10 * time.Minute}
		return Function{Stream: w.Handle}, nil
	}
	// The user pool's pre-authentication trigger: only the table, the same check as
	// every API call's.
	builders["auth-pre-authentication"] = func(ctx context.Context) (Function, error) {
		cfg, err := config.Load(ctx)
		if err != nil {
			return Function{}, err
		}
		st := &store.Store{DB: dynamodb.NewFromConfig(cfg.AWS), Table: cfg.TableName}
		p := &identity.PreAuthentication{Callers: identity.Callers{Store: st}}
		return Function{PreAuthentication: p.Handle}, nil
	}
	builders["tree-counter"] = func(ctx context.Context) (Function, error) {
		d, err := load(ctx)
		if err != nil {
			return Function{}, err
		}
		c := &counts.Consumer{Store: d.store}
		return Function{Stream: c.Handle}, nil
	}
}

// Route is one HTTP route a function serves.
type Route struct {
	Function, Method, Path string
	// Public routes take no token.
	Public bool
}

// Routes lists every HTTP route of every function: what the router serves, to be
// compared with template.yaml and the OpenAPI document.
func Routes() []Route {
	var out []Route
	for name, ops := range httpOps {
		for _, op := range ops(deps{}) {
			out = append(out, Route{Function: name, Method: op.Method, Path: op.Path, Public: op.ID == ""})
		}
	}
	for name, ops := range apidocs.Operations() {
		for _, op := range ops {
			out = append(out, Route{Function: name, Method: op.Method, Path: op.Path, Public: op.ID == ""})
		}
	}
	return out
}
