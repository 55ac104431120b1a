// Package mail renders and sends the emails of the console: every message is a
// template with a text and an HTML part (text/template and html/template, embedded),
// rendered with the branding of the partner whose branch the recipient belongs to,
// composed as one multipart/alternative MIME message and handed to the system
// transport: SES in AWS (MAIL_TRANSPORT=ses), SMTP locally (MAIL_TRANSPORT=smtp, into
// maildev). Both transports send the same bytes.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// Message is one email to one recipient, rendered.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// FromName is the display name of the sender (the brand); ReplyTo the brand's
	// support address, when it has one.
	FromName string
	ReplyTo  string
	// Lineage is the recipient's lineage, root first (their node's, or for an
	// applicant the partner's): the branch whose own mail server, if any, sends it
	// (shared/smtpsettings.Router).
	Lineage []string
}

// Sender hands a message to the mail transport.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Config is the mail transport as the environment sets it.
type Config struct {
	// Transport is "ses" or "smtp".
	Transport string
	// From is the sender's address (a verified SES identity in AWS).
	From string
	// SMTPAddr is host:port of the SMTP server when Transport is "smtp".
	SMTPAddr string
}

// ConfigFromEnv reads MAIL_TRANSPORT, MAIL_FROM and SMTP_ADDR (or, when SMTP_ADDR is
// unset, SMTP_HOST and SMTP_PORT).
func ConfigFromEnv() Config {
	c := Config{
		Transport: strings.ToLower(strings.TrimSpace(os.Getenv("MAIL_TRANSPORT"))),
		From:      strings.TrimSpace(os.Getenv("MAIL_FROM")),
		SMTPAddr:  strings.TrimSpace(os.Getenv("SMTP_ADDR")),
	}
	if c.SMTPAddr == "" && os.Getenv("SMTP_HOST") != "" && os.Getenv("SMTP_PORT") != "" {
		c.SMTPAddr = os.Getenv("SMTP_HOST") + ":" + os.Getenv("SMTP_PORT")
	}
	return c
}

// Validate tells what is missing for the configured transport.
func (c Config) Validate() error {
	if _, err := mail.ParseAddress(c.From); err != nil || c.From == "" {
		return fmt.Errorf("MAIL_FROM %q is not an email address", c.From)
	}
	switch c.Transport {
	case "ses":
		return nil
	case "smtp":
		if c.SMTPAddr == "" {
			return errors.New("MAIL_TRANSPORT=smtp needs SMTP_ADDR (host:port)")
		}
		return nil
	}
	return fmt.Errorf("MAIL_TRANSPORT %q is neither ses nor smtp", c.Transport)
}

// Unconfigured is the Sender of a function whose mail configuration is invalid: it
// fails every send with the reason, so the function still starts and the error shows
// in its log on the first message.
type Unconfigured struct{ Err error }

// Send implements Sender.
func (u Unconfigured) Send(context.Context, Message) error {
	return fmt.Errorf("mail is not configured: %w", u.Err)
}

// Compose builds the MIME message: headers (From, To, Reply-To, Subject encoded per
// RFC 2047 when it is not plain ASCII, Date, Message-ID, MIME-Version) and a
// multipart/alternative body with the text part first and the HTML part second, both
// UTF-8 and quoted-printable.
func Compose(from string, m Message, now time.Time) ([]byte, error) {
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if m.FromName != "" {
		fromAddr.Name = m.FromName
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("to address: %w", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("the subject holds a line break")
	}
	var buf bytes.Buffer
	body := multipart.NewWriter(&buf)
	header := func(name, value string) { fmt.Fprintf(&buf, "%s: %s\r\n", name, value) }
	header("From", fromAddr.String())
	header("To", to.String())
	if m.ReplyTo != "" {
		if rt, err := mail.ParseAddress(m.ReplyTo); err == nil {
			header("Reply-To", rt.String())
		}
	}
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", messageID(fromAddr.Address))
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/alternative; boundary="`+body.Boundary()+`"`)
	buf.WriteString("\r\n")
	for _, part := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := body.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(crlf(part.content))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := body.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// crlf makes every line end in CRLF, as SMTP wants.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// messageID makes a unique Message-ID in the sender's domain.
func messageID(from string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	return "<" + time.Now().UTC().Format("20060102150405") + "." + hex.EncodeToString(b) + "@" + domain + ">"
}
