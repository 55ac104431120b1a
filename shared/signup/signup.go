// Package signup serves self-service signup: a public, per-partner form that a
// platform admin turns on for each partner (off by default); the applicant's email is
// verified by a single-use link before anything is created; only then does the
// organization exist, as pending, in the partner's queue (GET
// /v1/organizations?status=pending), where a partner admin or above approves it (the
// applicant is invited as its organization admin) or rejects it with a reason (the
// applicant is told by email).
//
// Items: the partner's switch is the attribute signupEnabled on its node (written by
// an UpdateItem of that attribute alone: the node's version and fields are untouched);
// a signup is SIGNUP#<organization id> / SIGNUP, keyed by the id the organization will
// have, so that the organization's routes find it with one GetItem. The verification
// token is that id, a dot and 32 random bytes; the item keeps only its SHA-256.
package signup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/identity"
	"opsconsole/shared/levels"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
	"opsconsole/shared/users"
)

// Validity is how long a verification link works.
const Validity = 24 * time.Hour

// MaxReason is the longest rejection reason, in characters.
const MaxReason = 500

// Statuses of a signup item.
const (
	StatusUnverified = "unverified"
	StatusVerified   = "verified"
	StatusApproved   = "approved"
	StatusRejected   = "rejected"
)

// AttrSignupEnabled is the partner node's attribute that opens its signup form.
const AttrSignupEnabled = "signupEnabled"

// Paths of the routes.
const (
	PathSignup   = "/v1/signup/{partnerId}"
	PathVerify   = "/v1/signup/verify"
	PathSettings = "/v1/partners/{id}/signup"
)

// Limits bound public signups per email and per source IP, in windows of Window.
type Limits struct {
	Window          time.Duration
	PerEmail, PerIP int
	VerifyPerIP     int
}

// DefaultLimits are the limits in force unless a Service sets its own.
var DefaultLimits = Limits{Window: 15 * time.Minute, PerEmail: 3, PerIP: 30, VerifyPerIP: 30}

// Service serves the signup operations.
type Service struct {
	Store   *store.Store
	Callers api.Callers
	// Users invites the applicant of an approved signup.
	Users      *users.Service
	Mail       mail.Sender
	ConsoleURL string
	Limits     Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) limits() Limits {
	if s.Limits.Window == 0 {
		return DefaultLimits
	}
	return s.Limits
}

// Operations lists the operations keyed by function name (the folder under
// functions/).
func (s *Service) Operations() map[string]api.Operation {
	org := func(op tree.Operation, method, path string, h api.Handler) api.Operation {
		return api.Operation{ID: op, Method: method, Path: path, Kind: string(tree.KindOrganization), Callers: s.Callers, Target: s.organization, Handle: h}
	}
	partner := func(op tree.Operation, method string, h api.Handler) api.Operation {
		return api.Operation{ID: op, Method: method, Path: PathSettings, Kind: string(tree.KindPartner), Callers: s.Callers, Target: s.partner, Handle: h}
	}
	return map[string]api.Operation{
		"signup-settings-get":   partner(tree.OpPartnersSignupGet, http.MethodGet, s.getSettings),
		"signup-settings-put":   partner(tree.OpPartnersSignupUpdate, http.MethodPut, s.putSettings),
		"signup-create":         {Method: http.MethodPost, Path: PathSignup, Kind: "route", Handle: s.create, NodeLimit: s.perPartner()},
		"signup-verify":         {Method: http.MethodPost, Path: PathVerify, Kind: "route", Handle: s.verify},
		"signup-get":            org(tree.OpOrganizationsSignupGet, http.MethodGet, "/v1/organizations/{id}/signup", s.get),
		"organizations-approve": org(tree.OpOrganizationsApprove, http.MethodPost, "/v1/organizations/{id}/approve", s.approve),
		"organizations-reject":  org(tree.OpOrganizationsReject, http.MethodPost, "/v1/organizations/{id}/reject", s.reject),
	}
}

// partnerItem is a partner's node with its signup switch.
type partnerItem struct {
	nodes.Item    `dynamodbav:",inline"`
	SignupEnabled bool `dynamodbav:"signupEnabled"`
	Deleting      any  `dynamodbav:"deleting"`
}

// loadPartner reads partner id; missing, or of another kind, it is store.ErrNotFound.
func (s *Service) loadPartner(ctx context.Context, id string) (partnerItem, error) {
	var p partnerItem
	if !nodes.ValidID(tree.KindPartner, id) {
		return p, store.ErrNotFound
	}
	err := s.Store.Get(ctx, nodes.Key(id), &p)
	if err == nil && p.Kind != tree.KindPartner {
		err = store.ErrNotFound
	}
	return p, err
}

// partner is the target of the settings routes.
func (s *Service) partner(r *http.Request) (tree.Node, any, error) {
	p, err := s.loadPartner(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return tree.Node{}, nil, problem.NotFound(string(tree.KindPartner))
	}
	if err != nil {
		return tree.Node{}, nil, err
	}
	return p.Node(), p, nil
}

// Settings is a partner's signup switch as the API shows it.
type Settings struct {
	PartnerID string `json:"partnerId"`
	Enabled   bool   `json:"enabled"`
}

func (s *Service) getSettings(w http.ResponseWriter, r *http.Request) error {
	p := api.TargetOf(r.Context()).(partnerItem)
	return api.WriteJSON(w, http.StatusOK, Settings{PartnerID: p.ID, Enabled: p.SignupEnabled})
}

type settingsBody struct {
	Enabled *bool `json:"enabled"`
}

// putSettings serves PUT /v1/partners/{id}/signup: one transaction updates the
// partner's signupEnabled alone (its version, fields and counters are untouched; the
// partner must still exist and not be being deleted) and records the change
// (partner.signup-enabled or partner.signup-disabled). Setting the state it already
// has changes nothing and records nothing.
func (s *Service) putSettings(w http.ResponseWriter, r *http.Request) error {
	p := api.TargetOf(r.Context()).(partnerItem)
	var b settingsBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	if b.Enabled == nil {
		return problem.Invalid("the body is invalid", problem.Field("enabled", "is required"))
	}
	if *b.Enabled != p.SignupEnabled {
		cond := expression.AttributeExists(expression.Name("PK")).And(expression.AttributeNotExists(expression.Name(nodes.DeletingAttr)))
		upd, err := store.Update(nodes.Key(p.ID), store.Item{AttrSignupEnabled: &types.AttributeValueMemberBOOL{Value: *b.Enabled}}, nil, cond)
		if err != nil {
			return err
		}
		verb := settingsVerb(*b.Enabled)
		rec, err := audit.Record(r, audit.Change{
			Action: "partner." + verb,
			Target: audit.Target{Type: string(tree.KindPartner), ID: p.ID, Name: p.Name},
			Scope:  audit.NodeScope(p.Node()),
			Before: map[string]any{AttrSignupEnabled: p.SignupEnabled}, After: map[string]any{AttrSignupEnabled: *b.Enabled},
			// The switch leaves the partner's version alone: this is its current one.
			Version: p.Version,
		})
		if err != nil {
			return err
		}
		if err := s.Store.Transact(r.Context(), upd.FailsWith(problem.NotFound(string(tree.KindPartner))), rec); err != nil {
			return err
		}
	}
	return api.WriteJSON(w, http.StatusOK, Settings{PartnerID: p.ID, Enabled: *b.Enabled})
}

// item is a signup as stored.
type item struct {
	PK               string `dynamodbav:"PK"`
	SK               string `dynamodbav:"SK"`
	Type             string `dynamodbav:"type"`
	ID               string `dynamodbav:"id"`
	PartnerID        string `dynamodbav:"partnerId"`
	OrganizationName string `dynamodbav:"organizationName"`
	FirstName        string `dynamodbav:"firstName"`
	LastName         string `dynamodbav:"lastName"`
	Email            string `dynamodbav:"email"`
	Status           string `dynamodbav:"status"`
	// TokenHash is the SHA-256 of the verification token, until it is used.
	TokenHash string `dynamodbav:"tokenHash,omitempty"`
	// ExpiresAt (Unix seconds) is the end of the verification link, checked by the
	// code; TTL only cleans up signups never verified (it is removed on verification).
	ExpiresAt     int64  `dynamodbav:"expiresAt,omitempty"`
	CreatedAt     string `dynamodbav:"createdAt"`
	VerifiedAt    string `dynamodbav:"verifiedAt,omitempty"`
	DecidedAt     string `dynamodbav:"decidedAt,omitempty"`
	DecidedBy     string `dynamodbav:"decidedBy,omitempty"`
	Reason        string `dynamodbav:"reason,omitempty"`
	InvitedUserID string `dynamodbav:"invitedUserId,omitempty"`
}

// Key is the key of the signup of organization id.
func Key(id string) store.Item { return nodes.SignupKey(id) }

// Accepted is the one answer of a signup.
type Accepted struct {
	Status string `json:"status"`
}

type signupBody struct {
	OrganizationName *string `json:"organizationName"`
	FirstName        *string `json:"firstName"`
	LastName         *string `json:"lastName"`
	Email            *string `json:"email"`
}

// closed is the one answer for a partner that does not exist, is not open to signups,
// is suspended or is being deleted.
func closed() error { return problem.NotFound(string(tree.KindPartner)) }

// create serves POST /v1/signup/{partnerId} (public).
//
// The body is checked first, then the attempt is counted against the email and the
// source address (429 over either), then the partner is read: a partner that does not
// exist, is closed to signups, suspended or being deleted is the one 404. Then the
// signup counts against the partner's allowance (429 over it). A name
// already taken among the partner's organizations is a 409 (read, not claimed: the
// verification claims it). Then the signup item is written and the verification link
// sent. The answer is the same 202 whether or not the email has a console account; an
// email that already has one gets nothing (it could never be invited).
func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b signupBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	app, err := b.read()
	if err != nil {
		return err
	}
	orgName, first, last, email := app.organizationName, app.firstName, app.lastName, app.email
	l := s.limits()
	sum := sha256.Sum256([]byte(email))
	keys := []throttle.Key{{Scope: "signup-email", Value: hex.EncodeToString(sum[:16]), Max: l.PerEmail}}
	if ip := api.MetaOf(r).SourceIP; ip != "" {
		keys = append(keys, throttle.Key{Scope: "signup-ip", Value: ip, Max: l.PerIP})
	}
	if err := s.throttle(ctx, w, keys); err != nil {
		return err
	}
	p, err := s.loadPartner(ctx, r.PathValue("partnerId"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !open(p)) {
		return closed()
	}
	if err != nil {
		return err
	}
	if err := s.perPartner().ChargeNode(w, r, p.ID); err != nil {
		return err
	}
	if err := s.Store.Get(ctx, nodes.UniqueNameKey(p.ID, tree.KindOrganization, orgName), &nodes.UniqueName{}); err == nil {
		return nameTaken()
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	taken, err := s.emailTaken(ctx, email)
	if err != nil {
		return err
	}
	if !taken {
		now := s.now()
		id := nodes.NewID(tree.KindOrganization)
		token := newToken(id)
		if err := s.Store.PutIf(ctx, item{
			PK: "SIGNUP#" + id, SK: "SIGNUP", Type: "signup", ID: id, PartnerID: p.ID,
			OrganizationName: orgName, FirstName: first, LastName: last, Email: email,
			Status: StatusUnverified, TokenHash: hashToken(token),
			ExpiresAt: now.Add(Validity).Unix(), CreatedAt: nodes.Stamp(now),
		}, store.NotExists()); err != nil {
			return err
		}
		m, err := mail.Render(mail.TemplateSignupVerification, mail.PartnerBranding(p.Item), mail.SignupVerification{
			FirstName: first, OrganizationName: orgName,
			Link:     strings.TrimRight(s.ConsoleURL, "/") + "/signup/verify?" + url.Values{"token": {token}}.Encode(),
			ValidFor: "24 hours",
		})
		if err != nil {
			return err
		}
		// The applicant's organization does not exist yet: the partner's server sends it.
		m.To, m.Lineage = email, p.Item.Node().Lineage()
		if err := s.Mail.Send(ctx, m); err != nil {
			return err
		}
	}
	return api.WriteJSON(w, http.StatusAccepted, Accepted{Status: "accepted"})
}

// perPartner is the allowance of signups per partner (throttle.Signups). The route is
// public, so the middleware has no node to count against: create charges it itself,
// once the partner is known to exist and to be open, so that a made-up partner id
// writes no counter, and after the limits per email and per address, so that calls
// they refuse do not spend the partner's allowance.
func (s *Service) perPartner() *api.NodeLimit {
	return &api.NodeLimit{Allowance: throttle.Signups, Counter: throttle.NodeCounter{Store: s.Store, Now: s.Now}}
}

// throttle counts one attempt against keys and refuses it (429 with Retry-After) over
// any limit.
func (s *Service) throttle(ctx context.Context, w http.ResponseWriter, keys []throttle.Key) error {
	lim := &throttle.Limiter{Store: s.Store, Window: s.limits().Window, Now: s.Now}
	a, err := lim.Begin(ctx, keys...)
	if err != nil {
		return err
	}
	if !a.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(a.RetryAfter.Round(time.Second)/time.Second)+1))
		return problem.Throttled("too many signups for this email or from this address; wait and retry")
	}
	return nil
}

func (s *Service) emailTaken(ctx context.Context, email string) (bool, error) {
	err := s.Store.Get(ctx, identity.EmailKey(email), &nodes.UniqueName{})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func nameTaken() error {
	return problem.Conflict("name-taken", "another organization of this partner already has this name",
		problem.Field("organizationName", "already taken"))
}

// newToken makes a verification token for signup id: the id, a dot, 32 random bytes.
func newToken(id string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return id + "." + base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// invalidToken answers every verification token that does not work, unknown, expired
// or already used, alike.
func invalidToken() error {
	return &problem.Problem{
		Type: problem.TypePrefix + "invalid-token", Title: "Invalid token", Status: http.StatusBadRequest,
		Detail: "the verification link is invalid, has expired or was already used; sign up again",
		Errors: []problem.FieldError{problem.Field("token", "invalid, expired or already used")},
	}
}

type verifyBody struct {
	Token *string `json:"token"`
}

// Verified is the answer of a verification: the organization now awaits approval.
type Verified struct {
	OrganizationID   string `json:"organizationId"`
	OrganizationName string `json:"organizationName"`
	Status           string `json:"status"`
}

// verify serves POST /v1/signup/verify (public). An unknown, expired or used token is
// the one 400 invalid-token. Otherwise one transaction creates the organization as
// pending, with the writes of a create (the node, its name's claim: 409 name-taken if
// it was taken meanwhile, the partner's children counter, conditional on the partner
// existing, not being deleted and still taking signups), marks the token used (the
// signup becomes verified, conditional on the token being unused) and records
// organization.signup-verified, made by the applicant.
func (s *Service) verify(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b verifyBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	if b.Token == nil || *b.Token == "" {
		return problem.Invalid("the body is invalid", problem.Field("token", "is required"))
	}
	l := s.limits()
	if ip := api.MetaOf(r).SourceIP; ip != "" {
		if err := s.throttle(ctx, w, []throttle.Key{{Scope: "signup-verify-ip", Value: ip, Max: l.VerifyPerIP}}); err != nil {
			return err
		}
	}
	token := *b.Token
	id, ok := tokenOrganization(token)
	if !ok {
		return invalidToken()
	}
	var sg item
	err := s.Store.Get(ctx, Key(id), &sg)
	if errors.Is(err, store.ErrNotFound) {
		return invalidToken()
	}
	if err != nil {
		return err
	}
	hash := hashToken(token)
	now := s.now()
	if !sg.verifiable(hash, now) {
		return invalidToken()
	}
	p, err := s.loadPartner(ctx, sg.PartnerID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !open(p)) {
		return closed()
	}
	if err != nil {
		return err
	}

	org := levels.Organizations.NewItem(p.Node(), sg.OrganizationName, now)
	// The organization takes the id the signup was made for, and starts pending.
	org.ID, org.PK, org.Status = sg.ID, nodes.PK(sg.ID), levels.StatusPending
	levels.Organizations.SetIndexKeys(&org)
	put, err := store.Put(org, store.NotExists())
	if err != nil {
		return err
	}
	claim, err := nodes.ClaimName(org, nameTaken())
	if err != nil {
		return err
	}
	count, err := countChild(p.ID)
	if err != nil {
		return err
	}
	used, err := store.Update(Key(sg.ID), store.Item{
		"status":     &types.AttributeValueMemberS{Value: StatusVerified},
		"verifiedAt": &types.AttributeValueMemberS{Value: nodes.Stamp(now)},
	}, []string{"tokenHash", "expiresAt"},
		expression.Name("status").Equal(expression.Value(StatusUnverified)).And(expression.Name("tokenHash").Equal(expression.Value(hash))))
	if err != nil {
		return err
	}
	rec, err := audit.RecordBy(applicant(sg), api.MetaOf(r), audit.Change{
		Action:  "organization.signup-verified",
		Target:  audit.Target{Type: string(tree.KindOrganization), ID: org.ID, Name: org.Name},
		Scope:   audit.NodeScope(org.Node()),
		After:   applicantFields(sg, levels.Organizations.AuditFields(&org)),
		Version: org.Version,
	})
	if err != nil {
		return err
	}
	if err := s.Store.Transact(ctx,
		used.FailsWith(invalidToken()),
		put.FailsWith(invalidToken()),
		claim,
		count.FailsWith(closed()),
		rec,
	); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, Verified{OrganizationID: org.ID, OrganizationName: org.Name, Status: org.Status})
}

// countChild is nodes.CountChild, with the condition that the partner still takes
// signups too.
func countChild(partnerID string) (store.Write, error) {
	return nodes.CountChild(partnerID,
		expression.Name(AttrSignupEnabled).Equal(expression.Value(true)),
		expression.Name("status").Equal(expression.Value(levels.StatusActive)))
}

// RoleAnonymous is the role of the actor of a change made by someone without a
// console account (the applicant of a signup verifying their email).
const RoleAnonymous = "anonymous"

// applicant is the actor of the verification: the applicant, who has no account yet.
func applicant(sg item) audit.Actor {
	return audit.Actor{UserID: "signup:" + sg.ID, Email: sg.Email, Role: RoleAnonymous}
}

// applicantFields adds the applicant to an organization's audit fields.
func applicantFields(sg item, fields map[string]any) map[string]any {
	fields["applicantEmail"] = sg.Email
	fields["applicantFirstName"] = sg.FirstName
	fields["applicantLastName"] = sg.LastName
	return fields
}
