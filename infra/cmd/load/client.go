package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// client makes the requests of the seeding and the checks (the load itself is
// vegeta's): one call at a time per goroutine, each answer read whole.
type client struct {
	base string
	http *http.Client
}

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// answer is a response as the seeding and the checks read it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (c *client) do(ctx context.Context, method, path, token string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: res.StatusCode, header: res.Header, body: raw}, nil
}

// json makes the request and decodes a want answer into v (when not nil); any other
// status is an error that shows the body.
func (c *client) json(ctx context.Context, method, path, token string, body any, want int, v any) (answer, error) {
	a, err := c.do(ctx, method, path, token, body)
	if err != nil {
		return a, err
	}
	if a.status != want {
		return a, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, a.status, want, a.body)
	}
	if v != nil {
		if err := json.Unmarshal(a.body, v); err != nil {
			return a, fmt.Errorf("%s %s: decode %s: %w", method, path, a.body, err)
		}
	}
	return a, nil
}

// login signs in with a password (no MFA: none of the load's users enrol) and returns
// the access token.
func (c *client) login(ctx context.Context, email, password string) (string, error) {
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if _, err := c.json(ctx, http.MethodPost, "/v1/auth/login", "", map[string]string{"email": email, "password": password}, http.StatusOK, &tok); err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("login %s: no access token", email)
	}
	return tok.AccessToken, nil
}

// page is one page of any list: the items are decoded by the caller.
type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"nextCursor"`
}

// all reads every page of the list at path (which has a query string already) and
// returns its items.
func (c *client) all(ctx context.Context, path, token string) ([]json.RawMessage, error) {
	var items []json.RawMessage
	for cursor := ""; ; {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var pg page
		if _, err := c.json(ctx, http.MethodGet, p, token, nil, http.StatusOK, &pg); err != nil {
			return nil, err
		}
		items = append(items, pg.Items...)
		if pg.NextCursor == nil {
			return items, nil
		}
		cursor = *pg.NextCursor
	}
}
