package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// activationItem is a pending activation: the SHA-256 of the token sent by email is
// its key, so the table never holds a usable token.
type activationItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	Type   string `dynamodbav:"type"`
	UserID string `dynamodbav:"userId"`
	// ExpiresAt (Unix seconds) is checked by the code; TTL only cleans up.
	ExpiresAt int64 `dynamodbav:"expiresAt"`
	// ClaimedUntil is set while an activation uses the token (see claimFor).
	ClaimedUntil int64 `dynamodbav:"claimedUntil,omitempty"`
}

// ActivationKey is the key of the pending activation whose token hashes to hash.
func ActivationKey(hash string) store.Item { return identity.ActivationKey(hash) }

// newToken makes an activation token (32 random bytes, URL-safe) and its hash.
func newToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken is the hex SHA-256 of a token, as stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (s *Service) putActivation(userID, hash string, now time.Time) (store.Write, error) {
	put, err := store.Put(activationItem{
		PK: "ACTIVATION#" + hash, SK: "ACTIVATION", Type: "activation", UserID: userID,
		ExpiresAt: now.Add(ActivationValidity).Unix(),
	}, store.NotExists())
	return put, err
}

// link is a console URL with query parameters.
func (s *Service) link(path string, q url.Values) string {
	return strings.TrimRight(s.ConsoleURL, "/") + path + "?" + q.Encode()
}

// inviteBody is POST /v1/users's body.
type inviteBody struct {
	Email     *string `json:"email"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Role      *string `json:"role"`
	NodeID    *string `json:"nodeId"`
}

// read validates the body but its node (which the target loader has read): the
// cleaned email and names and the role, or the 400 naming every invalid field.
func (b inviteBody) read() (email, first, last string, role tree.Role, err error) {
	email, errs := readEmail(b.Email)
	first, fe := readName("firstName", b.FirstName, true)
	errs = append(errs, fe...)
	last, fe = readName("lastName", b.LastName, true)
	errs = append(errs, fe...)
	if b.Role == nil {
		errs = append(errs, problem.Field("role", "is required"))
	} else if rl, fe := readRole(*b.Role); fe != nil {
		errs = append(errs, *fe)
	} else {
		role = rl
	}
	if len(errs) > 0 {
		return "", "", "", "", problem.Invalid("the body is invalid", errs...)
	}
	return email, first, last, role, nil
}

// invited carries what the invite's target loader read to the handler.
type invited struct {
	node nodes.Item
	body inviteBody
}

// nodeFromBody checks the caller's role, decodes the body and loads the node it
// names: the policy then checks that the node lies in the caller's branch (a node
// outside it is answered like a missing one).
func (s *Service) nodeFromBody(r *http.Request) (tree.Node, any, error) {
	if err := roleAllows(r, tree.OpUsersInvite); err != nil {
		return tree.Node{}, nil, err
	}
	var b inviteBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return tree.Node{}, nil, err
	}
	if b.NodeID == nil {
		return tree.Node{}, nil, problem.Invalid("the node is missing", problem.Field("nodeId", "is required"))
	}
	kind, ok := kindOfID(*b.NodeID)
	if !ok {
		return tree.Node{}, nil, problem.Invalid("the node id is malformed", problem.Field("nodeId", nodeIDRule))
	}
	n, err := s.loadNode(r.Context(), kind, *b.NodeID)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return n.Node(), invited{node: n, body: b}, nil
}

// invite serves POST /v1/users.
//
// Order, and what each failure leaves: (1) Cognito AdminCreateUser, without
// Cognito's own message and with the email unverified; it fails with nothing written
// when Cognito refuses. (2) One transaction writes the user item (invited), the unique
// email item, the pending activation and the change record, and checks that the node
// still exists; when it fails, the Cognito user made in (1) is deleted again (if that
// deletion fails too, an orphan Cognito account without a user item remains: it can
// reach no API, and the next invitation of that email adopts it). (3) The activation
// email is sent; when that fails the user stays invited (the answer is still 201, the
// failure is logged) and resend-invite sends a new link.
func (s *Service) invite(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := api.TargetOf(ctx).(invited)
	caller := api.CallerOf(ctx)
	email, first, last, role, err := c.body.read()
	if err != nil {
		return err
	}
	if err := roleRule(caller, role, c.node.Kind); err != nil {
		return err
	}
	u, err := s.Invite(r, c.node, email, first, last, role)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	w.Header().Set("ETag", api.ETag(u.Version))
	return api.WriteJSON(w, http.StatusCreated, viewOf(u))
}

// Invite invites email (clean, lower-case) as a console user with role at node, on
// behalf of the caller of r: the steps of POST /v1/users after its checks, for other
// packages that invite someone as part of their own operation (the approval of a
// self-service signup invites its applicant). The caller's right to give role at node
// is the caller's to check (see roleRule).
func (s *Service) Invite(r *http.Request, node nodes.Item, email, first, last string, role tree.Role) (identity.UserItem, error) {
	ctx := r.Context()
	caller := api.CallerOf(ctx)
	c := invited{node: node}

	// (1) The Cognito account.
	cog := s.cognito()
	sub, ownAccount := "", true
	created, err := cog.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: &s.PoolID, Username: &email, MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String(email)},
			{Name: aws.String("email_verified"), Value: aws.String("false")},
		},
	})
	var exists *ciptypes.UsernameExistsException
	switch {
	case err == nil:
		sub = userAttr(created.User.Attributes, "sub")
	case errors.As(err, &exists):
		// The email has a Cognito account. If a user item holds the email it is taken;
		// otherwise the account is an orphan of a failed invitation or deletion, and
		// this invitation adopts it (and never deletes it on failure: a concurrent
		// invitation may be adopting it too).
		if err := s.Store.Get(ctx, identity.EmailKey(email), &nodes.UniqueName{}); err == nil {
			return identity.UserItem{}, problem.EmailTaken()
		} else if !errors.Is(err, store.ErrNotFound) {
			return identity.UserItem{}, err
		}
		got, err := cog.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &s.PoolID, Username: &email})
		if err != nil {
			return identity.UserItem{}, err
		}
		sub, ownAccount = userAttr(got.UserAttributes, "sub"), false
		if _, err := cog.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
			UserPoolId: &s.PoolID, Username: &email,
			UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email_verified"), Value: aws.String("false")}},
		}); err != nil {
			return identity.UserItem{}, err
		}
		if _, err := cog.AdminEnableUser(ctx, &cip.AdminEnableUserInput{UserPoolId: &s.PoolID, Username: &email}); err != nil {
			return identity.UserItem{}, err
		}
	default:
		return identity.UserItem{}, err
	}
	if sub == "" {
		return identity.UserItem{}, errors.New("cognito user without sub")
	}

	// (2) The table.
	now := s.now()
	token, hash := newToken()
	u := identity.UserItem{
		PK: "USER#" + sub, SK: "USER", Type: "user", ID: sub, Email: email,
		FirstName: first, LastName: last, Role: role,
		NodeID: c.node.ID, NodeKind: c.node.Kind, NodePath: c.node.Path,
		Status: identity.StatusInvited, Version: 1, CreatedAt: nodes.Stamp(now), UpdatedAt: nodes.Stamp(now),
		ActivationHash: hash,
	}
	if u.NodePath == nil {
		u.NodePath = []string{}
	}
	u.SetIndexKeys()
	err = s.writeInvite(r, u, now)
	if err != nil {
		if ownAccount {
			if _, derr := cog.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &s.PoolID, Username: &email}); derr != nil {
				logError(ctx, r, "invite: the Cognito account of a failed invitation was not deleted", derr)
			}
		}
		return identity.UserItem{}, err
	}

	// (3) The email.
	if err := s.sendInvitation(ctx, caller, u, c.node, token); err != nil {
		logError(ctx, r, "invite: the activation email was not sent; resend-invite sends another", err)
	}
	return u, nil
}

func (s *Service) writeInvite(r *http.Request, u identity.UserItem, now time.Time) error {
	userPut, err := store.Put(u, store.NotExists())
	if err != nil {
		return err
	}
	emailPut, err := store.Put(nodes.Unique(identity.EmailPK(u.Email), u.ID), store.NotExists())
	if err != nil {
		return err
	}
	act, err := s.putActivation(u.ID, u.ActivationHash, now)
	if err != nil {
		return err
	}
	// The node must still exist and not be on its way out.
	check, err := nodes.InService(u.NodeID)
	if err != nil {
		return err
	}
	gone := problem.NotFound(string(u.NodeKind))
	gone.Errors = []problem.FieldError{problem.Field("nodeId", "no such "+string(u.NodeKind))}
	rec, err := record(r, nil, "invited", nil, &u)
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(),
		userPut.FailsWith(problem.EmailTaken()),
		emailPut.FailsWith(problem.EmailTaken()),
		act,
		check.FailsWith(gone),
		rec,
	)
}

// sendInvitation renders and sends the activation email of u, branded for u's branch.
func (s *Service) sendInvitation(ctx context.Context, inviter tree.Caller, u identity.UserItem, node nodes.Item, token string) (err error) {
	var brand mail.Branding
	if node.Kind == tree.KindPartner {
		brand = mail.PartnerBranding(node) // read already
	} else if brand, err = mail.BrandingFor(ctx, s.Store, nodeOf(u)); err != nil {
		return err
	}
	nodeName := node.Name
	if node.Kind == tree.KindPlatform {
		nodeName = brand.Name
	}
	if node.Kind == tree.KindEndUser {
		// An end user is invited to their company, not to their own record.
		if c, err := nodes.Get(ctx, s.Store, node.ParentID); err == nil {
			nodeName = c.Name
		}
	}
	m, err := mail.Render(mail.TemplateInvitation, brand, mail.Invitation{
		FirstName: u.FirstName, InvitedBy: inviter.Email, NodeName: nodeName,
		Role:     strings.ReplaceAll(string(u.Role), "_", " "),
		Link:     s.link("/activate", url.Values{"token": {token}}),
		ValidFor: "72 hours",
	})
	if err != nil {
		return err
	}
	m.To, m.Lineage = u.Email, nodeOf(u).Lineage()
	return s.Mail.Send(ctx, m)
}

// resendInvite serves POST /v1/users/{id}/resend-invite: a new link, and the old one
// stops working (its item is deleted, and the user item remembers only the new hash).
// One transaction; then the email (a failure is logged, and the call can be repeated).
func (s *Service) resendInvite(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := mayAct(tree.OpUsersResendInvite, api.CallerOf(ctx), before); err != nil {
		return err
	}
	node, err := nodes.Get(ctx, s.Store, before.NodeID)
	if errors.Is(err, store.ErrNotFound) {
		return problem.NotFound(string(userKind))
	}
	if err != nil {
		return err
	}
	now := s.now()
	token, hash := newToken()
	after := before
	after.ActivationHash, after.Version, after.UpdatedAt = hash, before.Version+1, nodes.Stamp(now)
	cond := expression.Name("status").Equal(expression.Value(identity.StatusInvited))
	upd, err := updateUser(before, after, &cond)
	if err != nil {
		return err
	}
	act, err := s.putActivation(after.ID, hash, now)
	if err != nil {
		return err
	}
	writes := []store.Write{upd, act}
	if before.ActivationHash != "" {
		writes = append(writes, store.Delete(ActivationKey(before.ActivationHash), nil))
	}
	rec, err := record(r, nil, "invite_resent", &before, &after)
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx, append(writes, rec)...); err != nil {
		return err
	}
	if err := s.sendInvitation(ctx, api.CallerOf(ctx), after, node, token); err != nil {
		logError(ctx, r, "resend-invite: the activation email was not sent", err)
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, viewOf(after))
}
