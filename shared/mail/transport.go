package mail

import (
	"context"
	"fmt"
	"net/smtp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
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
	_, err = s.Client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.From),
		Destination:      &sestypes.Destination{ToAddresses: []string{m.To}},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: raw}},
	})
	if err != nil {
		return fmt.Errorf("ses send: %w", err)
	}
	return nil
}
