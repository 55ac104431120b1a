// Command audit-digests-list is one Lambda function: its main builds only the handler it serves,
// from the same constructor its entry in the function table (shared/lambdas) names,
// so that its binary links only the packages that handler uses.
package main

import (
	"opsconsole/shared/auditdigest"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
)

func main() {
	function.Start(deps.API(auditdigest.ListFunction))
}
