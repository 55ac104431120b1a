package users

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/api"
	"opsconsole/shared/problem"
)

// Cognito is the part of the Cognito client the console users need: admin calls on
// the user pool only.
type Cognito interface {
	AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, opts ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminGetUser(ctx context.Context, in *cip.AdminGetUserInput, opts ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, opts ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	AdminSetUserPassword(ctx context.Context, in *cip.AdminSetUserPasswordInput, opts ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
	AdminUpdateUserAttributes(ctx context.Context, in *cip.AdminUpdateUserAttributesInput, opts ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error)
	AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, opts ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error)
	AdminEnableUser(ctx context.Context, in *cip.AdminEnableUserInput, opts ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error)
	AdminUserGlobalSignOut(ctx context.Context, in *cip.AdminUserGlobalSignOutInput, opts ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error)
}

// cognitoMeterKey holds the request's count of Cognito calls.
type cognitoMeterKey struct{}

func countCognito(ctx context.Context) {
	if n, ok := ctx.Value(cognitoMeterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

// metered counts the Cognito calls h makes and logs them with the request id, beside
// the middleware's "request" line (which counts the DynamoDB calls).
func (s *Service) metered(h api.Handler) api.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		n := new(atomic.Int64)
		ctx := context.WithValue(r.Context(), cognitoMeterKey{}, n)
		err := h(w, r.WithContext(ctx))
		api.Log(ctx).InfoContext(ctx, "cognito", "requestId", api.MetaOf(r).RequestID,
			"route", r.Method+" "+r.URL.Path, "cognitoCalls", n.Load())
		return err
	}
}

// cognito is s.Cognito with every call counted.
func (s *Service) cognito() Cognito { return meteredCognito{s.Cognito} }

type meteredCognito struct{ c Cognito }

func (m meteredCognito) AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, opts ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	countCognito(ctx)
	return m.c.AdminCreateUser(ctx, in, opts...)
}

func (m meteredCognito) AdminGetUser(ctx context.Context, in *cip.AdminGetUserInput, opts ...func(*cip.Options)) (*cip.AdminGetUserOutput, error) {
	countCognito(ctx)
	return m.c.AdminGetUser(ctx, in, opts...)
}

func (m meteredCognito) AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, opts ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	countCognito(ctx)
	return m.c.AdminDeleteUser(ctx, in, opts...)
}

func (m meteredCognito) AdminSetUserPassword(ctx context.Context, in *cip.AdminSetUserPasswordInput, opts ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error) {
	countCognito(ctx)
	return m.c.AdminSetUserPassword(ctx, in, opts...)
}

func (m meteredCognito) AdminUpdateUserAttributes(ctx context.Context, in *cip.AdminUpdateUserAttributesInput, opts ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error) {
	countCognito(ctx)
	return m.c.AdminUpdateUserAttributes(ctx, in, opts...)
}

func (m meteredCognito) AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, opts ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error) {
	countCognito(ctx)
	return m.c.AdminDisableUser(ctx, in, opts...)
}

func (m meteredCognito) AdminEnableUser(ctx context.Context, in *cip.AdminEnableUserInput, opts ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error) {
	countCognito(ctx)
	return m.c.AdminEnableUser(ctx, in, opts...)
}

func (m meteredCognito) AdminUserGlobalSignOut(ctx context.Context, in *cip.AdminUserGlobalSignOutInput, opts ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error) {
	countCognito(ctx)
	return m.c.AdminUserGlobalSignOut(ctx, in, opts...)
}

func userAttr(attrs []ciptypes.AttributeType, name string) string {
	for _, a := range attrs {
		if aws.ToString(a.Name) == name {
			return aws.ToString(a.Value)
		}
	}
	return ""
}

func isUserNotFound(err error) bool {
	var nf *ciptypes.UserNotFoundException
	return errors.As(err, &nf)
}

// setPassword sets a permanent password; a password Cognito's policy refuses is a 400
// that says why.
func (s *Service) setPassword(ctx context.Context, email, password string) error {
	_, err := s.cognito().AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: &s.PoolID, Username: &email, Password: &password, Permanent: true,
	})
	var invalid *ciptypes.InvalidPasswordException
	if errors.As(err, &invalid) {
		msg := "does not meet the password policy"
		if m := aws.ToString(invalid.Message); m != "" {
			msg += ": " + m
		}
		return problem.Invalid("the password does not meet the password policy", problem.Field("password", msg))
	}
	return err
}
