package webhooks

import (
	"opsconsole/shared/api"
	"opsconsole/shared/deps"
	"opsconsole/shared/ssrf"
)

// Function is the constructor of the named HTTP function (webhook-endpoints-list, …)
// for the function table (shared/lambdas) and the function's main. The two that seal
// secrets (create, rotate-secret) are built by sealkms.Function, which adds the KMS
// client only they link.
func Function(name string) func(deps.Deps) api.Operation {
	return FunctionWith(name, nil)
}

// FunctionWith is Function with the sealer sealer makes from the deps (nil for none).
func FunctionWith(name string, sealer func(deps.Deps) Sealer) func(deps.Deps) api.Operation {
	return func(d deps.Deps) api.Operation {
		s := &Service{Store: d.Store, Cursors: d.Cursors, Callers: d.Callers, Guard: ssrf.FromEnv()}
		if sealer != nil && d.Store != nil {
			s.Sealer = sealer(d)
		}
		op, ok := s.Operations()[name]
		if !ok {
			panic("webhooks: no operation " + name)
		}
		return op
	}
}
