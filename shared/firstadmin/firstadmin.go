// Package firstadmin is the CloudFormation custom resource that makes a new stack
// usable with no manual step: it creates the platform root and invites the template's
// AdminEmail as a platform admin through the normal invitation (activation email), so
// an ops engineer signs in after `sam deploy` without running anything with
// credentials.
//
// CloudFormation waits up to an hour for a custom resource's answer, so the handler
// always answers: cfn.LambdaWrap sends FAILED on an error or a panic, and the work
// gives up Margin before the function's deadline so that the answer still goes out.
package firstadmin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"opsconsole/shared/api"
	"opsconsole/shared/deps"
	"opsconsole/shared/function"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
	"opsconsole/shared/users"
)

// PhysicalID is the resource's one physical id. It never changes, so an update of the
// stack never makes CloudFormation replace (and then delete) the resource.
const PhysicalID = "opsconsole-first-admin"

// Property is the custom resource's property naming the first admin's email.
const Property = "AdminEmail"

// DefaultMargin is how long before the Lambda deadline the work stops, leaving time
// to send the answer to CloudFormation's pre-signed URL.
const DefaultMargin = 5 * time.Second

// Actor is who the first admin's invitation and its audit entry name as the inviter.
var Actor = tree.Caller{
	UserID: "system:cloudformation", Email: "the console's deployment",
	Role: tree.RolePlatformAdmin, Node: tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform, Path: []string{}},
}

// Provisioner makes the platform root and the first admin.
type Provisioner struct {
	Store *store.Store
	// Users invites the admin (its Store, Cognito, PoolID, Mail and ConsoleURL set).
	Users *users.Service
	// Margin before the deadline; zero means DefaultMargin.
	Margin time.Duration
}

// Handler is what the Lambda function runs: the provisioner wrapped so that
// CloudFormation always gets an answer.
func (p *Provisioner) Handler() cfn.CustomResourceLambdaFunction { return cfn.LambdaWrap(p.Handle) }

var errRootExists = errors.New("platform root exists")

// Handle serves one custom resource request. Create and Update make sure the root
// exists and that AdminEmail has a console account (inviting it if it has none); an
// email that already has an account, the admin's or anyone's, is left as it is, so
// a stack update never sends a second invitation. Delete does nothing: the table and
// its data are retained with the stack's resources.
func (p *Provisioner) Handle(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	if ev.RequestType == cfn.RequestDelete {
		return PhysicalID, nil, nil
	}
	raw, _ := ev.ResourceProperties[Property].(string)
	var email string
	if raw != "" {
		var err error
		if email, err = identity.CleanEmail(raw); err != nil {
			return PhysicalID, nil, fmt.Errorf("%s %q is not an email address", Property, raw)
		}
	}
	margin := p.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-margin))
		defer cancel()
	}
	root, err := p.ensureRoot(ctx)
	if err != nil {
		return PhysicalID, nil, fmt.Errorf("platform root: %w", err)
	}
	data := map[string]any{"AdminEmail": email, "Invited": "false"}
	if email == "" {
		return PhysicalID, data, nil
	}
	err = p.Store.Get(ctx, store.Key(identity.EmailPK(email), "UNIQUE"), &nodes.UniqueName{})
	switch {
	case err == nil:
		return PhysicalID, data, nil // has an account already
	case !errors.Is(err, store.ErrNotFound):
		return PhysicalID, nil, fmt.Errorf("look up %s: %w", email, err)
	}
	r, err := http.NewRequestWithContext(api.WithCaller(ctx, Actor), http.MethodPost, "/v1/users", nil)
	if err != nil {
		return PhysicalID, nil, err
	}
	var taken *problem.Problem
	if _, err := p.Users.Invite(r, root, email, "Platform", "Admin", tree.RolePlatformAdmin); err != nil {
		if errors.As(err, &taken) && taken.Type == problem.EmailTaken().Type {
			return PhysicalID, data, nil // a concurrent run invited it
		}
		return PhysicalID, nil, fmt.Errorf("invite %s: %w", email, err)
	}
	data["Invited"] = "true"
	return PhysicalID, data, nil
}

// ensureRoot writes the platform root unless it exists, and returns it.
func (p *Provisioner) ensureRoot(ctx context.Context) (nodes.Item, error) {
	put, err := store.Put(identity.PlatformNode(), store.NotExists())
	if err != nil {
		return nodes.Item{}, err
	}
	if err := p.Store.Transact(ctx, put.FailsWith(errRootExists)); err != nil && !errors.Is(err, errRootExists) {
		return nodes.Item{}, err
	}
	return nodes.Get(ctx, p.Store, tree.PlatformID)
}

// Function is the first-admin Lambda function: the provisioner built from a function's
// deps, with the console users' invitation (Cognito and mail) it needs.
var Function = function.BuildFunc(func(ctx context.Context) (function.Function, error) {
	d, err := deps.Load(ctx)
	if err != nil {
		return function.Function{}, err
	}
	p := &Provisioner{Store: d.Store, Users: users.New(d)}
	return function.Function{CustomResource: p.Handler()}, nil
})
