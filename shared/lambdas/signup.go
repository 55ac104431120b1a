package lambdas

import (
	"opsconsole/shared/api"
	"opsconsole/shared/signup"
)

// The self-service signup's functions (shared/signup): signup-settings-get,
// signup-settings-put, signup-create, signup-verify, signup-get,
// organizations-approve and organizations-reject. They join httpOps while the
// package's variables are initialized, like the console users' (users.go).
var _ = addSignupFunctions()

func addSignupFunctions() bool {
	for name := range (&signup.Service{}).Operations() {
		httpOps[name] = func(d deps) []api.Operation {
			return []api.Operation{signupService(d).Operations()[name]}
		}
	}
	return true
}

// signupService builds the service from a function's deps; approvals invite the
// applicant through the console users' service, with the same mail transport.
func signupService(d deps) *signup.Service {
	u := usersService(d)
	return &signup.Service{
		Store: d.store, Callers: d.callers, Users: u, Mail: u.Mail, ConsoleURL: d.cfg.ConsoleURL,
	}
}
