package signup

import (
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/levels"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// organization loads the organization the path names; an id that cannot be an
// organization's is answered like a missing one, without a read.
func (s *Service) organization(r *http.Request) (tree.Node, any, error) {
	id := r.PathValue("id")
	if !nodes.ValidID(tree.KindOrganization, id) {
		return tree.Node{}, nil, problem.NotFound(string(tree.KindOrganization))
	}
	it, err := nodes.Get(r.Context(), s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != tree.KindOrganization) {
		return tree.Node{}, nil, problem.NotFound(string(tree.KindOrganization))
	}
	if err != nil {
		return tree.Node{}, nil, err
	}
	return it.Node(), it, nil
}

func loaded(r *http.Request) nodes.Item { return api.TargetOf(r.Context()).(nodes.Item) }

// View is a verified signup as its partner's admins see it: who applied, and what was
// decided.
type View struct {
	OrganizationID   string `json:"organizationId"`
	PartnerID        string `json:"partnerId"`
	OrganizationName string `json:"organizationName"`
	FirstName        string `json:"firstName"`
	LastName         string `json:"lastName"`
	Email            string `json:"email"`
	Status           string `json:"status"`
	CreatedAt        string `json:"createdAt"`
	VerifiedAt       string `json:"verifiedAt"`
	DecidedAt        string `json:"decidedAt,omitempty"`
	DecidedBy        string `json:"decidedBy,omitempty"`
	Reason           string `json:"reason,omitempty"`
	InvitedUserID    string `json:"invitedUserId,omitempty"`
}

func viewOf(sg item) View {
	return View{
		OrganizationID: sg.ID, PartnerID: sg.PartnerID, OrganizationName: sg.OrganizationName,
		FirstName: sg.FirstName, LastName: sg.LastName, Email: sg.Email, Status: sg.Status,
		CreatedAt: sg.CreatedAt, VerifiedAt: sg.VerifiedAt, DecidedAt: sg.DecidedAt,
		DecidedBy: sg.DecidedBy, Reason: sg.Reason, InvitedUserID: sg.InvitedUserID,
	}
}

func noSignup() error {
	p := problem.NotFound("signup")
	p.Detail = "the organization did not come from a self-service signup"
	return p
}

// signupOf reads the verified signup of organization id; none (an organization made
// through the API) is store.ErrNotFound.
func (s *Service) signupOf(r *http.Request, id string) (item, error) {
	var sg item
	err := s.Store.Get(r.Context(), Key(id), &sg)
	if err == nil && !sg.submitted() {
		err = store.ErrNotFound
	}
	return sg, err
}

// get serves GET /v1/organizations/{id}/signup.
func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	org := loaded(r)
	sg, err := s.signupOf(r, org.ID)
	if errors.Is(err, store.ErrNotFound) {
		return noSignup()
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, viewOf(sg))
}

// decide is the transaction of a decision: the organization's status, the signup's
// record of the decision, and the change record organization.<past> (with the reason,
// when there is one).
func (s *Service) decide(r *http.Request, before nodes.Item, sg *item, to, past, reason string) (nodes.Item, error) {
	after, writes, err := levels.Organizations.Transition(before, to)
	if err != nil {
		return nodes.Item{}, err
	}
	caller := api.CallerOf(r.Context())
	afterFields := levels.Organizations.AuditFields(&after)
	if reason != "" {
		afterFields["reason"] = reason
	}
	if sg != nil {
		set := store.Item{
			"status":    &types.AttributeValueMemberS{Value: to},
			"decidedAt": &types.AttributeValueMemberS{Value: after.UpdatedAt},
			"decidedBy": &types.AttributeValueMemberS{Value: caller.UserID},
		}
		if reason != "" {
			set["reason"] = &types.AttributeValueMemberS{Value: reason}
		}
		rec, err := store.Update(Key(sg.ID), set, nil, expression.Name("status").Equal(expression.Value(StatusVerified)))
		if err != nil {
			return nodes.Item{}, err
		}
		writes = append(writes, rec.FailsWith(problem.Stale()))
		sg.Status, sg.DecidedAt, sg.DecidedBy, sg.Reason = to, after.UpdatedAt, caller.UserID, reason
	}
	rec, err := audit.Record(r, audit.Change{
		Action: string(tree.KindOrganization) + "." + past,
		Target: audit.Target{Type: string(tree.KindOrganization), ID: after.ID, Name: after.Name},
		Scope:  audit.NodeScope(after.Node()),
		Before: levels.Organizations.AuditFields(&before), After: afterFields,
		Version: after.Version,
	})
	if err != nil {
		return nodes.Item{}, err
	}
	if err := s.Store.Transact(r.Context(), append(writes, rec)...); err != nil {
		return nodes.Item{}, err
	}
	return after, nil
}

// approve serves POST /v1/organizations/{id}/approve.
//
// Order, and what each failure leaves: (1) the checks: If-Match, pending, and the
// applicant's email not taken by a console user meanwhile (409 email-taken, nothing
// changed: the signup can still be rejected); (2) one transaction: the organization
// approved, the signup's decision, the change record organization.approved; (3) the
// applicant invited as organization_admin of the organization, by shared/users (the
// Cognito account, the user, the activation email, user.invited made by the caller).
// If (3) fails, the organization stays approved without an admin (the failure is
// logged, and the answer is still 200): the partner's admins invite one with POST
// /v1/users.
func (s *Service) approve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	before := loaded(r)
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := mayDecide(before, "approved"); err != nil {
		return err
	}
	var sgp *item
	sg, err := s.signupOf(r, before.ID)
	switch {
	case err == nil:
		sgp = &sg
		taken, err := s.emailTaken(ctx, sg.Email)
		if err != nil {
			return err
		}
		if taken {
			return applicantEmailTaken()
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	after, err := s.decide(r, before, sgp, levels.StatusApproved, "approved", "")
	if err != nil {
		return err
	}
	if sgp != nil && s.Users != nil {
		u, err := s.Users.Invite(r, after, sg.Email, sg.FirstName, sg.LastName, tree.RoleOrganizationAdmin)
		if err != nil {
			api.Log(ctx).ErrorContext(ctx, "approve: the applicant was not invited; invite them with POST /v1/users",
				"requestId", api.MetaOf(r).RequestID, "organizationId", after.ID, "error", err.Error())
		} else if _, err := s.Store.UpdateOne(ctx, store.Edit(Key(sg.ID), store.Expr{
			Update: "SET #u = :u",
			Names:  map[string]string{"#u": "invitedUserId"},
			Values: map[string]any{":u": u.ID},
		})); err != nil {
			api.Log(ctx).ErrorContext(ctx, "approve: the invited user's id was not recorded on the signup",
				"requestId", api.MetaOf(r).RequestID, "organizationId", after.ID, "error", err.Error())
		}
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, levels.Organizations.View(after))
}

type rejectBody struct {
	Reason *string `json:"reason"`
}

// reject serves POST /v1/organizations/{id}/reject {reason}: one transaction (the
// organization rejected, the signup's decision with the reason, the change record
// organization.rejected with the reason), then the decision email to the applicant (a
// failure is logged; the answer is still 200). A rejected organization stays, and can
// be deleted.
func (s *Service) reject(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	before := loaded(r)
	var b rejectBody
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	reason, err := validReason(b.Reason)
	if err != nil {
		return err
	}
	// The body is judged before the version: a malformed request is a 400 whatever its If-Match.
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if err := mayDecide(before, "rejected"); err != nil {
		return err
	}
	var sgp *item
	sg, err := s.signupOf(r, before.ID)
	switch {
	case err == nil:
		sgp = &sg
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	after, err := s.decide(r, before, sgp, levels.StatusRejected, "rejected", reason)
	if err != nil {
		return err
	}
	if sgp != nil {
		if err := s.sendDecision(r, after, sg, reason); err != nil {
			api.Log(ctx).ErrorContext(ctx, "reject: the decision email was not sent",
				"requestId", api.MetaOf(r).RequestID, "organizationId", after.ID, "error", err.Error())
		}
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, levels.Organizations.View(after))
}

// sendDecision tells the applicant that their signup was rejected, and why, branded
// for the partner.
func (s *Service) sendDecision(r *http.Request, org nodes.Item, sg item, reason string) error {
	brand, err := mail.BrandingFor(r.Context(), s.Store, org.Node())
	if err != nil {
		return err
	}
	m, err := mail.Render(mail.TemplateSignupDecision, brand, mail.SignupDecision{
		FirstName: sg.FirstName, OrganizationName: sg.OrganizationName, Reason: reason,
	})
	if err != nil {
		return err
	}
	m.To, m.Lineage = sg.Email, org.Node().Lineage()
	return s.Mail.Send(r.Context(), m)
}
