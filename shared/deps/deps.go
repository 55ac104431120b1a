// Package deps is what a function that reads the table is built from: its
// configuration, the store, the cursor signer and the caller check (login-as sessions
// included). It links the DynamoDB client and nothing of Cognito or SES: a function
// that needs those builds their clients itself, from Config.AWS.
package deps

import (
	"context"
	"errors"

	"opsconsole/shared/api"
	"opsconsole/shared/config"
	"opsconsole/shared/consumers"
	"opsconsole/shared/cursor"
	"opsconsole/shared/function"
	"opsconsole/shared/identity"
	"opsconsole/shared/impersonation"
	"opsconsole/shared/store"
)

// Deps are the clients built once per cold start, outside the handler.
type Deps struct {
	Config  config.Config
	Store   *store.Store
	Cursors cursor.Signer
	// Callers resolve login-as sessions too (X-Impersonation-Id), and API clients'
	// tokens, for every protected function.
	Callers api.Callers
}

// Load reads the environment and builds the clients.
func Load(ctx context.Context) (Deps, error) {
	cfg, err := config.Load(ctx)
	if err != nil {
		return Deps{}, err
	}
	if len(cfg.CursorSecret) < 32 {
		return Deps{}, errors.New("CURSOR_SECRET must hold at least 32 bytes")
	}
	st := store.New(cfg.AWS, cfg.TableName)
	return Deps{
		Config: cfg, Store: st, Cursors: cursor.Signer{Secret: cfg.CursorSecret},
		Callers: impersonation.Callers{Callers: identity.Callers{Store: st, ClientAppID: cfg.APIClientsAppClient}},
	}, nil
}

// API is the HTTP function of the operation op builds from the deps. Built from zero
// Deps, op still tells its method and path (Operations), without any configuration.
func API(op func(Deps) api.Operation) function.Routed { return httpFunction(op) }

type httpFunction func(Deps) api.Operation

func (h httpFunction) Build(ctx context.Context) (function.Function, error) {
	d, err := Load(ctx)
	if err != nil {
		return function.Function{}, err
	}
	return function.Serve(h(d)), nil
}

func (h httpFunction) Operations() []api.Operation { return []api.Operation{h(Deps{})} }

// APIs is the HTTP function that serves the operations ops builds from the deps, on
// several routes: one function for the same operation on several kinds of owner
// (shared/smtpsettings), where a function per route would spend the template's
// resource budget.
func APIs(ops func(Deps) []api.Operation) function.Routed { return httpFunctions(ops) }

type httpFunctions func(Deps) []api.Operation

func (h httpFunctions) Build(ctx context.Context) (function.Function, error) {
	d, err := Load(ctx)
	if err != nil {
		return function.Function{}, err
	}
	return function.Serve(h(d)...), nil
}

func (h httpFunctions) Operations() []api.Operation { return h(Deps{}) }

// Stream is a function on a DynamoDB stream mapping of its own, h built from the
// deps. The table's stream has one reader, the stream router; a consumer of the
// table's changes is a Consumer behind it (shared/consumers), not a Stream.
func Stream(h func(Deps) function.StreamHandler) function.Builder {
	return function.BuildFunc(func(ctx context.Context) (function.Function, error) {
		d, err := Load(ctx)
		if err != nil {
			return function.Function{}, err
		}
		return function.Function{Stream: h(d)}, nil
	})
}

// Queue is the SQS consumer h builds from the deps.
func Queue(h func(Deps) function.SQSHandler) function.Builder {
	return function.BuildFunc(func(ctx context.Context) (function.Function, error) {
		d, err := Load(ctx)
		if err != nil {
			return function.Function{}, err
		}
		return function.Function{SQS: h(d)}, nil
	})
}

// Consumer is a consumer of the table's stream behind the router (shared/consumers):
// the stream handler h builds from the deps, served from its SQS queue
// (consumers.FromQueue), reading an item again when the router could not send its
// images.
func Consumer(h func(Deps) function.StreamHandler) function.Builder {
	return function.BuildFunc(func(ctx context.Context) (function.Function, error) {
		d, err := Load(ctx)
		if err != nil {
			return function.Function{}, err
		}
		return function.Function{SQS: consumers.FromQueue(h(d), d.Store.GetImage)}, nil
	})
}

// Schedule is the scheduled function h builds from the deps.
func Schedule(h func(Deps) function.ScheduleHandler) function.Builder {
	return function.BuildFunc(func(ctx context.Context) (function.Function, error) {
		d, err := Load(ctx)
		if err != nil {
			return function.Function{}, err
		}
		return function.Function{Schedule: h(d)}, nil
	})
}
