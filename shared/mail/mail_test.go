package mail

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

func TestRenderInvitation(t *testing.T) {
	brand := Branding{Name: "Acme Résellers", LogoURL: "https://cdn.example.com/logo.png", Colour: "#ff8800", SupportEmail: "help@acme.example"}
	m, err := Render(TemplateInvitation, brand, Invitation{
		FirstName: "Jane", InvitedBy: "boss@acme.example", NodeName: "Acme <One>", Role: "partner admin",
		Link: "http://localhost:3000/activate?token=abc_DEF-123", ValidFor: "72 hours",
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "You are invited to Acme Résellers" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Hello Jane,", "as partner admin of Acme <One>", "http://localhost:3000/activate?token=abc_DEF-123", "72 hours", "help@acme.example"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{`href="http://localhost:3000/activate?token=abc_DEF-123"`, `src="https://cdn.example.com/logo.png"`, "background:#ff8800", "Acme &lt;One&gt;", "mailto:help@acme.example"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("html lacks %q:\n%s", want, m.HTML)
		}
	}
	if m.FromName != "Acme Résellers" || m.ReplyTo != "help@acme.example" {
		t.Errorf("from name %q reply-to %q", m.FromName, m.ReplyTo)
	}
}

func TestBrandingDefaults(t *testing.T) {
	b := FromAttrs(map[string]any{AttrBrandColour: "red; background:url(x)", AttrLogoURL: "javascript:alert(1)", AttrSupportEmail: "not an address"})
	if b.Name != Platform.Name || b.Colour != Platform.Colour || b.LogoURL != "" || b.SupportEmail != "" {
		t.Fatalf("branding %+v", b)
	}
	m, err := Render(TemplatePasswordReset, Branding{}, PasswordReset{FirstName: "Al", Code: "12345678", Link: "http://x/reset-password", ValidFor: "15 minutes"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<img") || strings.Contains(m.HTML, "mailto:") || !strings.Contains(m.Text, "12345678") {
		t.Fatalf("defaults rendered wrong:\n%s\n%s", m.Text, m.HTML)
	}
}

func TestCompose(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	raw, err := Compose("no-reply@ops.example", Message{
		To: "jane@example.com", Subject: "Réinitialisation — code", Text: "line one\nline two with a long " + strings.Repeat("x", 100),
		HTML: "<p>é</p>", FromName: "Acme Résellers", ReplyTo: "help@acme.example",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != "Réinitialisation — code" || !strings.HasPrefix(h.Get("Subject"), "=?utf-8?") {
		t.Errorf("subject %q → %q, %v", h.Get("Subject"), subject, err)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Acme Résellers" || from[0].Address != "no-reply@ops.example" {
		t.Errorf("from %q: %v %v", h.Get("From"), from, err)
	}
	if d, err := h.Date(); err != nil || !d.Equal(now) {
		t.Errorf("date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@ops.example>") {
		t.Errorf("message id %q", id)
	}
	if h.Get("Reply-To") != "<help@acme.example>" || h.Get("MIME-Version") != "1.0" {
		t.Errorf("reply-to %q mime %q", h.Get("Reply-To"), h.Get("MIME-Version"))
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types, bodies []string
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		types = append(types, p.Header.Get("Content-Type"))
		bodies = append(bodies, string(b))
	}
	if len(types) != 2 || types[0] != "text/plain; charset=utf-8" || types[1] != "text/html; charset=utf-8" {
		t.Fatalf("parts %v", types)
	}
	if !strings.Contains(bodies[0], "line one\r\nline two") || !strings.Contains(bodies[0], strings.Repeat("x", 100)) || bodies[1] != "<p>é</p>" {
		t.Errorf("bodies %q", bodies)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line over 998 characters")
		}
	}
	if _, err := Compose("no-reply@ops.example", Message{To: "a@example.com", Subject: "a\r\nBcc: x@example.com"}, now); err == nil {
		t.Error("a subject with a line break was accepted")
	}
}

type fakeSES struct{ in *sesv2.SendEmailInput }

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in = in
	return &sesv2.SendEmailOutput{}, nil
}

func TestSESSendsTheRawMessage(t *testing.T) {
	f := &fakeSES{}
	s := &SES{Client: f, From: "no-reply@ops.example"}
	if err := s.Send(context.Background(), Message{To: "jane@example.com", Subject: "Hi", Text: "t", HTML: "<p>h</p>"}); err != nil {
		t.Fatal(err)
	}
	if *f.in.FromEmailAddress != "no-reply@ops.example" || f.in.Destination.ToAddresses[0] != "jane@example.com" ||
		!strings.Contains(string(f.in.Content.Raw.Data), "multipart/alternative") {
		t.Fatalf("input %+v", f.in)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{Transport: "ses", From: "a@example.com"}, true},
		{Config{Transport: "smtp", From: "a@example.com", SMTPAddr: "127.0.0.1:1025"}, true},
		{Config{Transport: "smtp", From: "a@example.com"}, false},
		{Config{Transport: "pigeon", From: "a@example.com"}, false},
		{Config{Transport: "ses"}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
}
