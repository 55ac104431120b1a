package auditverify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"opsconsole/shared/audit"
	"opsconsole/shared/auditdigest"
	"opsconsole/shared/auditexport"
)

// A log of two periods, signed by a key made here (the digests' signature is what
// KMS's ECDSA_SHA_256 makes: DER over SHA-256 of the message); the e2e tests do the
// same against the real maker and moto's KMS.
type fixture struct {
	key     *ecdsa.PrivateKey
	pem     []byte
	entries map[string][]audit.Entry // by period start
	digests []auditdigest.Digest
}

func newFixture(t *testing.T) *fixture {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	f := &fixture{key: k, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), entries: map[string][]audit.Entry{}}
	periods := []string{"2026-12-02T10:00:00.000Z", "2026-12-02T11:00:00.000Z"}
	var prev *auditdigest.Digest
	for pi, p := range periods {
		var es []audit.Entry
		for i := range 5 {
			es = append(es, audit.Entry{
				ID: fmt.Sprintf("01P%dE%d", pi, i), At: fmt.Sprintf("2026-12-02T1%d:0%d:00.000Z", pi, i),
				Actor:  audit.Actor{UserID: "usr-1", Email: "a@example.com", Role: "partner_admin"},
				Action: "company.updated", Target: audit.Target{Type: "company", ID: "cmp_1", Name: "Acme <&>"},
				Changes: []audit.FieldChange{{Field: "name", Before: "Old", After: "Acme <&>"}, {Field: "seats", Before: 1.5, After: 1e21}},
			})
		}
		f.entries[p] = es
		tree, err := auditdigest.NewTree(es)
		if err != nil {
			t.Fatal(err)
		}
		d := auditdigest.Digest{NodeID: "org_1", PeriodStart: p, PeriodEnd: periods[0][:11] + fmt.Sprintf("1%d:00:00.000Z", pi+1),
			Count: len(es), FirstAt: es[0].At, LastAt: es[len(es)-1].At, Root: tree.Root(), SigningAlgorithm: auditdigest.SigningAlgorithm, KeyID: "arn:aws:kms:local"}
		if prev != nil {
			h := prev.Hash()
			d.PreviousPeriodStart, d.PreviousHash = &prev.PeriodStart, &h
		}
		f.sign(&d)
		f.digests = append(f.digests, d)
		prev = &f.digests[len(f.digests)-1]
	}
	return f
}

func (f *fixture) sign(d *auditdigest.Digest) {
	h := sha256.Sum256(d.Message())
	sig, _ := ecdsa.SignASN1(rand.Reader, f.key, h[:])
	d.Signature = base64.StdEncoding.EncodeToString(sig)
}

func (f *fixture) body(t *testing.T) []byte {
	b, err := json.Marshal(map[string]any{"items": f.digests, "nextCursor": nil})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lines are the NDJSON export of the entries from index `from` of the first period
// to index `to` of the second (a range cutting both periods).
func (f *fixture) ndjson(t *testing.T, from, to int) []string {
	var out []string
	for pi, d := range f.digests {
		es := f.entries[d.PeriodStart]
		tree, _ := auditdigest.NewTree(es)
		for i, e := range es {
			if (pi == 0 && i < from) || (pi == 1 && i > to) {
				continue
			}
			p, _ := tree.ProofOf(e.ID, d.PeriodStart)
			b, _ := json.Marshal(struct {
				audit.Entry
				Proof *auditdigest.Proof `json:"proof"`
			}{e, &p})
			out = append(out, string(b))
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	body := f.body(t)
	verify := func(lines []string) (Report, error) {
		return Verify(strings.NewReader(strings.Join(lines, "\n")+"\n"), [][]byte{body}, f.pem)
	}
	whole := f.ndjson(t, 0, 4)
	if rep, err := verify(whole); err != nil || rep.Entries != 10 || rep.Digests != 2 {
		t.Fatalf("the whole log: %+v, %v", rep, err)
	}
	cut := f.ndjson(t, 2, 2) // the last 3 of the first period, the first 3 of the second
	if _, err := verify(cut); err != nil {
		t.Fatalf("a range cutting both periods: %v", err)
	}
	for _, c := range []struct {
		name  string
		lines func() []string
		want  string
	}{
		{"one byte changed", func() []string {
			l := append([]string{}, whole...)
			l[3] = strings.Replace(l[3], "Acme", "Acmf", 1)
			return l
		}, "line 4 (entry 01P0E3): changed or inserted"},
		{"a number changed", func() []string {
			l := append([]string{}, whole...)
			l[6] = strings.Replace(l[6], "1.5", "1.6", 1)
			return l
		}, "line 7 (entry 01P1E1): changed or inserted"},
		{"a member added", func() []string {
			l := append([]string{}, whole...)
			l[0] = strings.Replace(l[0], `"id"`, `"extra":1,"id"`, 1)
			return l
		}, "line 1 (entry 01P0E0): changed or inserted"},
		{"one removed inside a period", func() []string {
			return append(append([]string{}, whole[:2]...), whole[3:]...)
		}, "removed: leaf 2 of the digest of 2026-12-02T10:00:00.000Z is missing, between line 2 and line 3"},
		{"the newest of a period removed", func() []string {
			return append(append([]string{}, whole[:4]...), whole[5:]...)
		}, "removed: leaf 4 of the digest of 2026-12-02T10:00:00.000Z (at 2026-12-02T10:04:00.000Z, inside the export's range) is missing"},
		{"the oldest of a period removed", func() []string {
			return append(append([]string{}, whole[:5]...), whole[6:]...)
		}, "removed: leaf 0 of the digest of 2026-12-02T11:00:00.000Z"},
		{"one inserted (a copy)", func() []string {
			return append(append([]string{}, whole[:3]...), whole[2:]...)
		}, "line 4 (entry 01P0E2): inserted: line 3 is already leaf 2"},
		{"one inserted (made up)", func() []string {
			l := append([]string{}, whole[:3]...)
			l = append(l, `{"id":"01X","at":"2026-12-02T10:02:30.000Z","actor":{"userId":"x","role":"partner_admin"},"action":"company.deleted","target":{"type":"company","id":"cmp_1"},"changes":[]}`)
			return append(l, whole[3:]...)
		}, "line 4 (entry 01X): no proof"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := verify(c.lines())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	t.Run("a digest forged, or the chain broken", func(t *testing.T) {
		g := newFixture(t)
		g.digests[1].Count = 4
		b := g.body(t)
		if _, err := Verify(strings.NewReader(strings.Join(g.ndjson(t, 0, 4), "\n")), [][]byte{b}, g.pem); err == nil || !strings.Contains(err.Error(), "signature does not verify") {
			t.Fatalf("got %v", err)
		}
		g = newFixture(t)
		h := strings.Repeat("0", 64)
		g.digests[1].PreviousHash = &h
		g.sign(&g.digests[1])
		if _, err := Verify(strings.NewReader(strings.Join(g.ndjson(t, 0, 4), "\n")), [][]byte{g.body(t)}, g.pem); err == nil || !strings.Contains(err.Error(), "chain is broken") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("CSV", func(t *testing.T) {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write(auditexport.CSVColumns)
		for _, d := range f.digests {
			tree, _ := auditdigest.NewTree(f.entries[d.PeriodStart])
			for _, e := range f.entries[d.PeriodStart] {
				row, _ := auditexport.CSVRow(e)
				p, _ := tree.ProofOf(e.ID, d.PeriodStart)
				raw, _ := json.Marshal(p)
				row[len(row)-1] = string(raw)
				w.Write(row)
			}
		}
		w.Flush()
		if _, err := Verify(bytes.NewReader(b.Bytes()), [][]byte{body}, f.pem); err != nil {
			t.Fatalf("CSV: %v", err)
		}
		changed := bytes.Replace(b.Bytes(), []byte("Acme"), []byte("Acmf"), 1)
		if _, err := Verify(bytes.NewReader(changed), [][]byte{body}, f.pem); err == nil || !strings.Contains(err.Error(), "line 1 (entry 01P0E0): changed") {
			t.Fatalf("CSV changed: %v", err)
		}
	})
}
