package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/infra/local"
	"opsconsole/shared/nodes"
	"opsconsole/shared/signin"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// The fixtures every test builds on: the tree's nodes, console users and their
// emails, and signing in, made through the API as a client would.

// totp computes the RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret at t.
func totp(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	s := strings.ToUpper(strings.TrimRight(secret, "="))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatalf("secret %q is not base32: %v", secret, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1_000_000)
}

// codeNow is the current code, taken far enough from the end of its 30-second step
// that the server checks it in the same step (moto accepts the current step only;
// Cognito also the one before and after).
func codeNow(t testing.TB, secret string) string {
	t.Helper()
	if left := 30 - time.Now().Unix()%30; left < 3 {
		time.Sleep(time.Duration(left)*time.Second + 100*time.Millisecond)
	}
	return totp(t, secret, time.Now())
}

// wrongCode is a 6-digit code that is none of the codes of the steps around now.
func wrongCode(t testing.TB, secret string) string {
	t.Helper()
	now := time.Now()
	near := map[string]bool{}
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		near[totp(t, secret, now.Add(d))] = true
	}
	for _, c := range []string{"000000", "111111", "123456", "999999"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

// signInAnswer is what POST /v1/auth/login and /v1/auth/challenge answer.
type signInAnswer struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int    `json:"expiresIn"`
	TokenType    string `json:"tokenType"`
	Challenge    string `json:"challenge"`
	Session      string `json:"session"`
}

type profile struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	Role        string `json:"role"`
	MFAEnrolled bool   `json:"mfaEnrolled"`
	MFARequired bool   `json:"mfaRequired"`
}

// signInUser creates an active console user with role at node (directly, as userAt
// does) without signing them in.
func signInUser(t testing.TB, role tree.Role, node nodes.Item) (email, sub string) {
	t.Helper()
	email = fmt.Sprintf("signin-%s-%d@example.com", role, time.Now().UnixNano())
	sub, err := signin.EnsureUser(context.Background(), st, cognito, poolID, signin.NewUser{
		Email: email, Password: signInPassword, FirstName: "Sign", LastName: "In", Role: role, Node: node,
	})
	if err != nil {
		t.Fatal(err)
	}
	return email, sub
}

func signIn(t testing.TB, email, password string) signInAnswer {
	t.Helper()
	var a signInAnswer
	do(t, req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": email, "password": password}}).json(t, &a)
	return a
}

func me(t testing.TB, token string) profile {
	t.Helper()
	var p profile
	do(t, req{method: "GET", path: "/v1/me", token: token}).json(t, &p)
	return p
}

// enrolTOTP enrols a TOTP authenticator for the token's user and returns its secret.
func enrolTOTP(t testing.TB, token string) string {
	t.Helper()
	var s struct{ Secret, OtpauthURI string }
	do(t, req{method: "POST", path: "/v1/me/mfa/totp", token: token}).json(t, &s)
	do(t, req{method: "POST", path: "/v1/me/mfa/totp/verify", token: token, body: map[string]string{"code": codeNow(t, s.Secret)}}).expect(t, 204)
	return s.Secret
}

// userView is a console user as the API shows them.
type userView struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Role        string `json:"role"`
	NodeID      string `json:"nodeId"`
	NodeKind    string `json:"nodeKind"`
	Status      string `json:"status"`
	MFAEnrolled bool   `json:"mfaEnrolled"`
	Version     int    `json:"version"`
}

type userPage struct {
	Items              []userView `json:"items"`
	NextCursor         *string    `json:"nextCursor"`
	NodeID             string     `json:"nodeId"`
	NodeKind           string     `json:"nodeKind"`
	ActiveAdmins       int        `json:"activeAdmins"`
	FewerThanTwoAdmins bool       `json:"fewerThanTwoAdmins"`
}

// testEmail is an address no other test uses.
func testEmail(prefix string) string {
	return fmt.Sprintf("%s-%d@example.com", prefix, time.Now().UnixNano())
}

func inviteUser(t *testing.T, token, nodeID string, role tree.Role, email string) userView {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/users", token: token, body: map[string]string{
		"email": email, "firstName": "Jane", "lastName": "Doe", "role": string(role), "nodeId": nodeID,
	}})
	if res.Status != http.StatusCreated {
		t.Fatalf("invite %s: %d %s", email, res.Status, res.Body)
	}
	var u userView
	res.json(t, &u)
	if res.Header.Get("Location") != "/v1/users/"+u.ID || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("invite headers %v", res.Header)
	}
	return u
}

// mailTo waits for the newest message to address whose subject contains subject.
func mailTo(t testing.TB, address, subject string) local.Email {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		all, err := sys.Services.Emails(t0())
		if err != nil {
			t.Fatal(err)
		}
		for i := len(all) - 1; i >= 0; i-- {
			m := all[i]
			if len(m.To) == 1 && m.To[0].Address == address && strings.Contains(m.Subject, subject) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s about %q among %d", address, subject, len(all))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailsTo counts the messages to address.
func mailsTo(t *testing.T, address string) int {
	t.Helper()
	all, err := sys.Services.Emails(t0())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range all {
		for _, to := range m.To {
			if to.Address == address {
				n++
			}
		}
	}
	return n
}

// activationToken reads the token of the newest invitation to address.
func activationToken(t testing.TB, address string) string {
	t.Helper()
	m := mailTo(t, address, "invited")
	got := activationLink.FindStringSubmatch(m.Text)
	if got == nil {
		t.Fatalf("no activation link in %q", m.Text)
	}
	return got[1]
}

func activate(t *testing.T, token, password string) response {
	t.Helper()
	return do(t, req{method: "POST", path: "/v1/auth/activate", body: map[string]string{"token": token, "password": password}})
}

// brandPartner gives a partner branding attributes, as the partner level will once
// it takes them.
func brandPartner(t *testing.T, id string, attrs map[string]string) {
	t.Helper()
	if _, err := st.UpdateOne(t0(), store.Edit(nodes.Key(id), store.Expr{
		Update: "SET #a = :a", Names: map[string]string{"#a": "attrs"},
		Values: map[string]any{":a": attrs},
	})); err != nil {
		t.Fatal(err)
	}
}

// partnerTree makes a distributor and a partner under it.
func partnerTree(t *testing.T) (dist distributor, part partner) {
	t.Helper()
	tok := admin(t)
	dist = createDistributor(t, tok, unique("Users Dist"))
	part = createPartner(t, tok, dist.ID, unique("Users Partner"))
	return dist, part
}

// node is any level's node as the API shows it.
type node struct {
	ID             string `json:"id"`
	DistributorID  string `json:"distributorId"`
	PartnerID      string `json:"partnerId"`
	OrganizationID string `json:"organizationId"`
	CompanyID      string `json:"companyId"`
	Name           string `json:"name"`
	Email          string `json:"email"`
	FirstName      string `json:"firstName"`
	LastName       string `json:"lastName"`
	Status         string `json:"status"`
	Tier           string `json:"tier"`
	MFARequired    *bool  `json:"mfaRequired"`
	OverridePsps   *bool  `json:"overridePsps"`
	Virtual        *bool  `json:"virtual"`
	ContactEmail   string `json:"contactEmail"`
	Version        int    `json:"version"`
}

type nodePage struct {
	Items      []node  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// create makes a node of resource through the API and fails the test unless it is
// created.
func create(t testing.TB, token, resource string, body map[string]any) node {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/" + resource, token: token, body: body})
	if res.Status != http.StatusCreated {
		t.Fatalf("create %s %v: %d %s", resource, body, res.Status, res.Body)
	}
	var n node
	res.json(t, &n)
	return n
}

func createOrganization(t testing.TB, token, partnerID, name string) node {
	t.Helper()
	return create(t, token, "organizations", map[string]any{"partnerId": partnerID, "name": name})
}

func createCompany(t testing.TB, token, organizationID, name string) node {
	t.Helper()
	return create(t, token, "companies", map[string]any{"organizationId": organizationID, "name": name})
}

func createEndUser(t testing.TB, token, companyID, email string) node {
	t.Helper()
	return create(t, token, "end-users", map[string]any{"companyId": companyID, "email": email, "firstName": "Erin", "lastName": "User"})
}

func listNodes(t *testing.T, token, path string) []node {
	t.Helper()
	var all []node
	for cursor := ""; ; {
		p := path
		if cursor != "" {
			p += "&cursor=" + urlq(cursor)
		}
		var page nodePage
		do(t, req{method: "GET", path: p, token: token}).json(t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
}

// eventuallyListed waits until path's list does (or does not) hold id: the indexes
// are eventually consistent.
func eventuallyListed(t *testing.T, token, path, id string, want bool) {
	t.Helper()
	eventually(t, 5*time.Second, func() error {
		if got := slices.Contains(ids(listNodes(t, token, path)), id); got != want {
			return fmt.Errorf("%s holds %s: %v, want %v", path, id, got, want)
		}
		return nil
	})
}

type partner struct {
	ID            string `json:"id"`
	DistributorID string `json:"distributorId"`
	Name          string `json:"name"`
	Status        string `json:"status"`
	Version       int    `json:"version"`
}

func createPartner(t testing.TB, token, distributorID, name string) partner {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/partners", token: token, body: map[string]string{"distributorId": distributorID, "name": name}})
	var p partner
	res.json(t, &p)
	return p
}

type distributor struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	ContactEmail string `json:"contactEmail"`
	Version      int    `json:"version"`
	CreatedAt    string `json:"createdAt"`
	UpdatedAt    string `json:"updatedAt"`
}

func createDistributor(t testing.TB, token, name string) distributor {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/distributors", token: token, body: map[string]string{"name": name}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create %q: %d %s", name, res.Status, res.Body)
	}
	var d distributor
	res.json(t, &d)
	return d
}
