package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The signatures are checked by the official Standard Webhooks library, not by code
// of ours.
func TestSignVerifiesWithTheOfficialLibrary(t *testing.T) {
	old, fresh := NewSecret(), NewSecret()
	if !strings.HasPrefix(old, "whsec_") || len(old) != len("whsec_")+44 {
		t.Fatalf("secret %q is not whsec_ and the base64 of 32 bytes", old)
	}
	body := []byte(`{"id":"evt_1","type":"organization.created","timestamp":"2026-12-02T03:04:05Z","data":{}}`)
	now := time.Now()
	sig, err := Sign("evt_1", now, body, []string{fresh, old})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, "evt_1")
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, sig)
	for _, s := range []string{old, fresh} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("verify with one of the two secrets: %v", err)
		}
		if err := wh.Verify(append(body, ' '), h); err == nil {
			t.Error("a changed body verifies")
		}
	}
	other, _ := standardwebhooks.NewWebhook(NewSecret())
	if err := other.Verify(body, h); err == nil {
		t.Error("another secret verifies")
	}
	// The library's own signature is ours.
	wh, _ := standardwebhooks.NewWebhook(fresh)
	want, _ := wh.Sign("evt_1", now, body)
	if got, _ := Sign("evt_1", now, body, []string{fresh}); got != want {
		t.Errorf("Sign = %s, the library signs %s", got, want)
	}
}

func TestCatalogAndPatterns(t *testing.T) {
	c := Catalog()
	seen := map[string]bool{}
	for _, e := range c {
		if seen[e.Type] {
			t.Errorf("%s twice", e.Type)
		}
		seen[e.Type] = true
	}
	for _, want := range []string{"organization.created", "organization.approved", "organization.signup_verified", "partner.suspended",
		"company.deleted", "end_user.deactivated", "user.invited", "license.activated", "client_service.deleted", "distributor.deletion_started", TypeTest, TypeVerification} {
		if !seen[want] {
			t.Errorf("%s missing from the catalog", want)
		}
	}
	for action, want := range map[string]string{"organization.signup-verified": "organization.signup_verified", "client-service.created": "client_service.created", "end-user.updated": "end_user.updated"} {
		if got, ok := TypeOfAction(action); !ok || got != want {
			t.Errorf("TypeOfAction(%s) = %s %v", action, got, ok)
		}
	}
	for _, action := range []string{"impersonation.started", "audit.exported", "webhook-endpoint.created", "webhook.test"} {
		if _, ok := TypeOfAction(action); ok {
			t.Errorf("%s is an event", action)
		}
	}
	for p, ok := range map[string]bool{"*": true, "organization.*": true, "organization.created": true, "client_service.*": true,
		"webhook.test": false, "webhook.*": false, "nothing.*": false, "organization.nope": false, "": false, "organization.": false} {
		if ValidPattern(p) != ok {
			t.Errorf("ValidPattern(%q) = %v", p, !ok)
		}
	}
	if !Matches([]string{"organization.*"}, "organization.created") || Matches([]string{"organization.*"}, "organizations.created") ||
		!Matches([]string{"*"}, "company.created") || Matches([]string{"company.created"}, "company.updated") {
		t.Error("Matches")
	}
}
