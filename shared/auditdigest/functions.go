package auditdigest

import (
	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/deps"
)

// ListFunction is the audit-digests-list function's operation.
func ListFunction(d deps.Deps) api.Operation {
	return (&Lister{Store: d.Store, Cursors: d.Cursors, Callers: d.Callers, Period: audit.DigestPeriodFromEnv()}).Operation()
}
