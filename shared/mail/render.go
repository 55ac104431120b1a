package mail

import (
	"embed"
	"fmt"
	"strings"
	"sync"
)

// The templates: for each message <name>.txt (defining "<name>.subject" and
// "<name>.text") and <name>.html (defining "content", shown inside the branded
// layout.html). A new message is a new pair of files and a data type below, with its
// fields. Their language is a small subset of text/template's, run by template.go:
// text/template and html/template find fields and methods by name at run time, which
// makes the linker keep every method of every type a mail function links (the whole
// Cognito client among them): 1.65 times the zip and init of a function without them.
//
//go:embed templates/*.txt templates/*.html
var files embed.FS

// Template names.
const (
	TemplateInvitation    = "invitation"
	TemplatePasswordReset = "password-reset"
	// The self-service signup's messages (shared/signup).
	TemplateSignupVerification = "signup-verification"
	TemplateSignupDecision     = "signup-decision"
	// TemplateWebhookDisabled tells a node's admins that its endpoint was disabled
	// (shared/webhooks).
	TemplateWebhookDisabled = "webhook-disabled"
	// TemplateAPIClient tells a node's admins that an API client was created or its
	// secret rotated (shared/apiclients).
	TemplateAPIClient = "api-client"
)

// fielder is a message's data: the fields its templates name as .Data.<Field>.
type fielder interface{ fields() map[string]string }

// Invitation is the data of the activation email of an invited console user.
type Invitation struct {
	FirstName string
	// InvitedBy is the inviter's email; NodeName the node the user joins, Role theirs.
	InvitedBy string
	NodeName  string
	Role      string
	// Link is the single-use activation link; ValidFor says how long it works, in words.
	Link     string
	ValidFor string
}

func (d Invitation) fields() map[string]string {
	return map[string]string{"FirstName": d.FirstName, "InvitedBy": d.InvitedBy, "NodeName": d.NodeName, "Role": d.Role, "Link": d.Link, "ValidFor": d.ValidFor}
}

// PasswordReset is the data of a forgotten-password email.
type PasswordReset struct {
	FirstName string
	Code      string
	// Link opens the console's reset page (the code is typed there).
	Link     string
	ValidFor string
}

func (d PasswordReset) fields() map[string]string {
	return map[string]string{"FirstName": d.FirstName, "Code": d.Code, "Link": d.Link, "ValidFor": d.ValidFor}
}

// SignupVerification is the data of the email that confirms a self-service signup's
// address.
type SignupVerification struct {
	FirstName        string
	OrganizationName string
	// Link is the single-use verification link; ValidFor says how long it works.
	Link     string
	ValidFor string
}

func (d SignupVerification) fields() map[string]string {
	return map[string]string{"FirstName": d.FirstName, "OrganizationName": d.OrganizationName, "Link": d.Link, "ValidFor": d.ValidFor}
}

// SignupDecision is the data of the email that tells an applicant their signup was
// rejected, and why (an approval is told by the activation email).
type SignupDecision struct {
	FirstName        string
	OrganizationName string
	Reason           string
}

func (d SignupDecision) fields() map[string]string {
	return map[string]string{"FirstName": d.FirstName, "OrganizationName": d.OrganizationName, "Reason": d.Reason}
}

// WebhookDisabled is the data of the email telling a node's admins that one of its
// webhook endpoints was disabled.
type WebhookDisabled struct {
	NodeName, EndpointID, URL string
	// Reason says why (410 Gone, or failing for how long); FailingSince and
	// LastError the failures.
	Reason, FailingSince, LastError string
}

func (d WebhookDisabled) fields() map[string]string {
	return map[string]string{"NodeName": d.NodeName, "EndpointID": d.EndpointID, "URL": d.URL, "Reason": d.Reason,
		"FailingSince": d.FailingSince, "LastError": d.LastError}
}

// APIClientNotice is the data of the email that tells a node's admins of a new API
// client or a rotated secret.
type APIClientNotice struct {
	// Event is "created" or "rotated the secret of"; By the user's email.
	Event, By                      string
	ClientName, ClientID, NodeName string
	Role                           string
}

func (d APIClientNotice) fields() map[string]string {
	return map[string]string{"Event": d.Event, "By": d.By, "ClientName": d.ClientName, "ClientID": d.ClientID, "NodeName": d.NodeName, "Role": d.Role}
}

// templates are the parsed files, parsed on first use (not at every function's init).
var templates = sync.OnceValues(func() (map[string]*set, error) {
	out := map[string]*set{}
	entries, err := files.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		raw, err := files.ReadFile("templates/" + e.Name())
		if err != nil {
			return nil, err
		}
		defs, err := parseDefinitions(string(raw))
		if err != nil {
			return nil, fmt.Errorf("templates/%s: %w", e.Name(), err)
		}
		out[e.Name()] = defs
	}
	return out, nil
})

// Render renders message name for a recipient with brand: subject, text and HTML.
// The caller sets To.
func Render(name string, brand Branding, data any) (Message, error) {
	brand = brand.withDefaults()
	d, ok := data.(fielder)
	if !ok {
		return Message{}, fmt.Errorf("render %s: %T is not a message's data", name, data)
	}
	values := map[string]string{
		".Brand.Name": brand.Name, ".Brand.LogoURL": brand.LogoURL,
		".Brand.Colour": brand.Colour, ".Brand.SupportEmail": brand.SupportEmail,
	}
	for k, v := range d.fields() {
		values[".Data."+k] = v
	}
	all, err := templates()
	if err != nil {
		return Message{}, err
	}
	txt, msg := all[name+".txt"], all[name+".html"]
	if txt == nil || msg == nil {
		return Message{}, fmt.Errorf("render %s: no such message", name)
	}
	text := txt.with(all["footer.txt"])
	subject, err := text.execute(name+".subject", values, plain)
	if err != nil {
		return Message{}, fmt.Errorf("render %s subject: %w", name, err)
	}
	body, err := text.execute(name+".text", values, plain)
	if err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", name, err)
	}
	html, err := all["layout.html"].with(msg).execute("layout", values, escapeHTML)
	if err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", name, err)
	}
	return Message{
		Subject:  strings.Join(strings.Fields(subject), " "),
		Text:     strings.TrimSpace(body) + "\n",
		HTML:     html,
		FromName: brand.Name,
		ReplyTo:  brand.SupportEmail,
	}, nil
}
