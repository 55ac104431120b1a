package lambdas

import (
	"context"

	"opsconsole/shared/firstadmin"
)

// first-admin is the CloudFormation custom resource that creates the platform root
// and invites the template's AdminEmail (shared/firstadmin).
var _ = addFirstAdminFunction()

func addFirstAdminFunction() bool {
	builders["first-admin"] = func(ctx context.Context) (Function, error) {
		d, err := load(ctx)
		if err != nil {
			return Function{}, err
		}
		p := &firstadmin.Provisioner{Store: d.store, Users: usersService(d)}
		return Function{CustomResource: p.Handler()}, nil
	}
	return true
}
