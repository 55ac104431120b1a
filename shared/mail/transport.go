package mail

import (
	"context"
	"fmt"
	"net/smtp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"opsconsole/shared/awscall"
)

// New builds the Sender the configuration names. The SES client is built from awsCfg,
// so its endpoint follows the SDK's variables like every other client's.
func New(c Config, awsCfg aws.Config) (Sender, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Transport == "smtp" {
		return &SMTP{Addr: c.SMTPAddr, From: c.From}, nil
	}
	return &SES{Client: sesv2.NewFromConfig(awsCfg), From: c.From}, nil
}

// SMTP sends through an SMTP server without authentication (locally, maildev).
type SMTP struct {
	Addr, From string
}

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	raw, err := Compose(s.From, m, time.Now())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := smtp.SendMail(s.Addr, nil, s.From, []string{m.To}, raw); err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	// The deployed function sends this message with SES's SendEmail (MAIL_TRANSPORT=ses):
	// the IAM check (infra/iam) holds that call against the function's policy.
	awscall.StandIn(ctx, "SESv2", "SendEmail", func() any { return sesInput(s.From, m.To, raw) })
	return nil
}

// SESClient is the part of the SESv2 client the SES sender uses.
type SESClient interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends through Amazon SES (v2 SendEmail with the raw MIME message, so that SES
// sends exactly what SMTP would).
type SES struct {
	Client SESClient
	From   string
}

// Send implements Sender.
func (s *SES) Send(ctx context.Context, m Message) error {
	raw, err := Compose(s.From, m, time.Now())
	if err != nil {
		return err
	}
	_, err = s.Client.SendEmail(ctx, sesInput(s.From, m.To, raw))
	if err != nil {
		return fmt.Errorf("ses send: %w", err)
	}
	return nil
}

// sesInput is the SendEmail request of one raw message.
func sesInput(from, to string, raw []byte) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &sestypes.Destination{ToAddresses: []string{to}},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: raw}},
	}
}
