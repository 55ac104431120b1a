package deliver

import (
	"context"
	"time"

	"opsconsole/shared/api"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"opsconsole/shared/mail"
	"opsconsole/shared/ssrf"
	"opsconsole/shared/webhooks"
	"opsconsole/shared/webhooks/dispatch"
	"opsconsole/shared/webhooks/sealkms"
)

// Function is the webhook-deliverer's queue consumer. A retry schedule or disable
// period that does not parse is logged and the defaults are used.
func Function(d deps.Deps) function.SQSHandler {
	sched, after, err := webhooks.SettingsFromEnv()
	if err != nil {
		api.Log(context.Background()).Error("webhook settings ignored", "error", err.Error())
		sched, _ = webhooks.ParseSchedule(webhooks.DefaultSchedule)
		after = 5 * 24 * time.Hour
	}
	sender, err := mail.New(mail.ConfigFromEnv(), d.Config.AWS)
	if err != nil {
		sender = mail.Unconfigured{Err: err}
	}
	return (&Deliverer{
		Store: d.Store, Jobs: dispatch.JobsFromEnv(d),
		Sealer:   &webhooks.CachingSealer{Sealer: sealkms.New(d), TTL: SecretCache},
		Client:   NewClient(ssrf.FromEnv()),
		Schedule: sched, DisableAfter: after, Mail: sender,
	}).Handle
}
