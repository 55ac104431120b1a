package identity

import (
	"context"

	"opsconsole/shared/config"
	"opsconsole/shared/function"
	"opsconsole/shared/store"
)

// PreAuthenticationFunction is the user pool's pre-authentication trigger
// (auth-pre-authentication): only the table, the same check as every API call's.
var PreAuthenticationFunction = function.BuildFunc(func(ctx context.Context) (function.Function, error) {
	cfg, err := config.Load(ctx)
	if err != nil {
		return function.Function{}, err
	}
	st := store.New(cfg.AWS, cfg.TableName)
	p := &PreAuthentication{Callers: Callers{Store: st}}
	return function.Function{PreAuthentication: p.Handle}, nil
})
