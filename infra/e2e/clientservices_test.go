package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/clientservices"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// clientService is a client service as the API shows it.
type clientService struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	PartnerID      string `json:"partnerId"`
	DistributorID  string `json:"distributorId"`
	Alias          string `json:"alias"`
	Language       string `json:"language"`
	Description    string `json:"description"`
	Status         string `json:"status"`
	Certificate    *struct {
		Subject           string `json:"subject"`
		Issuer            string `json:"issuer"`
		SerialNumber      string `json:"serialNumber"`
		NotBefore         string `json:"notBefore"`
		NotAfter          string `json:"notAfter"`
		SHA256Fingerprint string `json:"sha256Fingerprint"`
		ExpiresInDays     int    `json:"expiresInDays"`
	} `json:"certificate"`
	Version   int    `json:"version"`
	CreatedAt string `json:"createdAt"`
}

type clientServicePage struct {
	Items      []clientService `json:"items"`
	NextCursor *string         `json:"nextCursor"`
}

// newCertificate makes a self-signed certificate for cn valid from notBefore to
// notAfter: its PEM and the parsed certificate, what the standard library computes.
func newCertificate(cn string, notBefore, notAfter time.Time) (string, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Contoso, Ltd."}, Country: []string{"PT"}},
		NotBefore:    notBefore, NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), cert
}

func createClientService(t *testing.T, token string, body map[string]any) clientService {
	t.Helper()
	res := do(t, req{method: "POST", path: "/v1/client-services", token: token, body: body})
	if res.Status != http.StatusCreated {
		t.Fatalf("create client service %v: %d %s", body, res.Status, res.Body)
	}
	var c clientService
	res.json(t, &c)
	return c
}

// listedClientServices is the aliases of a list's query in the order listed,
// following its cursors with pages of limit.
func listedClientServices(t *testing.T, token, query string, limit int) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 200 {
		path := fmt.Sprintf("/v1/client-services?limit=%d&%s", limit, query)
		if cursor != "" {
			path += "&cursor=" + urlq(cursor)
		}
		res := do(t, req{method: "GET", path: path, token: token})
		res.expect(t, 200)
		var p clientServicePage
		res.json(t, &p)
		if p.NextCursor != nil && len(p.Items) != limit {
			t.Fatalf("%s: a page of %d before the last", query, len(p.Items))
		}
		for _, c := range p.Items {
			out = append(out, c.Alias)
		}
		if p.NextCursor == nil {
			return out
		}
		cursor = *p.NextCursor
	}
	t.Fatal("too many pages")
	return nil
}

func TestClientServices(t *testing.T) {
	root := admin(t)
	dist, part := partnerTree(t)
	org := createOrganization(t, root, part.ID, unique("CS Org"))
	other := createOrganization(t, root, part.ID, unique("CS Other"))
	company := createCompany(t, root, org.ID, unique("CS Co"))
	orgTok, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, org.ID))
	companyTok, _ := userAt(t, tree.RoleCompanyAdmin, nodeOf(t, company.ID))

	now := time.Now().UTC()
	certPEM, cert := newCertificate("shop.example.com", now.Add(-24*time.Hour), now.Add(90*24*time.Hour+time.Hour))
	svc := createClientService(t, orgTok, map[string]any{"organizationId": org.ID, "alias": "Web Shop", "language": "pt-pt",
		"description": "The storefront", "certificate": certPEM})

	t.Run("the certificate shows what the standard library computes", func(t *testing.T) {
		sum := sha256.Sum256(cert.Raw)
		c := svc.Certificate
		if c == nil || c.Subject != cert.Subject.String() || c.Issuer != cert.Issuer.String() ||
			c.NotBefore != cert.NotBefore.UTC().Format(time.RFC3339) || c.NotAfter != cert.NotAfter.UTC().Format(time.RFC3339) ||
			c.SHA256Fingerprint != hex.EncodeToString(sum[:]) || c.SerialNumber != cert.SerialNumber.Text(16) || c.ExpiresInDays != 90 {
			t.Fatalf("certificate %+v; want subject %q, fingerprint %x", c, cert.Subject.String(), sum)
		}
		if svc.Language != "pt-PT" || svc.Status != "active" || svc.OrganizationID != org.ID || svc.PartnerID != part.ID ||
			svc.DistributorID != dist.ID || svc.Version != 1 || svc.CreatedAt == "" {
			t.Fatalf("created %+v", svc)
		}
		var got struct {
			Certificate string `json:"certificate"`
		}
		do(t, req{method: "GET", path: "/v1/client-services/" + svc.ID + "/certificate", token: orgTok}).json(t, &got)
		if got.Certificate != certPEM {
			t.Fatalf("the PEM read back %q, want %q", got.Certificate, certPEM)
		}
		res := do(t, req{method: "GET", path: "/v1/client-services/" + svc.ID, token: orgTok})
		if strings.Contains(string(res.Body), "BEGIN CERTIFICATE") {
			t.Fatalf("the view shows the PEM: %s", res.Body)
		}
	})

	t.Run("a broken PEM is a 400 naming certificate", func(t *testing.T) {
		_, second := newCertificate("second", now, now.AddDate(1, 0, 0))
		chain := certPEM + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: second.Raw}))
		key := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n"
		for name, bad := range map[string]any{
			"junk": "not a certificate", "a private key": key, "a key after it": certPEM + key, "a chain": chain,
			"trailing junk": certPEM + "junk", "a broken body": strings.Replace(certPEM, "M", "!", 5),
			"not DER": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")})), "a number": 7,
		} {
			t.Run(name, func(t *testing.T) {
				do(t, req{method: "POST", path: "/v1/client-services", token: orgTok, body: map[string]any{
					"organizationId": org.ID, "alias": unique("Broken"), "language": "en", "certificate": bad}}).problem(t, 400, "validation").field(t, "certificate")
			})
		}
		do(t, req{method: "PATCH", path: "/v1/client-services/" + svc.ID, token: orgTok, body: map[string]any{"certificate": key}}).problem(t, 400, "validation").field(t, "certificate")
	})

	t.Run("other fields are validated", func(t *testing.T) {
		for field, body := range map[string]map[string]any{
			"language":       {"organizationId": org.ID, "alias": "L", "language": "english"},
			"alias":          {"organizationId": org.ID, "alias": strings.Repeat("a", 101), "language": "en"},
			"description":    {"organizationId": org.ID, "alias": "D", "language": "en", "description": strings.Repeat("d", 501)},
			"status":         {"organizationId": org.ID, "alias": "S", "language": "en", "status": "inactive"},
			"organizationId": {"organizationId": company.ID, "alias": "O", "language": "en"},
		} {
			do(t, req{method: "POST", path: "/v1/client-services", token: orgTok, body: body}).problem(t, 400, "validation").field(t, field)
		}
	})

	t.Run("the alias is unique in the organization, case-insensitively", func(t *testing.T) {
		do(t, req{method: "POST", path: "/v1/client-services", token: orgTok, body: map[string]any{
			"organizationId": org.ID, "alias": "WEB SHOP", "language": "en"}}).problem(t, 409, "name-taken").field(t, "alias")
		// Another organization may use it.
		createClientService(t, root, map[string]any{"organizationId": other.ID, "alias": "Web Shop", "language": "en"})
	})

	t.Run("Idempotency-Key replays the create", func(t *testing.T) {
		body := map[string]any{"organizationId": org.ID, "alias": unique("Replayed"), "language": "en"}
		key := map[string]string{"Idempotency-Key": fmt.Sprintf("cs-%d", time.Now().UnixNano())}
		first := do(t, req{method: "POST", path: "/v1/client-services", token: orgTok, body: body, header: key})
		first.expect(t, 201)
		again := do(t, req{method: "POST", path: "/v1/client-services", token: orgTok, body: body, header: key})
		again.expect(t, 201)
		var a, b clientService
		first.json(t, &a)
		again.json(t, &b)
		if a.ID != b.ID || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %+v / %+v", a, b)
		}
		body["alias"] = "Another"
		do(t, req{method: "POST", path: "/v1/client-services", token: orgTok, body: body, header: key}).problem(t, 422, "idempotency-key-reused")
	})

	t.Run("company staff have none; other organizations are 404", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/client-services", token: companyTok}).problem(t, 403, "forbidden")
		do(t, req{method: "POST", path: "/v1/client-services", token: companyTok, body: map[string]any{"organizationId": org.ID, "alias": "X", "language": "en"}}).problem(t, 403, "forbidden")
		do(t, req{method: "POST", path: "/v1/client-services", token: orgTok, body: map[string]any{"organizationId": other.ID, "alias": "X", "language": "en"}}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/client-services?organizationId=" + other.ID, token: orgTok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/client-services?partnerId=" + part.ID, token: orgTok}).problem(t, 404, "not-found")
		do(t, req{method: "GET", path: "/v1/client-services/csv_00000000000000000000000000", token: root}).problem(t, 404, "not-found")
	})

	t.Run("PATCH checks the body, then If-Match; a rename frees the old alias", func(t *testing.T) {
		path := "/v1/client-services/" + svc.ID
		stale := map[string]string{"If-Match": `"9"`}
		do(t, req{method: "PATCH", path: path, token: orgTok, body: map[string]any{"language": "x"}, header: stale}).problem(t, 400, "validation").field(t, "language")
		do(t, req{method: "PATCH", path: path, token: orgTok, body: map[string]any{"description": "New"}, header: stale}).problem(t, 412, "stale")
		do(t, req{method: "PATCH", path: path, token: orgTok, body: map[string]any{"organizationId": other.ID}}).problem(t, 400, "validation").field(t, "organizationId")
		res := do(t, req{method: "PATCH", path: path, token: orgTok, body: map[string]any{"alias": "Web Store", "certificate": nil},
			header: map[string]string{"If-Match": `"1"`}})
		res.expect(t, 200)
		var c clientService
		res.json(t, &c)
		if c.Alias != "Web Store" || c.Certificate != nil || c.Version != 2 || res.Header.Get("ETag") != `"2"` {
			t.Fatalf("patched %+v", c)
		}
		do(t, req{method: "GET", path: path + "/certificate", token: orgTok}).problem(t, 404, "not-found")
		// The old alias is free, the new one taken.
		freed := createClientService(t, orgTok, map[string]any{"organizationId": org.ID, "alias": "web shop", "language": "en"})
		do(t, req{method: "PATCH", path: "/v1/client-services/" + freed.ID, token: orgTok, body: map[string]any{"alias": "WEB STORE"}}).problem(t, 409, "name-taken").field(t, "alias")
		// A change of case only keeps the claim.
		do(t, req{method: "PATCH", path: path, token: orgTok, body: map[string]any{"alias": "web store"}}).expect(t, 200)
	})

	t.Run("activate and deactivate", func(t *testing.T) {
		path := "/v1/client-services/" + svc.ID
		do(t, req{method: "POST", path: path + "/activate", token: orgTok}).problem(t, 409, "invalid-transition")
		do(t, req{method: "POST", path: path + "/deactivate", token: orgTok, header: map[string]string{"If-Match": `"1"`}}).problem(t, 412, "stale")
		do(t, req{method: "POST", path: path + "/deactivate", token: orgTok}).expect(t, 200)
		do(t, req{method: "POST", path: path + "/deactivate", token: orgTok}).problem(t, 409, "invalid-transition")
		if got := listedClientServices(t, orgTok, "status=inactive", 10); !slices.Equal(got, []string{"web store"}) {
			t.Fatalf("status=inactive lists %v", got)
		}
		do(t, req{method: "POST", path: path + "/activate", token: orgTok}).expect(t, 200)
	})

	t.Run("delete frees the alias, audited with the fingerprint", func(t *testing.T) {
		c := createClientService(t, orgTok, map[string]any{"organizationId": org.ID, "alias": "Doomed", "language": "en", "certificate": certPEM})
		path := "/v1/client-services/" + c.ID
		do(t, req{method: "DELETE", path: path, token: orgTok, header: map[string]string{"If-Match": `"3"`}}).problem(t, 412, "stale")
		do(t, req{method: "DELETE", path: path, token: orgTok}).expect(t, 204)
		do(t, req{method: "GET", path: path, token: orgTok}).problem(t, 404, "not-found")
		createClientService(t, orgTok, map[string]any{"organizationId": org.ID, "alias": "doomed", "language": "en"})
		eventually(t, 20*time.Second, func() error {
			res := do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + c.ID, token: root})
			body := string(res.Body)
			if !strings.Contains(body, "client-service.deleted") || !strings.Contains(body, "client-service.created") ||
				!strings.Contains(body, c.Certificate.SHA256Fingerprint) {
				return fmt.Errorf("audit %s", body)
			}
			if strings.Contains(body, "BEGIN CERTIFICATE") {
				t.Fatalf("the audit log shows the PEM: %s", body)
			}
			return nil
		})
	})
}

// TestClientServiceLists: filters and paging across an organization, a partner's
// branch, a distributor's and the platform return exactly the expected services, in
// alias order.
func TestClientServiceLists(t *testing.T) {
	root := admin(t)
	d1 := createDistributor(t, root, unique("CSL D1"))
	p1 := createPartner(t, root, d1.ID, unique("CSL P1"))
	p2 := createPartner(t, root, d1.ID, unique("CSL P2"))
	d2 := createDistributor(t, root, unique("CSL D2"))
	p3 := createPartner(t, root, d2.ID, unique("CSL P3"))
	o1 := createOrganization(t, root, p1.ID, unique("CSL O1"))
	o2 := createOrganization(t, root, p1.ID, unique("CSL O2"))
	o3 := createOrganization(t, root, p2.ID, unique("CSL O3"))
	o4 := createOrganization(t, root, p3.ID, unique("CSL O4"))
	// A prefix no other test uses makes the platform's list exact.
	tag := fmt.Sprintf("cs%d", time.Now().UnixNano())
	type spec struct{ org, alias, status string }
	specs := []spec{
		{o1.ID, "Alpha", "active"}, {o1.ID, "beta", "inactive"}, {o1.ID, "Gamma", "active"},
		{o2.ID, "alpha two", "active"}, {o2.ID, "Delta", "inactive"},
		{o3.ID, "Epsilon", "active"}, {o3.ID, "alpine", "inactive"},
		{o4.ID, "Zeta", "active"}, {o4.ID, "ALPHA", "inactive"},
	}
	type listed struct{ org, alias, status string }
	var all []listed
	for _, s := range specs {
		alias := tag + " " + s.alias
		c := createClientService(t, root, map[string]any{"organizationId": s.org, "alias": alias, "language": "en"})
		if s.status == "inactive" {
			do(t, req{method: "POST", path: "/v1/client-services/" + c.ID + "/deactivate", token: root}).expect(t, 200)
		}
		all = append(all, listed{s.org, alias, s.status})
	}
	orgTok, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, o1.ID))
	p1Tok, _ := userAt(t, tree.RolePartnerAdmin, nodeOf(t, p1.ID))
	d1Tok, _ := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, d1.ID))

	// want is the aliases of the services that pass keep, in the API's order (lower
	// alias, then id: no two of these share a lower alias within one scope's list
	// except across organizations, which the id then orders).
	partnerOf := map[string]string{o1.ID: p1.ID, o2.ID: p1.ID, o3.ID: p2.ID, o4.ID: p3.ID}
	distOf := map[string]string{p1.ID: d1.ID, p2.ID: d1.ID, p3.ID: d2.ID}
	want := func(keep func(l listed) bool) []string {
		var out []string
		for _, l := range all {
			if keep(l) {
				out = append(out, l.alias)
			}
		}
		slices.SortStableFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		return out
	}
	q := "q=" + urlq(tag)
	for _, c := range []struct {
		name, token, query string
		keep               func(l listed) bool
	}{
		{"an organization's own", orgTok, q, func(l listed) bool { return l.org == o1.ID }},
		{"an organization's own, without q", orgTok, "", func(l listed) bool { return l.org == o1.ID }},
		{"an organization's inactive", orgTok, "status=inactive", func(l listed) bool { return l.org == o1.ID && l.status == "inactive" }},
		{"an organization's by prefix", orgTok, "q=" + urlq(tag+" AL"), func(l listed) bool { return l.org == o1.ID && strings.HasPrefix(strings.ToLower(l.alias), tag+" al") }},
		{"a partner's branch", p1Tok, "", func(l listed) bool { return partnerOf[l.org] == p1.ID }},
		{"a partner's active", p1Tok, "status=active", func(l listed) bool { return partnerOf[l.org] == p1.ID && l.status == "active" }},
		{"a partner's by prefix and status", p1Tok, "status=active&q=" + urlq(tag+" alp"), func(l listed) bool {
			return partnerOf[l.org] == p1.ID && l.status == "active" && strings.HasPrefix(strings.ToLower(l.alias), tag+" alp")
		}},
		{"a partner's one organization", p1Tok, "organizationId=" + o2.ID, func(l listed) bool { return l.org == o2.ID }},
		{"a partner's one organization, inactive", p1Tok, "organizationId=" + o2.ID + "&status=inactive", func(l listed) bool { return l.org == o2.ID && l.status == "inactive" }},
		{"a distributor's", d1Tok, "", func(l listed) bool { return distOf[partnerOf[l.org]] == d1.ID }},
		{"a distributor's inactive", d1Tok, "status=inactive", func(l listed) bool { return distOf[partnerOf[l.org]] == d1.ID && l.status == "inactive" }},
		{"a distributor's by partner", d1Tok, "partnerId=" + p2.ID, func(l listed) bool { return partnerOf[l.org] == p2.ID }},
		{"the platform's", root, q, func(l listed) bool { return true }},
		{"the platform's active", root, q + "&status=active", func(l listed) bool { return l.status == "active" }},
		{"the platform's by prefix", root, "q=" + urlq(tag+" alpha"), func(l listed) bool { return strings.HasPrefix(strings.ToLower(l.alias), tag+" alpha") }},
		{"the platform's by partner and status", root, "partnerId=" + p3.ID + "&status=inactive", func(l listed) bool { return partnerOf[l.org] == p3.ID && l.status == "inactive" }},
		{"the platform's by partner and organization", root, "partnerId=" + p1.ID + "&organizationId=" + o1.ID + "&status=active", func(l listed) bool { return l.org == o1.ID && l.status == "active" }},
		{"an organization admin naming its own organization and partner", orgTok, "organizationId=" + o1.ID + "&partnerId=" + p1.ID, func(l listed) bool { return l.org == o1.ID }},
		{"an organization outside the partner named", root, "partnerId=" + p2.ID + "&organizationId=" + o1.ID, func(l listed) bool { return false }},
	} {
		t.Run(c.name, func(t *testing.T) {
			exp := want(c.keep)
			for _, limit := range []int{1, 2, 100} {
				got := listedClientServices(t, c.token, c.query, limit)
				if !slices.EqualFunc(got, exp, func(a, b string) bool { return strings.EqualFold(a, b) }) || len(got) != len(exp) {
					t.Fatalf("limit %d: listed %q, want %q", limit, got, exp)
				}
				// Same lower alias across organizations: compare as sets too.
				if !sameSet(got, exp) {
					t.Fatalf("limit %d: listed %q, want %q", limit, got, exp)
				}
			}
		})
	}
	t.Run("bad queries", func(t *testing.T) {
		do(t, req{method: "GET", path: "/v1/client-services?status=gone", token: p1Tok}).problem(t, 400, "validation").field(t, "status")
		do(t, req{method: "GET", path: "/v1/client-services?partnerId=" + o1.ID, token: p1Tok}).problem(t, 400, "validation").field(t, "partnerId")
		do(t, req{method: "GET", path: "/v1/client-services?organizationId=x", token: p1Tok}).problem(t, 400, "validation").field(t, "organizationId")
		do(t, req{method: "GET", path: "/v1/client-services?q=%20", token: p1Tok}).problem(t, 400, "validation").field(t, "q")
		do(t, req{method: "GET", path: "/v1/client-services?distributorId=" + d1.ID, token: root}).problem(t, 400, "validation").field(t, "distributorId")
		do(t, req{method: "GET", path: "/v1/client-services?partnerId=" + p3.ID, token: d1Tok}).problem(t, 404, "not-found")
		var p clientServicePage
		do(t, req{method: "GET", path: "/v1/client-services?limit=1", token: p1Tok}).json(t, &p)
		// A cursor is bound to its caller and query.
		do(t, req{method: "GET", path: "/v1/client-services?limit=1&status=active&cursor=" + urlq(*p.NextCursor), token: p1Tok}).problem(t, 400, "invalid-cursor")
		do(t, req{method: "GET", path: "/v1/client-services?limit=1&cursor=" + urlq(*p.NextCursor), token: d1Tok}).problem(t, 400, "invalid-cursor")
	})
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// TestClientServicesGoWithTheirOrganization: an organization's delete (plain or by
// a cascade) removes its client services and their alias claims, through the node
// sweeper, each with its audit entry.
func TestClientServicesGoWithTheirOrganization(t *testing.T) {
	root := admin(t)
	_, part := partnerTree(t)
	plain := createOrganization(t, root, part.ID, unique("CS Plain"))
	a := createClientService(t, root, map[string]any{"organizationId": plain.ID, "alias": "Goes", "language": "en"})
	do(t, req{method: "DELETE", path: "/v1/organizations/" + plain.ID, token: root}).expect(t, 204)

	org := createOrganization(t, root, part.ID, unique("CS Cascade"))
	b := createClientService(t, root, map[string]any{"organizationId": org.ID, "alias": "Below", "language": "en"})
	do(t, req{method: "DELETE", path: "/v1/partners/" + part.ID + "?cascade=true", token: root}).expect(t, 202)

	for _, c := range []clientService{a, b} {
		eventually(t, 60*time.Second, func() error {
			if res := do(t, req{method: "GET", path: "/v1/client-services/" + c.ID, token: root}); res.Status != 404 {
				return fmt.Errorf("client service %s: %d", c.Alias, res.Status)
			}
			// Nothing is left: the item, its listing copy, its alias claim.
			for _, key := range []store.Item{clientservices.Key(c.ID), clientservices.ListingKey(c.ID), clientservices.UniqueAliasKey(c.OrganizationID, c.Alias)} {
				var v map[string]any
				if err := st.Get(t0(), key, &v); !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("%v is left (%v)", key["PK"], err)
				}
			}
			return nil
		})
		eventually(t, 20*time.Second, func() error {
			res := do(t, req{method: "GET", path: "/v1/audit-logs?targetId=" + c.ID, token: root})
			if !strings.Contains(string(res.Body), "client-service.deleted") {
				return fmt.Errorf("audit %s", res.Body)
			}
			return nil
		})
	}
}
