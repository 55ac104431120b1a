package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"opsconsole/shared/api"
)

// Every receiver here is an httptest server on 127.0.0.1 that the test starts: the
// only host the local system's LOCAL_WEBHOOK_ALLOW lets through.

// hook is one request a receiver got.
type hook struct {
	ID, Type  string
	Header    http.Header
	Body      []byte
	Envelope  hookEnvelope
	Signature string
	// done is closed when the sender gives up on the request.
	done <-chan struct{}
}

func newWebhook(secret string) (*standardwebhooks.Webhook, error) {
	return standardwebhooks.NewWebhook(secret)
}

type hookEnvelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// receiver is a webhook receiver on loopback. answer decides each answer to an event
// (not to the challenge, which it answers right unless challenge says otherwise).
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []hook
	// challenge answers a webhook.verification (nil: the right answer).
	challenge func(w http.ResponseWriter, challenge string)
	// answer answers every other event; n counts the requests with that webhook-id so far.
	answer func(w http.ResponseWriter, h hook, n int)
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hook{ID: req.Header.Get("webhook-id"), Header: req.Header.Clone(), Body: body, Signature: req.Header.Get("webhook-signature"), done: req.Context().Done()}
		_ = json.Unmarshal(body, &h.Envelope)
		h.Type = h.Envelope.Type
		r.mu.Lock()
		n := 0
		for _, g := range r.got {
			if g.ID == h.ID {
				n++
			}
		}
		r.got = append(r.got, h)
		challenge, answer := r.challenge, r.answer
		r.mu.Unlock()
		if h.Type == "webhook.verification" {
			var d struct {
				Challenge string `json:"challenge"`
			}
			_ = json.Unmarshal(h.Envelope.Data, &d)
			if challenge != nil {
				challenge(w, d.Challenge)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"challenge": %q}`, d.Challenge)
			return
		}
		if answer != nil {
			answer(w, h, n)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) set(f func(w http.ResponseWriter, h hook, n int)) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

// events are the requests of event type typ ("" for every one but the challenges).
func (r *receiver) events(typ string) []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hook
	for _, h := range r.got {
		if (typ == "" && h.Type != "webhook.verification") || h.Type == typ {
			out = append(out, h)
		}
	}
	return out
}

// about is the requests whose resource is id.
func (r *receiver) about(id string) []hook {
	var out []hook
	for _, h := range r.events("") {
		var d struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		}
		_ = json.Unmarshal(h.Envelope.Data, &d)
		if d.Resource.ID == id {
			out = append(out, h)
		}
	}
	return out
}

type webhookEndpoint struct {
	ID                string   `json:"id"`
	NodeID            string   `json:"nodeId"`
	Status            string   `json:"status"`
	URL               string   `json:"url"`
	EventTypes        []string `json:"eventTypes"`
	Version           int      `json:"version"`
	Secret            string   `json:"secret"`
	VerificationError string   `json:"verificationError"`
	LastError         string   `json:"lastError"`
	FailingSince      string   `json:"failingSince"`
}

type webhookDelivery struct {
	ID        string `json:"id"`
	EventID   string `json:"eventId"`
	EventType string `json:"eventType"`
	Status    string `json:"status"`
	Attempts  []struct {
		At         string `json:"at"`
		StatusCode int    `json:"statusCode"`
		Error      string `json:"error"`
	} `json:"attempts"`
}

func createEndpoint(t *testing.T, token, nodeID, url string, types ...string) webhookEndpoint {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/webhook-endpoints", token: token, body: map[string]any{"nodeId": nodeID, "url": url, "eventTypes": types, "description": "e2e"}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", res.Status, res.Body)
	}
	var e webhookEndpoint
	res.json(t, &e)
	return e
}

func getEndpoint(t *testing.T, token, id string) webhookEndpoint {
	t.Helper()
	var e webhookEndpoint
	res := do(t, req{method: "GET", path: "/v1/webhook-endpoints/" + id, token: token})
	res.expect(t, 200)
	res.json(t, &e)
	return e
}

// endpointIs waits until endpoint id has status.
func endpointIs(t *testing.T, token, id, status string, within time.Duration) webhookEndpoint {
	t.Helper()
	var e webhookEndpoint
	eventually(t, within, func() error {
		if e = getEndpoint(t, token, id); e.Status != status {
			return fmt.Errorf("endpoint %s is %s (%s%s), not %s", id, e.Status, e.VerificationError, e.LastError, status)
		}
		return nil
	})
	return e
}

// activeEndpoint registers rcv on nodeID for types and waits until it is verified.
func activeEndpoint(t *testing.T, token, nodeID string, rcv *receiver, types ...string) webhookEndpoint {
	t.Helper()
	e := createEndpoint(t, token, nodeID, rcv.srv.URL+"/hooks", types...)
	if e.Status != "pending" || !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("created endpoint %+v", e)
	}
	secret := e.Secret
	e = endpointIs(t, token, e.ID, "active", 20*time.Second)
	e.Secret = secret
	return e
}

func deliveries(t *testing.T, token, endpointID, query string) []webhookDelivery {
	t.Helper()
	var p struct {
		Items []webhookDelivery `json:"items"`
	}
	res := do(t, req{method: "GET", path: "/v1/webhook-endpoints/" + endpointID + "/deliveries?limit=100" + query, token: token})
	res.expect(t, 200)
	res.json(t, &p)
	return p.Items
}

// verifies checks h with the official Standard Webhooks library and secret, and its
// body against the OpenAPI document's schema of its type.
func verifies(t *testing.T, h hook, secret string) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.Body, h.Header); err != nil {
		t.Errorf("%s %s does not verify with the official library: %v", h.Type, h.ID, err)
	}
	if h.ID != h.Envelope.ID {
		t.Errorf("webhook-id %s is not the envelope's id %s", h.ID, h.Envelope.ID)
	}
	if err := checker.CheckWebhook(h.Type, h.Body); err != nil {
		t.Error(err)
	}
}

func waitHooks(t *testing.T, within time.Duration, what string, n func() int, want int) {
	t.Helper()
	eventually(t, within, func() error {
		if got := n(); got < want {
			return fmt.Errorf("%d %s, want %d", got, what, want)
		}
		return nil
	})
}

func TestWebhookChallenge(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	good := newReceiver(t)
	ep := activeEndpoint(t, tok, part.ID, good, "organization.*")
	if ep.VerificationError != "" {
		t.Errorf("verificationError %q on an active endpoint", ep.VerificationError)
	}
	verifies(t, good.events("webhook.verification")[0], ep.Secret)

	wrong := newReceiver(t)
	wrong.challenge = func(w http.ResponseWriter, c string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"challenge": %q}`, c+"x")
	}
	silent := newReceiver(t)
	silent.challenge = func(w http.ResponseWriter, c string) { w.WriteHeader(http.StatusOK) }
	var pending []webhookEndpoint
	for _, r := range []*receiver{wrong, silent} {
		e := createEndpoint(t, tok, part.ID, r.srv.URL+"/hooks", "*")
		eventually(t, 20*time.Second, func() error {
			if got := getEndpoint(t, tok, e.ID); got.VerificationError == "" {
				return fmt.Errorf("no verification error yet: %+v", got)
			}
			return nil
		})
		pending = append(pending, e)
	}
	// The node's endpoints by status: the two that answer badly are pending.
	var listed struct {
		Items []webhookEndpoint `json:"items"`
	}
	eventually(t, 10*time.Second, func() error {
		do(t, req{method: "GET", path: "/v1/webhook-endpoints?status=pending&nodeId=" + part.ID, token: tok}).json(t, &listed)
		if len(listed.Items) != 2 {
			return fmt.Errorf("%d pending endpoints listed, want 2", len(listed.Items))
		}
		return nil
	})
	org := createOrganization(t, tok, part.ID, unique("Hooked Org"))
	waitHooks(t, 20*time.Second, "organization.created", func() int { return len(good.about(org.ID)) }, 1)
	for i, r := range []*receiver{wrong, silent} {
		if e := getEndpoint(t, tok, pending[i].ID); e.Status != "pending" {
			t.Errorf("endpoint answering badly is %s", e.Status)
		}
		if got := r.events(""); len(got) != 0 {
			t.Errorf("a pending endpoint received %d events", len(got))
		}
	}
	// Asked again, the wrong one still fails; the right answer then makes it active.
	wrong.mu.Lock()
	wrong.challenge = nil
	wrong.mu.Unlock()
	do(t, req{method: "POST", path: "/v1/webhook-endpoints/" + pending[0].ID + "/verify", token: tok}).expect(t, 202)
	endpointIs(t, tok, pending[0].ID, "active", 20*time.Second)
}

func TestWebhookDeliversTheBranchOnly(t *testing.T) {
	tok := admin(t)
	dist, part := partnerTree(t)
	other := createPartner(t, tok, dist.ID, unique("Other P"))
	rcv := newReceiver(t)
	ep := activeEndpoint(t, tok, part.ID, rcv, "organization.*", "company.created")
	elsewhere := createOrganization(t, tok, other.ID, unique("Elsewhere"))
	org := createOrganization(t, tok, part.ID, unique("Mine"))
	waitHooks(t, 20*time.Second, "organization.created", func() int { return len(rcv.about(org.ID)) }, 1)
	h := rcv.about(org.ID)[0]
	if h.Type != "organization.created" {
		t.Fatalf("got %s", h.Type)
	}
	verifies(t, h, ep.Secret)
	var data struct {
		Resource map[string]any `json:"resource"`
		Actor    struct {
			UserID string `json:"userId"`
		} `json:"actor"`
		Changes []struct {
			Field string `json:"field"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(h.Envelope.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Resource["id"] != org.ID || data.Resource["type"] != "organization" || data.Actor.UserID != me(t, tok).ID || len(data.Changes) == 0 {
		t.Errorf("data %s", h.Envelope.Data)
	}
	if got := rcv.about(elsewhere.ID); len(got) != 0 {
		t.Errorf("an organization of another partner reached the endpoint: %d", len(got))
	}
	// A type not subscribed to does not arrive; a company below does.
	patched := do(t, req{method: "PATCH", path: "/v1/organizations/" + org.ID, token: tok, body: map[string]any{"name": unique("Renamed")}})
	patched.expect(t, 200)
	co := createCompany(t, tok, org.ID, unique("Below"))
	waitHooks(t, 20*time.Second, "company.created", func() int { return len(rcv.about(co.ID)) }, 1)
	waitHooks(t, 20*time.Second, "organization.updated", func() int { return len(rcv.about(org.ID)) }, 2)
	t.Run("data.version is the version the ETag shows after the change", func(t *testing.T) {
		etag := patched.Header.Get("ETag")
		var created, updated *hook
		for _, h := range rcv.about(org.ID) {
			switch h.Type {
			case "organization.created":
				created = &h
			case "organization.updated":
				updated = &h
			}
		}
		if created == nil || updated == nil {
			t.Fatalf("created %v, updated %v", created != nil, updated != nil)
		}
		var c, u struct {
			Version *int `json:"version"`
		}
		if err := json.Unmarshal(created.Envelope.Data, &c); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(updated.Envelope.Data, &u); err != nil {
			t.Fatal(err)
		}
		if c.Version == nil || *c.Version != org.Version {
			t.Errorf("organization.created data.version %v, want %d (the create's)", c.Version, org.Version)
		}
		if u.Version == nil || api.ETag(*u.Version) != etag {
			t.Errorf("organization.updated data.version %v, want the PATCH's ETag %s", u.Version, etag)
		}
		if g := do(t, req{method: "GET", path: "/v1/organizations/" + org.ID, token: tok}); g.Header.Get("ETag") != etag {
			t.Errorf("GET ETag %s, want %s", g.Header.Get("ETag"), etag)
		}
	})
	for _, h := range rcv.events("") {
		if !strings.HasPrefix(h.Type, "organization.") && h.Type != "company.created" {
			t.Errorf("%s arrived, not subscribed to", h.Type)
		}
		verifies(t, h, ep.Secret)
	}
}

func TestWebhookRetriesUntilTheReceiverRecovers(t *testing.T) {
	tok := admin(t)
	_, part := partnerTree(t)
	rcv := newReceiver(t)
	ep := activeEndpoint(t, tok, part.ID, rcv, "organization.created")
	rcv.set(func(w http.ResponseWriter, h hook, n int) {
		if n < 3 {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	org := createOrganization(t, tok, part.ID, unique("Retried"))
	waitHooks(t, 30*time.Second, "attempts", func() int { return len(rcv.about(org.ID)) }, 4)
	got := rcv.about(org.ID)
	for _, h := range got {
		if h.ID != got[0].ID {
			t.Errorf("webhook-id changed between attempts: %s, %s", got[0].ID, h.ID)
		}
		verifies(t, h, ep.Secret)
	}
	eventually(t, 10*time.Second, func() error {
		for _, d := range deliveries(t, tok, ep.ID, "&eventType=organization.created") {
			if d.EventID != got[0].ID {
				continue
			}
			if d.Status != "succeeded" || len(d.Attempts) != 4 {
				return fmt.Errorf("delivery %s with %d attempts", d.Status, len(d.Attempts))
			}
			for i, a := range d.Attempts {
				want := 500
				if i == 3 {
					want = 200
				}
				if a.StatusCode != want {
					t.Errorf("attempt %d: %d, want %d", i, a.StatusCode, want)
				}
			}
			return nil
		}
		return fmt.Errorf("no delivery of %s in the log", got[0].ID)
	})
	time.Sleep(2 * time.Second)
	if n := len(rcv.about(org.ID)); n != 4 {
		t.Errorf("%d attempts after success, want 4", n)
	}
}
