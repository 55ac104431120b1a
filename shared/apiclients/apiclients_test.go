package apiclients

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/identity"
	"opsconsole/shared/tree"
)

var now = time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)

func body(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var b map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadEdit(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		create     bool
		fields     []string // at fault; none when valid
	}{
		{"a valid create", `{"nodeId":"x","name":" Sync ","role":"partner_admin","readOnly":true,"expiresAt":"2027-01-01T00:00:00Z","allowedIps":["10.1.2.3/8"]}`, true, nil},
		{"name and role are required", `{"nodeId":"x"}`, true, []string{"name", "role"}},
		{"an unknown role", `{"name":"a","role":"root"}`, true, []string{"role"}},
		{"role is not updatable", `{"role":"partner_admin"}`, false, []string{"role"}},
		{"an unknown field", `{"name":"a","colour":"red"}`, false, []string{"colour"}},
		{"expiresAt in the past", `{"expiresAt":"2020-01-01T00:00:00Z"}`, false, []string{"expiresAt"}},
		{"expiresAt null clears it on update", `{"expiresAt":null}`, false, nil},
		{"expiresAt null on create", `{"name":"a","role":"end_user","expiresAt":null}`, true, []string{"expiresAt"}},
		{"a bad CIDR", `{"allowedIps":["10.0.0.0/33"]}`, false, []string{"allowedIps"}},
		{"readOnly not a boolean", `{"readOnly":"yes"}`, false, []string{"readOnly"}},
		{"an empty name", `{"name":"  "}`, false, []string{"name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := ReadEdit(body(t, tc.body), tc.create, now)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") && !(len(got) == len(tc.fields) && sameSet(got, tc.fields)) {
				t.Fatalf("fields at fault %v, want %v", got, tc.fields)
			}
		})
	}
	e, _ := ReadEdit(body(t, `{"allowedIps":["10.1.2.3/8","10.0.0.0/8","2001:db8::1/32"]}`), false, now)
	if got := strings.Join(*e.AllowedIPs, " "); got != "10.0.0.0/8 2001:db8::/32" {
		t.Fatalf("allowedIps %q", got)
	}
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !strings.Contains(","+strings.Join(b, ",")+",", ","+x+",") {
			return false
		}
	}
	return true
}

func TestRoleFits(t *testing.T) {
	for _, tc := range []struct {
		role    tree.Role
		kind    tree.Kind
		creator tree.Role
		want    bool
	}{
		{tree.RolePartnerAdmin, tree.KindPartner, tree.RolePartnerAdmin, true},
		{tree.RolePartnerAdmin, tree.KindPartner, tree.RolePlatformAdmin, true},
		{tree.RoleDistributorAdmin, tree.KindPartner, tree.RolePlatformAdmin, false},
		{tree.RoleEndUser, tree.KindCompany, tree.RoleCompanyAdmin, true},
		{tree.RoleCompanyAdmin, tree.KindCompany, tree.RoleEndUser, false},
		{tree.RoleOrganizationAdmin, tree.KindOrganization, tree.RoleCompanyAdmin, false},
	} {
		if got := RoleFits(tc.role, tc.kind, tc.creator); got != tc.want {
			t.Errorf("%s at %s by %s: %v, want %v", tc.role, tc.kind, tc.creator, got, tc.want)
		}
	}
}

func TestRotationOverlap(t *testing.T) {
	it := identity.ClientItem{SecretHash: identity.HashSecret("old"), Status: identity.ClientActive}
	r := Rotate(it, identity.HashSecret("new"), false, now)
	for _, tc := range []struct {
		secret string
		at     time.Time
		want   bool
	}{
		{"new", now, true}, {"old", now, true}, {"old", now.Add(23 * time.Hour), true},
		{"old", now.Add(24 * time.Hour), false}, {"new", now.Add(48 * time.Hour), true}, {"wrong", now, false},
	} {
		if got := r.SecretMatches(tc.secret, tc.at); got != tc.want {
			t.Errorf("%s at +%s: %v, want %v", tc.secret, tc.at.Sub(now), got, tc.want)
		}
	}
	if ViewOf(r, now).PreviousSecretExpiresAt == nil || ViewOf(r, now.Add(25*time.Hour)).PreviousSecretExpiresAt != nil {
		t.Error("previousSecretExpiresAt")
	}
	at := Rotate(it, identity.HashSecret("new"), true, now)
	if at.SecretMatches("old", now) || !at.SecretMatches("new", now) {
		t.Error("immediately: the old secret still works")
	}
}

func TestCognitoPassword(t *testing.T) {
	a, b := CognitoPassword([]byte("k1"), "u@x.invalid"), CognitoPassword([]byte("k2"), "u@x.invalid")
	if a == b || a != CognitoPassword([]byte("k1"), "u@x.invalid") || len(a) < 12 {
		t.Fatalf("%q %q", a, b)
	}
}

func TestParseTokenRequest(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	basic := func(id, secret string) http.Header {
		h := form.Clone()
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
		return h
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		err    string
		id     string
	}{
		{"form fields", form, "grant_type=client_credentials&client_id=cli_a&client_secret=s", "", "cli_a"},
		{"Basic, form-encoded parts", basic("cli_a", "s%3Ax"), "grant_type=client_credentials", "", "cli_a"},
		{"JSON", http.Header{"Content-Type": {"application/json"}}, `{"grant_type":"client_credentials","client_id":"cli_a","client_secret":"s"}`, "", "cli_a"},
		{"another grant", form, "grant_type=password", ErrUnsupportedGrantType, ""},
		{"no grant", form, "client_id=a&client_secret=b", ErrInvalidRequest, ""},
		{"a repeated parameter", form, "grant_type=client_credentials&client_id=a&client_id=b", ErrInvalidRequest, ""},
		{"both ways", basic("a", "b"), "grant_type=client_credentials&client_id=a", ErrInvalidRequest, ""},
		{"no credentials", form, "grant_type=client_credentials", ErrInvalidClient, ""},
		{"another scheme", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Bearer x"}}, "grant_type=client_credentials", ErrInvalidClient, ""},
		{"text/plain", http.Header{"Content-Type": {"text/plain"}}, "grant_type=client_credentials", ErrInvalidRequest, ""},
		{"a JSON number", http.Header{"Content-Type": {"application/json"}}, `{"grant_type":1}`, ErrInvalidRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, e := ParseTokenRequest(tc.header, []byte(tc.body))
			switch {
			case tc.err == "" && e != nil:
				t.Fatalf("error %+v", *e)
			case tc.err != "" && (e == nil || e.Error != tc.err):
				t.Fatalf("error %v, want %s", e, tc.err)
			case tc.err == "" && r.ClientID != tc.id:
				t.Fatalf("client %q", r.ClientID)
			}
		})
	}
	r, _ := ParseTokenRequest(basic("cli_a", "s%3Ax"), []byte("grant_type=client_credentials"))
	if r.ClientSecret != "s:x" || !r.Basic {
		t.Fatalf("%+v", r)
	}
}
