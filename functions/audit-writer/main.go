// Command audit-writer is one Lambda function: its main builds only the handler it serves,
// from the same constructor its entry in the function table (shared/lambdas) names,
// so that its binary links only the packages that handler uses.
package main

import (
	"opsconsole/shared/audit"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"time"
)

func main() {
	function.Start(deps.Consumer(func(d deps.Deps) function.StreamHandler {
		return (&audit.Consumer{Store: d.Store, Backoff: 50 * time.Millisecond, Retention: audit.EntryRetentionFromEnv(), Period: audit.DigestPeriodFromEnv()}).Handle
	}))
}
