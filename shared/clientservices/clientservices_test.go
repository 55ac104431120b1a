package clientservices

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/audit"
	"opsconsole/shared/tree"
)

// testCert makes a self-signed certificate valid from notBefore to notAfter, and
// its PEM, the DER and the private key's PEM.
func testCert(t *testing.T, cn string, notBefore, notAfter time.Time) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1f2e3d4c5b),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Contoso, Ltd."}, Country: []string{"PT"}},
		NotBefore:    notBefore, NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func TestParseCertificate(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cert, certPEM, keyPEM := testCert(t, "svc.example.com", from, from.AddDate(1, 0, 0))
	got, stored, fe := ParseCertificate("\n  "+certPEM+"\n\n", "certificate")
	if fe != nil {
		t.Fatal(fe)
	}
	sum := sha256.Sum256(cert.Raw)
	want := Certificate{
		Subject: cert.Subject.String(), Issuer: cert.Issuer.String(), SerialNumber: "1f2e3d4c5b",
		NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z", SHA256Fingerprint: hex.EncodeToString(sum[:]),
	}
	if got != want || stored != certPEM {
		t.Fatalf("parsed %+v\nwant   %+v (stored %q)", got, want, stored)
	}
	_, other, _ := testCert(t, "other", from, from.AddDate(1, 0, 0))
	for name, s := range map[string]string{
		"empty":                   "",
		"not PEM":                 "hello",
		"a private key":           keyPEM,
		"a key after the cert":    certPEM + keyPEM,
		"a chain of two":          certPEM + other,
		"trailing junk":           certPEM + "junk",
		"leading junk":            "junk\n" + certPEM,
		"a broken body":           strings.Replace(certPEM, "M", "*", 3),
		"not a certificate's DER": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})),
		"headers":                 string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: cert.Raw})),
		"too long":                certPEM + strings.Repeat(" ", MaxCertificate),
		"unterminated":            certPEM[:len(certPEM)-30],
	} {
		if _, _, fe := ParseCertificate(s, "certificate"); fe == nil || fe.Field != "certificate" {
			t.Errorf("%s: accepted (%v)", name, fe)
		}
	}
}

func TestExpiresInDays(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		notAfter string
		want     int
	}{
		{"2026-06-11T12:00:00Z", 10},
		{"2026-06-11T11:59:59Z", 9},
		{"2026-06-01T13:00:00Z", 0},
		{"2026-06-01T11:00:00Z", -1},
		{"2026-05-01T12:00:00Z", -31},
	} {
		if got := ExpiresInDays(c.notAfter, now); got != c.want {
			t.Errorf("ExpiresInDays(%s) = %d, want %d", c.notAfter, got, c.want)
		}
	}
}

func TestCleanLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"en": "en", "EN": "en", "pt-PT": "pt-PT", "pt-pt": "pt-PT", "zh-hant-tw": "zh-Hant-TW",
		"es-419": "es-419", "sl-rozaj-biske": "sl-rozaj-biske", "de-CH-1901": "de-CH-1901",
		"en-US-u-ca-gregory": "en-US-u-ca-gregory", "en-a-bbb-x-a-ccc": "en-a-bbb-x-a-ccc",
		"zh-yue-HK": "zh-yue-HK", "en-x-private": "en-x-private",
	} {
		got, fe := CleanLanguage("language", in)
		if fe != nil || got != want {
			t.Errorf("CleanLanguage(%q) = %q, %v; want %q", in, got, fe, want)
		}
	}
	for _, in := range []string{"", "e", "english-language", "en_US", "en-", "-en", "en--US", "en-US-", "pt PT",
		"en-a", "en-u-ca-u-nu", "de-1901-1901", "x-private", "en-" + strings.Repeat("abcdefgh-", 4) + "x", "123", "en-US-a"} {
		if _, fe := CleanLanguage("language", in); fe == nil || fe.Field != "language" {
			t.Errorf("CleanLanguage(%q) accepted", in)
		}
	}
}

func decode(t *testing.T, s string) body {
	t.Helper()
	var b body
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadEdit(t *testing.T) {
	for _, c := range []struct {
		name, body string
		creating   bool
		bad        []string // the fields named, sorted
	}{
		{"minimal", `{"organizationId":"x","alias":"Svc","language":"en"}`, true, nil},
		{"with a description", `{"organizationId":"x","alias":"Svc","language":"pt-PT","description":"Line one\nline two"}`, true, nil},
		{"certificate null on create", `{"organizationId":"x","alias":"Svc","language":"en","certificate":null}`, true, nil},
		{"alias and language required", `{"organizationId":"x"}`, true, []string{"alias", "language"}},
		{"empty alias", `{"organizationId":"x","alias":" ","language":"en"}`, true, []string{"alias"}},
		{"alias too long", `{"organizationId":"x","alias":"` + strings.Repeat("a", 101) + `","language":"en"}`, true, []string{"alias"}},
		{"alias of 100", `{"organizationId":"x","alias":"` + strings.Repeat("é", 100) + `","language":"en"}`, true, nil},
		{"bad language", `{"organizationId":"x","alias":"A","language":"english"}`, true, []string{"language"}},
		{"description too long", `{"organizationId":"x","alias":"A","language":"en","description":"` + strings.Repeat("d", 501) + `"}`, true, []string{"description"}},
		{"description control character", `{"organizationId":"x","alias":"A","language":"en","description":"a\u0000"}`, true, []string{"description"}},
		{"certificate not PEM", `{"organizationId":"x","alias":"A","language":"en","certificate":"nope"}`, true, []string{"certificate"}},
		{"certificate a number", `{"organizationId":"x","alias":"A","language":"en","certificate":1}`, true, []string{"certificate"}},
		{"status is an action", `{"organizationId":"x","alias":"A","language":"en","status":"inactive"}`, true, []string{"status"}},
		{"unknown", `{"organizationId":"x","alias":"A","language":"en","smtp":{}}`, true, []string{"smtp"}},
		{"patch of the organization", `{"organizationId":"x"}`, false, []string{"organizationId"}},
		{"patch language null", `{"language":null}`, false, []string{"language"}},
		{"patch removes the certificate", `{"certificate":null}`, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errs := readEdit(decode(t, c.body), c.creating)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.bad) {
				t.Fatalf("fields at fault %v, want %v (%v)", got, c.bad, errs)
			}
		})
	}
}

func TestIndexKeys(t *testing.T) {
	it := Item{ID: "csv_1", ParentID: "org_o", Path: []string{tree.PlatformID, "dst_d", "prt_p", "org_o"},
		Name: "Web Shop", Status: StatusInactive, PEM: "pem"}
	it.SetIndexKeys()
	sk := "web shop" + sep + "csv_1"
	l := it.Listing()
	for _, c := range [][2]string{
		{it.GSI1PK, "CLIENTSERVICES#org_o"}, {it.GSI2PK, "CLIENTSERVICES#org_o#inactive"},
		{it.GSI3PK, "CLIENTSERVICES#prt_p"}, {it.GSI4PK, "CLIENTSERVICES#prt_p#inactive"},
		{it.GSI5PK, "CLIENTSERVICES#dst_d"}, {it.GSI6PK, "CLIENTSERVICES#dst_d#inactive"},
		{l.GSI5PK, "CLIENTSERVICES#platform"}, {l.GSI6PK, "CLIENTSERVICES#platform#inactive"},
		{it.GSI1SK, sk}, {it.GSI2SK, sk}, {it.GSI3SK, sk}, {it.GSI4SK, sk}, {it.GSI5SK, sk}, {it.GSI6SK, sk},
		{l.GSI5SK, sk}, {l.GSI6SK, sk}, {l.SK, ListingSK}, {l.Type, ListingType}, {l.PEM, ""}, {l.GSI1PK + l.GSI3PK, ""},
	} {
		if c[0] != c[1] {
			t.Errorf("key %q, want %q", c[0], c[1])
		}
	}
	if v := it.View(time.Now()); v.OrganizationID != "org_o" || v.PartnerID != "prt_p" || v.DistributorID != "dst_d" || v.Alias != "Web Shop" {
		t.Fatalf("view %+v", v)
	}
}

func TestListInput(t *testing.T) {
	for _, c := range []struct {
		kind   tree.Kind
		id     string
		status string
		index  string
	}{
		{tree.KindOrganization, "org_o", "", "GSI1"},
		{tree.KindOrganization, "org_o", StatusActive, "GSI2"},
		{tree.KindPartner, "prt_p", "", "GSI3"},
		{tree.KindPartner, "prt_p", StatusInactive, "GSI4"},
		{tree.KindDistributor, "dst_d", "", "GSI5"},
		{tree.KindDistributor, "dst_d", StatusActive, "GSI6"},
		{tree.KindPlatform, tree.PlatformID, "", "GSI5"},
		{tree.KindPlatform, tree.PlatformID, StatusActive, "GSI6"},
	} {
		for _, prefix := range []string{"", "Web"} {
			in, keys, err := listInput(tree.Node{ID: c.id, Kind: c.kind}, c.status, prefix)
			if err != nil {
				t.Fatal(err)
			}
			if *in.IndexName != c.index || keys[2] != c.index+"PK" || in.FilterExpression != nil {
				t.Errorf("%s %s: index %s, keys %v, filter %v", c.kind, c.status, *in.IndexName, keys, in.FilterExpression)
			}
			if got := strings.Contains(*in.KeyConditionExpression, "begins_with"); got != (prefix != "") {
				t.Errorf("%s %q: key condition %s", c.kind, prefix, *in.KeyConditionExpression)
			}
			if pk := in.ExpressionAttributeValues[":0"]; pk == nil {
				t.Errorf("no partition value")
			}
		}
	}
}

func TestAuditShowsTheFingerprint(t *testing.T) {
	from := time.Now().Add(-time.Hour)
	_, certPEM, _ := testCert(t, "svc", from, from.AddDate(0, 0, 30))
	c, stored, fe := ParseCertificate(certPEM, "certificate")
	if fe != nil {
		t.Fatal(fe)
	}
	it := Item{ID: "csv_1", Name: "A", Path: []string{tree.PlatformID, "dst_d", "prt_p", "org_o"}, ParentID: "org_o",
		PEM: stored, Attrs: Attrs{Language: "en", Certificate: &c}}
	ch := Change("created", nil, &it)
	found := false
	for _, d := range audit.Diff(ch.Before, ch.After) {
		if d.Field == "certificate" {
			found = d.After == c.SHA256Fingerprint
		}
		if s, ok := d.After.(string); ok && strings.Contains(s, "BEGIN") {
			t.Fatalf("the audit record shows the PEM: %+v", d)
		}
	}
	if !found || ch.Action != "client-service.created" || !slices.Equal(ch.Scope, it.Path) {
		t.Fatalf("change %+v", ch)
	}
	if v := it.View(time.Now()); v.Certificate == nil || v.Certificate.ExpiresInDays != 29 {
		t.Fatalf("view certificate %+v", v.Certificate)
	}
}

func TestID(t *testing.T) {
	if id := NewID(); !ValidID(id) {
		t.Fatalf("NewID %q is not a ValidID", id)
	}
	for _, id := range []string{"", "csv_", "csv_" + strings.Repeat("A", 26), "lic_" + strings.Repeat("a", 26), "csv_" + strings.Repeat("a", 27)} {
		if ValidID(id) {
			t.Errorf("ValidID(%q)", id)
		}
	}
}
