package lambdas

import (
	"opsconsole/shared/api"
	"opsconsole/shared/impersonation"
)

// The login-as functions (shared/impersonation): impersonations-create,
// impersonations-get and impersonations-delete. They join httpOps while the package's
// variables are initialized, before init (in functions.go) builds the function table.
var _ = addImpersonationFunctions()

func addImpersonationFunctions() bool {
	for name := range (&impersonation.Service{}).Operations() {
		httpOps[name] = func(d deps) []api.Operation {
			s := &impersonation.Service{Store: d.store, Callers: d.callers}
			return []api.Operation{s.Operations()[name]}
		}
	}
	return true
}
