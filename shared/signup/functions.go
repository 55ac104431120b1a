package signup

import (
	"opsconsole/shared/api"
	"opsconsole/shared/deps"
	"opsconsole/shared/users"
)

// Function is the function of the operation name (a key of Operations), built from a
// function's deps: approvals invite the applicant through the console users' service,
// with the same mail transport.
func Function(name string) func(deps.Deps) api.Operation {
	return func(d deps.Deps) api.Operation {
		u := users.New(d)
		s := &Service{Store: d.Store, Callers: d.Callers, Users: u, Mail: u.Mail, ConsoleURL: d.Config.ConsoleURL}
		op, ok := s.Operations()[name]
		if !ok {
			panic("signup: no operation " + name)
		}
		return op
	}
}
