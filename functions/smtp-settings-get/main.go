// Command smtp-settings-get is one Lambda function serving one operation for the three
// owners of mail settings (client services, partners, organizations): its main builds
// only the handlers it serves, from the same constructor its entry in the function
// table (shared/lambdas) names.
package main

import (
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"opsconsole/shared/smtpsettings"
)

func main() {
	function.Start(deps.APIs(smtpsettings.Function(smtpsettings.FunctionGet)))
}
