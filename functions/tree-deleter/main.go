// Command tree-deleter is one Lambda function: its main builds only the handler it serves,
// from the same constructor its entry in the function table (shared/lambdas) names,
// so that its binary links only the packages that handler uses.
package main

import (
	"opsconsole/shared/cascade"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"time"
)

func main() {
	function.Start(deps.Consumer(func(d deps.Deps) function.StreamHandler {
		// Each run works up to the Lambda deadline (less cascade.SafetyMargin) or this
		// budget, then records its progress, which starts the next run.
		return (&cascade.Worker{Store: d.Store, Budget: 10 * time.Minute}).Handle
	}))
}
