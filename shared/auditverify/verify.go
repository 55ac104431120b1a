// Package auditverify checks an audit log export against the node's signed digests
// and the digests' public key: the algorithm of the README's "Verifying the audit
// log", which infra/cmd/audit-verify runs. It needs nothing but the three files.
package auditverify

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"opsconsole/shared/auditdigest"
	"opsconsole/shared/auditexport"
	"opsconsole/shared/jcs"
	"opsconsole/shared/merkle"
)

// Report is what Verify found in an export that is intact.
type Report struct {
	// Entries and Digests count the export's lines and the digests they touch.
	Entries, Digests int
	// First and Last are the times of the export's first and last entries.
	First, Last string
	// Filtered exports prove each entry, not that none is missing.
	Filtered bool
}

// line is one export line: its entry's id, time, leaf and proof.
type line struct {
	n          int
	id, at     string
	leaf       merkle.Hash
	proof      *auditdigest.Proof
	proofError error
}

// Verify checks an export (NDJSON or CSV, as GET /v1/audit-logs/exports/{id}'s link
// gives it) against digest list bodies (GET /v1/audit-logs/digests, one or more
// pages) and the public key (GET /v1/audit-logs/public-key, PEM). It answers the
// first problem, naming the export line and entry: a digest whose signature or chain
// fails, an entry changed or inserted (its proof does not lead to its digest's root),
// or removed (a leaf index missing inside the export's range).
func Verify(export io.Reader, digestBodies [][]byte, publicKeyPEM []byte) (Report, error) {
	var rep Report
	key, err := parseKey(publicKeyPEM)
	if err != nil {
		return rep, err
	}
	digests, err := checkDigests(digestBodies, key)
	if err != nil {
		return rep, err
	}
	lines, err := readExport(export)
	if err != nil {
		return rep, err
	}
	if len(lines) == 0 {
		return rep, errors.New("the export holds no entries")
	}
	at := map[string]map[int]int{} // period → index → line
	prevSK := ""
	for i, l := range lines {
		name := fmt.Sprintf("line %d (entry %s)", l.n, l.id)
		if l.proofError != nil {
			return rep, fmt.Errorf("%s: %w", name, l.proofError)
		}
		if l.proof == nil {
			return rep, fmt.Errorf("%s: no proof: its period had no digest yet when the export was written", name)
		}
		if l.proof.Filtered {
			rep.Filtered = true
		}
		d, ok := digests[l.proof.PeriodStart]
		if !ok {
			return rep, fmt.Errorf("%s: the digests given do not hold its period %s", name, l.proof.PeriodStart)
		}
		path := make([]merkle.Hash, len(l.proof.Path))
		for k, p := range l.proof.Path {
			b, err := hex.DecodeString(p)
			if err != nil || len(b) != sha256.Size {
				return rep, fmt.Errorf("%s: its proof is malformed", name)
			}
			copy(path[k][:], b)
		}
		root, _ := hex.DecodeString(d.Root)
		if merkle.Verify(l.leaf, l.proof.Index, d.Count, path, merkle.Hash(root)) != nil {
			return rep, fmt.Errorf("%s: changed or inserted: it is not leaf %d of the digest of %s", name, l.proof.Index, l.proof.PeriodStart)
		}
		if at[l.proof.PeriodStart] == nil {
			at[l.proof.PeriodStart] = map[int]int{}
		}
		if other, dup := at[l.proof.PeriodStart][l.proof.Index]; dup {
			return rep, fmt.Errorf("%s: inserted: line %d is already leaf %d of the digest of %s", name, other, l.proof.Index, l.proof.PeriodStart)
		}
		at[l.proof.PeriodStart][l.proof.Index] = l.n
		sk := l.at + "#" + l.id
		if i > 0 && sk < prevSK {
			return rep, fmt.Errorf("%s: out of order: the export is sorted by time, then id", name)
		}
		prevSK = sk
	}
	rep.Entries, rep.Digests = len(lines), len(at)
	rep.First, rep.Last = lines[0].at, lines[len(lines)-1].at
	if rep.Filtered {
		return rep, nil
	}
	// Completeness. Within one digest the leaves are in the log's order (time, then
	// id), so the leaves of an export's time range are a run of indexes: a missing
	// index inside the run is a removed entry. A digest whose first (last) leaf's time
	// lies inside the export's span must show that leaf: a removal at a digest's edge,
	// or of all its entries.
	type problem struct {
		line int
		err  error
	}
	var problems []problem
	inside := func(at string) bool { return at >= rep.First && at <= rep.Last }
	for start, d := range digests {
		idx := at[start]
		indexes := make([]int, 0, len(idx))
		for i := range idx {
			indexes = append(indexes, i)
		}
		slices.Sort(indexes)
		for k := 1; k < len(indexes); k++ {
			if indexes[k] != indexes[k-1]+1 {
				problems = append(problems, problem{idx[indexes[k]], fmt.Errorf("removed: leaf %d of the digest of %s is missing, between line %d and line %d", indexes[k-1]+1, start, idx[indexes[k-1]], idx[indexes[k]])})
				break
			}
		}
		if _, ok := idx[0]; !ok && inside(d.FirstAt) {
			problems = append(problems, problem{lineAfter(lines, d.FirstAt), fmt.Errorf("removed: leaf 0 of the digest of %s (at %s, inside the export's range) is missing", start, d.FirstAt)})
		}
		if _, ok := idx[d.Count-1]; !ok && inside(d.LastAt) {
			problems = append(problems, problem{lineAfter(lines, d.LastAt), fmt.Errorf("removed: leaf %d of the digest of %s (at %s, inside the export's range) is missing", d.Count-1, start, d.LastAt)})
		}
	}
	if len(problems) > 0 {
		slices.SortFunc(problems, func(a, b problem) int { return a.line - b.line })
		return rep, problems[0].err
	}
	return rep, nil
}

func lineAfter(lines []line, at string) int {
	for _, l := range lines {
		if l.at >= at {
			return l.n
		}
	}
	return lines[len(lines)-1].n + 1
}

func parseKey(raw []byte) (*ecdsa.PublicKey, error) {
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("the public key is not a PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the public key: %w", err)
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("the public key is not an ECDSA key")
	}
	return ec, nil
}

// checkDigests reads the digest bodies, checks each signature and the chain, and
// answers the digests by period.
func checkDigests(bodies [][]byte, key *ecdsa.PublicKey) (map[string]auditdigest.Digest, error) {
	var all []auditdigest.Digest
	for i, body := range bodies {
		var page struct {
			Items []auditdigest.Digest `json:"items"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("digests file %d: %w", i+1, err)
		}
		all = append(all, page.Items...)
	}
	if len(all) == 0 {
		return nil, errors.New("the digests files hold no digest")
	}
	slices.SortFunc(all, func(a, b auditdigest.Digest) int {
		switch {
		case a.PeriodStart < b.PeriodStart:
			return -1
		case a.PeriodStart > b.PeriodStart:
			return 1
		}
		return 0
	})
	out := map[string]auditdigest.Digest{}
	for i, d := range all {
		name := "the digest of " + d.PeriodStart
		if d.NodeID != all[0].NodeID {
			return nil, fmt.Errorf("%s is of node %s, the others of %s", name, d.NodeID, all[0].NodeID)
		}
		if _, dup := out[d.PeriodStart]; dup {
			return nil, fmt.Errorf("%s is given twice", name)
		}
		if d.SigningAlgorithm != auditdigest.SigningAlgorithm {
			return nil, fmt.Errorf("%s: signing algorithm %q, not %s", name, d.SigningAlgorithm, auditdigest.SigningAlgorithm)
		}
		sig, err := base64.StdEncoding.DecodeString(d.Signature)
		h := sha256.Sum256(d.Message())
		if err != nil || !ecdsa.VerifyASN1(key, h[:], sig) {
			return nil, fmt.Errorf("%s: the signature does not verify with the public key", name)
		}
		if r, err := hex.DecodeString(d.Root); err != nil || len(r) != sha256.Size || d.Count < 1 {
			return nil, fmt.Errorf("%s: malformed root or count", name)
		}
		if i > 0 {
			prev := all[i-1]
			switch p := ptr(d.PreviousPeriodStart); {
			case p == "":
				return nil, fmt.Errorf("%s names no previous digest, but the digest of %s comes before it", name, prev.PeriodStart)
			case p > prev.PeriodStart:
				return nil, fmt.Errorf("%s chains to the digest of %s, which the digests given do not hold (removed?)", name, p)
			case p < prev.PeriodStart:
				return nil, fmt.Errorf("%s chains to the digest of %s, skipping the digest of %s (inserted?)", name, p, prev.PeriodStart)
			case ptr(d.PreviousHash) != prev.Hash():
				return nil, fmt.Errorf("%s: the chain is broken: its previous hash is not the hash of the digest of %s", name, prev.PeriodStart)
			}
		}
		out[d.PeriodStart] = d
	}
	return out, nil
}

// readExport reads an NDJSON export (a JSON object per line) or a CSV one (its
// header first).
func readExport(r io.Reader) ([]line, error) {
	br := bufio.NewReader(r)
	first, err := br.Peek(1)
	if err != nil {
		return nil, errors.New("the export is empty")
	}
	if first[0] == '{' {
		return readNDJSON(br)
	}
	return readCSV(br)
}

func readNDJSON(r io.Reader) ([]line, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var out []line
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		if len(bytes.TrimSpace(raw)) == 0 {
			return nil, fmt.Errorf("line %d: empty", n)
		}
		var obj map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		if err := d.Decode(&obj); err != nil || d.More() {
			return nil, fmt.Errorf("line %d: not one JSON object", n)
		}
		l := line{n: n}
		l.id, _ = obj["id"].(string)
		l.at, _ = obj["at"].(string)
		if p, ok := obj[auditdigest.ProofField]; ok {
			raw, _ := json.Marshal(p)
			var proof auditdigest.Proof
			if err := json.Unmarshal(raw, &proof); err != nil {
				l.proofError = errors.New("its proof is malformed")
			}
			l.proof = &proof
			delete(obj, auditdigest.ProofField)
		}
		b, err := jcs.Value(obj)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		l.leaf = merkle.Leaf(b)
		out = append(out, l)
	}
	return out, sc.Err()
}

func readCSV(r io.Reader) ([]line, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("the CSV header: %w", err)
	}
	if !slices.Contains(header, "id") || !slices.Contains(header, auditdigest.ProofField) {
		return nil, errors.New("the CSV header names no id or proof column: not an export with proofs")
	}
	var out []line
	for n := 1; ; n++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", n, err)
		}
		e, p, err := auditexport.EntryOfCSV(header, row)
		l := line{n: n, id: e.ID, at: e.At, proof: p, proofError: err}
		if err == nil {
			if l.leaf, err = auditdigest.LeafOf(e); err != nil {
				l.proofError = err
			}
		}
		out = append(out, l)
	}
}

// Summary says what Verify checked in an intact export.
func (r Report) Summary() string {
	s := strconv.Itoa(r.Entries) + " entries from " + r.First + " to " + r.Last + " in " + strconv.Itoa(r.Digests) + " signed digests"
	if r.Filtered {
		s += "; the export is filtered, so each entry is proven but not that none is missing"
	}
	return s
}

func ptr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
