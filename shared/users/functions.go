package users

import (
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"opsconsole/shared/api"
	"opsconsole/shared/deps"
	"opsconsole/shared/mail"
	"opsconsole/shared/smtpsettings"
)

// Function is the function of the operation name (a key of Operations, the folder
// under functions/), built from a function's deps: for the function table
// (shared/lambdas) and the function's own main.
func Function(name string) func(deps.Deps) api.Operation {
	return func(d deps.Deps) api.Operation {
		op, ok := New(d).Operations()[name]
		if !ok {
			panic("users: no operation " + name)
		}
		return op
	}
}

// New builds the service from a function's deps, with a Cognito client and the mail
// transport the environment names (MAIL_TRANSPORT, MAIL_FROM, SMTP_ADDR), behind the
// router that sends through a branch's own server (shared/smtpsettings). A function
// whose mail configuration is invalid still starts; each message it tries to send
// then fails with the reason, in its log. Built from zero deps (to tell the routes),
// it makes no client.
func New(d deps.Deps) *Service {
	s := &Service{
		Store: d.Store, Cursors: d.Cursors, Callers: d.Callers, PoolID: d.Config.UserPoolID,
		ConsoleURL: d.Config.ConsoleURL,
	}
	if d.Store == nil {
		return s
	}
	var sender mail.Sender
	sender, err := mail.New(mail.ConfigFromEnv(), d.Config.AWS)
	if err != nil {
		sender = mail.Unconfigured{Err: err}
	}
	// Every email to a user leaves through the branch's own server when it has one.
	s.Mail, s.Cognito = smtpsettings.NewRouter(sender, d.Store, d.Config.AWS), cip.NewFromConfig(d.Config.AWS)
	return s
}
