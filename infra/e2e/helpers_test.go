package e2e

// The HTTP client of the tests: requests, answers and their checks, and waiting.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"opsconsole/shared/nodes"
	"opsconsole/shared/signin"
	"opsconsole/shared/tree"
)

func urlq(s string) string { return url.QueryEscape(s) }

func t0() context.Context { return context.Background() }

// expect fails the test unless the answer has status.
func (r response) expect(t testing.TB, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

// response is what a test sees of an answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// json decodes a successful answer; any other status fails the test, so that an
// error body is never read as an empty result.
func (r response) json(t testing.TB, v any) {
	t.Helper()
	if r.Status < 200 || r.Status > 299 {
		t.Fatalf("status %d, want 2xx: %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problemBody is an RFC 9457 answer.
type problemBody struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r response) problem(t *testing.T, status int, slug string) problemBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type = %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p problemBody
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	if p.Type != "urn:opsconsole:problem:"+slug {
		t.Fatalf("problem type = %q, want %s; body %s", p.Type, slug, r.Body)
	}
	return p
}

// field asserts that the problem names field.
func (p problemBody) field(t *testing.T, field string) {
	t.Helper()
	for _, e := range p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("problem names %+v, want field %q", p.Errors, field)
}

type req struct {
	method, path string
	token        string
	body         any // string is sent as is; anything else as JSON
	header       map[string]string
	// undocumented requests (unknown routes) bypass the conformance check.
	undocumented bool
}

func do(t testing.TB, r req) response {
	t.Helper()
	res, err := send(r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// send makes a request and returns its answer; unlike do it may run on any goroutine.
func send(r req) (response, error) {
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(r.method, sys.APIURL+r.path, body)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	c := client
	if r.undocumented {
		c = http.DefaultClient
	}
	res, err := c.Do(hr)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}, nil
}

// concurrently sends the n requests that request(i) makes all at once and returns
// their statuses, in order.
func concurrently(t *testing.T, n int, request func(i int) req) []int {
	t.Helper()
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := send(request(i))
			statuses[i], errs[i] = res.Status, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return statuses
}

func login(t testing.TB, email, password string) string {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": email, "password": password}})
	if res.Status != 200 {
		t.Fatalf("login %s: %d %s", email, res.Status, res.Body)
	}
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	res.json(t, &tok)
	return tok.AccessToken
}

// admin signs in as the seeded platform admin once for the whole run.
func admin(t testing.TB) string {
	t.Helper()
	adminOnce.Do(func() { adminToken = login(t, adminEmail, adminPassword) })
	if adminToken == "" {
		t.Fatal("admin sign-in failed earlier")
	}
	return adminToken
}

// userAt creates a console user with role at node directly through the store and
// Cognito (invitations come with the identity issue) and signs them in.
func userAt(t testing.TB, role tree.Role, node nodes.Item) (token, id string) {
	t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", role, time.Now().UnixNano())
	id, err := signin.EnsureUser(context.Background(), st, cognito, poolID, signin.NewUser{
		Email: email, Password: "User-Passw0rd-Test", FirstName: "Test", LastName: string(role),
		Role: role, Node: node,
	})
	if err != nil {
		t.Fatal(err)
	}
	return login(t, email, "User-Passw0rd-Test"), id
}

// unique makes a name no other test uses.
func unique(prefix string) string { return fmt.Sprintf("%s %d", prefix, time.Now().UnixNano()) }

// eventually retries check until it passes or the deadline passes.
func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
