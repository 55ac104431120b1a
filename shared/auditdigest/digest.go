// Package auditdigest makes the audit log verifiable by the tenant, in the manner of
// CloudTrail's digest files: for each node and each period (AUDIT_DIGEST_PERIOD, an
// hour in AWS) in which entries arrived in the node's log, a digest names the node,
// the period, the count and the root of a Merkle tree (RFC 9162, shared/merkle) over
// those entries in the log's order, chains to the node's previous digest by its hash,
// and is signed with an asymmetric KMS key (ECC_NIST_P256, ECDSA_SHA_256). An export
// line carries its entry's inclusion proof, so that any part of a period can be proven
// and a removal inside an export's range shows as a gap in the leaf indexes. The
// README's "Verifying the audit log" is the algorithm in full; shared/auditverify
// implements it, and shared/auditsign makes and signs the digests (KMS lives there
// alone, so that the exporter, which reads digests, does not link it).
//
// Why a Merkle tree rather than per-entry hashes in the digest: a busy node's hour
// (the platform's partition holds every entry of the installation) can hold tens of
// thousands of entries, and 32 bytes each would outgrow DynamoDB's 400 KB item and
// the digests list; a root is 32 bytes whatever the count, and a proof about 17
// hashes for 100,000 entries.
package auditdigest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"opsconsole/shared/audit"
	"opsconsole/shared/jcs"
	"opsconsole/shared/merkle"
)

// MessageHeader is the first line of every digest's signed message; the version
// changes if the algorithm ever does.
const MessageHeader = "opsconsole-audit-digest-v1"

// SigningAlgorithm is KMS's name for the signature (ECDSA over P-256 with SHA-256,
// an ASN.1 DER signature).
const SigningAlgorithm = "ECDSA_SHA_256"

// Digest is one node's digest of one period, as GET /v1/audit-logs/digests shows it.
type Digest struct {
	NodeID string `json:"nodeId" dynamodbav:"nodeId"`
	// PeriodStart and PeriodEnd bound the period of arrival, [start, end).
	PeriodStart string `json:"periodStart" dynamodbav:"periodStart"`
	PeriodEnd   string `json:"periodEnd" dynamodbav:"periodEnd"`
	// Count is the number of entries (the tree's leaves).
	Count int `json:"count" dynamodbav:"count"`
	// FirstAt and LastAt are the times of the first and last leaves (a late entry's
	// time lies before the period): an export whose time range holds one of them must
	// hold that leaf, which makes a removal at a digest's edge visible.
	FirstAt string `json:"firstAt" dynamodbav:"firstAt"`
	LastAt  string `json:"lastAt" dynamodbav:"lastAt"`
	// Root is the Merkle tree's root, lower-case hex.
	Root string `json:"root" dynamodbav:"root"`
	// PreviousPeriodStart and PreviousHash name the node's previous digest (nil for
	// its first): its period and the SHA-256 of its message, hex.
	PreviousPeriodStart *string `json:"previousPeriodStart" dynamodbav:"previousPeriodStart"`
	PreviousHash        *string `json:"previousHash" dynamodbav:"previousHash"`
	// SigningAlgorithm, KeyID (the KMS key's ARN) and Signature (base64 of the DER
	// signature over Message).
	SigningAlgorithm string `json:"signingAlgorithm" dynamodbav:"signingAlgorithm"`
	KeyID            string `json:"keyId" dynamodbav:"keyId"`
	Signature        string `json:"signature" dynamodbav:"signature"`
}

// Message is the text the signature covers: the header, then one name:value line per
// field, each line ended by a newline ("" for a first digest's previous fields).
func (d Digest) Message() []byte {
	var b strings.Builder
	line := func(k, v string) { b.WriteString(k + ":" + v + "\n") }
	b.WriteString(MessageHeader + "\n")
	line("nodeId", d.NodeID)
	line("periodStart", d.PeriodStart)
	line("periodEnd", d.PeriodEnd)
	line("count", strconv.Itoa(d.Count))
	line("firstAt", d.FirstAt)
	line("lastAt", d.LastAt)
	line("root", d.Root)
	line("previousPeriodStart", deref(d.PreviousPeriodStart))
	line("previousHash", deref(d.PreviousHash))
	return []byte(b.String())
}

// Hash is the SHA-256 of the digest's message, hex: what the next digest chains to.
func (d Digest) Hash() string {
	h := sha256.Sum256(d.Message())
	return hex.EncodeToString(h[:])
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Proof is an export line's inclusion proof: the digest (by its period) whose tree
// holds the entry, the entry's leaf index, and the audit path, hex, leaf to root.
type Proof struct {
	PeriodStart string   `json:"periodStart"`
	Index       int      `json:"index"`
	Path        []string `json:"path"`
	// Filtered is set when the export had filters (action, targetType, actorId): its
	// entries are a subset, so gaps in the indexes are expected there.
	Filtered bool `json:"filtered,omitempty"`
}

// ProofField is the export line's member that holds the proof; the leaf is the line
// without it.
const ProofField = "proof"

// EntryBytes is what an entry's leaf hashes: the entry as the list and the NDJSON
// export show it (JSON, changes never null), in RFC 8785 canonical form.
func EntryBytes(e audit.Entry) ([]byte, error) {
	if e.Changes == nil {
		e.Changes = []audit.FieldChange{}
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return jcs.Canonical(raw)
}

// LeafOf is the leaf hash of an entry.
func LeafOf(e audit.Entry) (merkle.Hash, error) {
	b, err := EntryBytes(e)
	if err != nil {
		return merkle.Hash{}, err
	}
	return merkle.Leaf(b), nil
}

// Tree is one digest's leaves, with where each entry (by id) sits.
type Tree struct {
	Leaves []merkle.Hash
	Index  map[string]int
}

// NewTree is the tree of entries, in the log's order.
func NewTree(entries []audit.Entry) (Tree, error) {
	t := Tree{Leaves: make([]merkle.Hash, len(entries)), Index: make(map[string]int, len(entries))}
	for i, e := range entries {
		l, err := LeafOf(e)
		if err != nil {
			return t, fmt.Errorf("entry %s: %w", e.ID, err)
		}
		t.Leaves[i], t.Index[e.ID] = l, i
	}
	return t, nil
}

// Root is the tree's root, hex.
func (t Tree) Root() string {
	r := merkle.Root(t.Leaves)
	return hex.EncodeToString(r[:])
}

// ProofOf is the proof of the entry id in the tree of the digest of period start;
// false when the tree does not hold it.
func (t Tree) ProofOf(id, start string) (Proof, bool) {
	i, ok := t.Index[id]
	if !ok {
		return Proof{}, false
	}
	path := merkle.Proof(t.Leaves, i)
	p := Proof{PeriodStart: start, Index: i, Path: make([]string, len(path))}
	for k, h := range path {
		p.Path[k] = hex.EncodeToString(h[:])
	}
	return p, true
}
