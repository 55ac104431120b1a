package mail

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestRenderedAsBefore: testdata/rendered.json is every message, in the platform's
// branding and a partner's, as text/template and html/template rendered them before
// the templates moved to the small engine of template.go; the engine renders them
// byte for byte the same.
func TestRenderedAsBefore(t *testing.T) {
	raw, err := os.ReadFile("testdata/rendered.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]Message
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	brands := []Branding{{}, {Name: "Acme <R>", LogoURL: "https://cdn.example.com/l.png?a=1&b=2", Colour: "#ff8800", SupportEmail: "help@acme.example"}}
	datas := map[string]any{
		TemplateInvitation:         Invitation{FirstName: "Jane & <b>", InvitedBy: "boss@acme.example", NodeName: "Acme <One>", Role: "partner admin", Link: "http://localhost:3000/activate?token=a&b=c", ValidFor: "72 hours"},
		TemplatePasswordReset:      PasswordReset{FirstName: "Al", Code: "12345678", Link: "http://x/reset-password", ValidFor: "15 minutes"},
		TemplateSignupVerification: SignupVerification{FirstName: "Sue", OrganizationName: "Org 'Q' & Co", Link: "http://x/verify?t=1", ValidFor: "24 hours"},
		TemplateSignupDecision:     SignupDecision{FirstName: "Bo", OrganizationName: "O<rg>", Reason: "line1\nline2 & <x>"},
		TemplateWebhookDisabled:    WebhookDisabled{NodeName: "P<1>", EndpointID: "whe_1", URL: "https://h.example/in?a=1&b=2", Reason: "410 Gone", FailingSince: "2026-12-01T00:00:00Z", LastError: "<x>"},
	}
	for name, d := range datas {
		for i, b := range brands {
			key := name + string(rune('0'+i))
			t.Run(key, func(t *testing.T) {
				got, err := Render(name, b, d)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want[key]) {
					t.Errorf("rendered\n%+v\nwant\n%+v", got, want[key])
				}
			})
		}
	}
}

func TestTemplateLanguage(t *testing.T) {
	values := map[string]string{".Data.A": "a<b", ".Data.Empty": ""}
	cases := []struct {
		name, src, want, err string
		esc                  func(string) string
	}{
		{"a value", `{{define "x"}}[{{.Data.A}}]{{end}}`, "[a<b]", "", plain},
		{"a value escaped for HTML", `{{define "x"}}[{{.Data.A}}]{{end}}`, "[a&lt;b]", "", escapeHTML},
		{"if with a value", `{{define "x"}}{{if .Data.A}}yes{{else}}no{{end}}{{end}}`, "yes", "", plain},
		{"if without", `{{define "x"}}{{if .Data.Empty}}yes{{else}}no{{end}}{{end}}`, "no", "", plain},
		{"another template", `{{define "x"}}<{{template "y" .}}>{{end}}{{define "y"}}y{{end}}`, "<y>", "", plain},
		{"an unknown value", `{{define "x"}}{{.Data.Nope}}{{end}}`, "", "no value .Data.Nope", plain},
		{"an unknown action", `{{define "x"}}{{range .Data.A}}{{end}}{{end}}`, "", "unknown action", plain},
		{"an unclosed define", `{{define "x"}}open`, "", "unclosed", plain},
		{"text outside a define", `stray {{define "x"}}{{end}}`, "", "outside a define", plain},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := parseDefinitions(c.src)
			var got string
			if err == nil {
				got, err = s.execute("x", values, c.esc)
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
