package lambdas

import (
	"opsconsole/shared/api"
	"opsconsole/shared/mail"
	"opsconsole/shared/users"
)

// The console users' functions (shared/users): users-invite, users-list, users-get,
// users-update, users-deactivate, users-reactivate, users-delete, users-resend-invite,
// auth-activate, auth-forgot-password and auth-reset-password. They join httpOps while
// the package's variables are initialized, before init (in functions.go) builds the
// function table from it.
var _ = addUserFunctions()

func addUserFunctions() bool {
	for name := range (&users.Service{}).Operations() {
		httpOps[name] = func(d deps) []api.Operation {
			return []api.Operation{usersService(d).Operations()[name]}
		}
	}
	return true
}

// usersService builds the service from a function's deps, with the mail transport the
// environment names (MAIL_TRANSPORT, MAIL_FROM, SMTP_ADDR). A function whose mail
// configuration is invalid still starts; each message it tries to send then fails with
// the reason, in its log.
func usersService(d deps) *users.Service {
	var sender mail.Sender
	sender, err := mail.New(mail.ConfigFromEnv(), d.cfg.AWS)
	if err != nil {
		sender = mail.Unconfigured{Err: err}
	}
	s := &users.Service{
		Store: d.store, Cursors: d.cursors, Callers: d.callers, PoolID: d.cfg.UserPoolID,
		Mail: sender, ConsoleURL: d.cfg.ConsoleURL,
	}
	if d.cognito != nil {
		s.Cognito = d.cognito
	}
	return s
}
