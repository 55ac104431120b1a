package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// The templates: for each message <name>.txt (text/template, defining "subject" and
// "text") and <name>.html (html/template, defining "content", shown inside the
// branded layout.html). A new message is a new pair of files and a data type below.
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
)

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

// PasswordReset is the data of a forgotten-password email.
type PasswordReset struct {
	FirstName string
	Code      string
	// Link opens the console's reset page (the code is typed there).
	Link     string
	ValidFor string
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

// SignupDecision is the data of the email that tells an applicant their signup was
// rejected, and why (an approval is told by the activation email).
type SignupDecision struct {
	FirstName        string
	OrganizationName string
	Reason           string
}

// view is what every template sees.
type view struct {
	Brand Branding
	Data  any
}

var (
	textTemplates = texttemplate.Must(texttemplate.New("").ParseFS(files, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").ParseFS(files, "templates/layout.html"))
)

// htmlFor parses the layout with one message's content (each message defines
// "content", so each gets its own copy of the layout).
func htmlFor(name string) (*htmltemplate.Template, error) {
	t, err := htmlTemplates.Clone()
	if err != nil {
		return nil, err
	}
	return t.ParseFS(files, "templates/"+name+".html")
}

// Render renders message name for a recipient with brand: subject, text and HTML.
// The caller sets To.
func Render(name string, brand Branding, data any) (Message, error) {
	brand = brand.withDefaults()
	v := view{Brand: brand, Data: data}
	var subject, text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&subject, name+".subject", v); err != nil {
		return Message{}, fmt.Errorf("render %s subject: %w", name, err)
	}
	if err := textTemplates.ExecuteTemplate(&text, name+".text", v); err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", name, err)
	}
	ht, err := htmlFor(name)
	if err != nil {
		return Message{}, fmt.Errorf("parse %s html: %w", name, err)
	}
	if err := ht.ExecuteTemplate(&html, "layout", v); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", name, err)
	}
	return Message{
		Subject:  strings.Join(strings.Fields(subject.String()), " "),
		Text:     strings.TrimSpace(text.String()) + "\n",
		HTML:     html.String(),
		FromName: brand.Name,
		ReplyTo:  brand.SupportEmail,
	}, nil
}
