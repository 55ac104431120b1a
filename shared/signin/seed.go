package signin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/admins"
	"opsconsole/shared/config"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// SeedPlatformAdmin makes sure the platform root exists and that email is an active
// platform admin who signs in with password. It is idempotent: run again, it resets
// the password and leaves everything else as it is.
func SeedPlatformAdmin(ctx context.Context, email, password string) error {
	cfg, err := config.Load(ctx)
	if err != nil {
		return err
	}
	st := store.New(cfg.AWS, cfg.TableName)
	_, err = EnsureUser(ctx, st, cip.NewFromConfig(cfg.AWS), cfg.UserPoolID, NewUser{
		Email: email, Password: password, FirstName: "Platform", LastName: "Admin",
		Role: tree.RolePlatformAdmin, Node: identity.PlatformNode(),
	})
	return err
}

// NewUser describes a user to create directly, outside the invitation flow: the seeded
// admin, and the users that tests need before invitations exist.
type NewUser struct {
	Email, Password, FirstName, LastName string
	Role                                 tree.Role
	Node                                 nodes.Item
}

// CognitoAdmin is the part of the Cognito client user creation uses.
type CognitoAdmin interface {
	AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, opts ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminGetUser(ctx context.Context, in *cip.AdminGetUserInput, opts ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	AdminSetUserPassword(ctx context.Context, in *cip.AdminSetUserPasswordInput, opts ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
}

// EnsureUser creates (or finds) the Cognito user with a permanent password and writes
// the node (if missing) and the active user record. It returns the user's subject.
func EnsureUser(ctx context.Context, st *store.Store, cog CognitoAdmin, poolID string, u NewUser) (string, error) {
	email, err := identity.CleanEmail(u.Email)
	if err != nil {
		return "", fmt.Errorf("seed user: %w", err)
	}
	attrs := []ciptypes.AttributeType{
		{Name: aws.String("email"), Value: aws.String(email)},
		{Name: aws.String("email_verified"), Value: aws.String("true")},
	}
	var sub string
	created, err := cog.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: &poolID, Username: &email, UserAttributes: attrs,
		MessageAction: ciptypes.MessageActionTypeSuppress,
	})
	var exists *ciptypes.UsernameExistsException
	switch {
	case err == nil:
		sub = attr(created.User.Attributes, "sub")
	case errors.As(err, &exists):
		got, err := cog.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &poolID, Username: &email})
		if err != nil {
			return "", fmt.Errorf("get cognito user: %w", err)
		}
		sub = attr(got.UserAttributes, "sub")
	default:
		return "", fmt.Errorf("create cognito user: %w", err)
	}
	if sub == "" {
		return "", errors.New("cognito user has no sub")
	}
	if _, err := cog.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: &poolID, Username: &email, Password: &u.Password, Permanent: true,
	}); err != nil {
		return "", fmt.Errorf("set password: %w", err)
	}
	ts := nodes.Stamp(time.Now())
	user := identity.UserItem{
		PK: "USER#" + sub, SK: "USER", Type: "user", ID: sub, Email: email,
		FirstName: u.FirstName, LastName: u.LastName, Role: u.Role,
		NodeID: u.Node.ID, NodeKind: u.Node.Kind, NodePath: u.Node.Path,
		Status: identity.StatusActive, Version: 1, CreatedAt: ts, UpdatedAt: ts,
	}
	if user.NodePath == nil {
		user.NodePath = []string{}
	}
	user.SetIndexKeys()
	nodePut, err := store.Put(u.Node, store.NotExists())
	if err != nil {
		return "", err
	}
	// The node may exist already; create it on its own so that its existence does not
	// cancel the user's write.
	if err := st.Transact(ctx, nodePut.FailsWith(errNodeExists)); err != nil && !errors.Is(err, errNodeExists) {
		return "", fmt.Errorf("write node: %w", err)
	}
	userPut, err := store.Put(user, nil)
	if err != nil {
		return "", err
	}
	emailPut, err := store.Put(nodes.Unique(identity.EmailPK(email), sub), nil)
	if err != nil {
		return "", err
	}
	writes := []store.Write{userPut, emailPut}
	if admins.Counts(u.Role) {
		// Listed among the node's active admins (shared/admins), which the lock-out
		// guard of the console users counts; adding twice changes nothing.
		writes = append(writes, admins.Add(u.Node.ID, sub))
	}
	if err := st.Transact(ctx, writes...); err != nil {
		return "", fmt.Errorf("write user: %w", err)
	}
	return sub, nil
}

var errNodeExists = errors.New("node exists")

func attr(attrs []ciptypes.AttributeType, name string) string {
	for _, a := range attrs {
		if aws.ToString(a.Name) == name {
			return aws.ToString(a.Value)
		}
	}
	return ""
}
