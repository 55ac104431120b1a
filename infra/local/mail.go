package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Email is a message the mail server (maildev) received, as its REST API gives it.
type Email struct {
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Subject string         `json:"subject"`
	From    []Address      `json:"from"`
	To      []Address      `json:"to"`
	Text    string         `json:"text"`
	HTML    string         `json:"html"`
	Headers map[string]any `json:"headers"`
}

// Address is a mailbox of an Email.
type Address struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

// Emails returns every message the mail server holds, oldest first
// (GET <MailURL>/api/email).
func (s *Services) Emails(ctx context.Context) ([]Email, error) {
	var out []Email
	if err := s.mailAPI(ctx, http.MethodGet, "/api/email", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteEmails empties the mail server (DELETE <MailURL>/api/email/all).
func (s *Services) DeleteEmails(ctx context.Context) error {
	return s.mailAPI(ctx, http.MethodDelete, "/api/email/all", nil)
}

func (s *Services) mailAPI(ctx context.Context, method, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.MailURL+path, nil)
	if err != nil {
		return err
	}
	res, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("maildev %s %s: %s %s", method, path, res.Status, body)
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(body, into)
}
