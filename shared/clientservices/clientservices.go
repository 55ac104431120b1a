// Package clientservices is an organization's client-facing services
// (/v1/client-services): each belongs to one organization (its organizationId) and has
// an alias unique in that organization (case-insensitive), a configuration language
// (a BCP 47 tag), a description, a status (active or inactive, changed by the activate
// and deactivate actions) and optionally an X.509 certificate, kept as PEM.
//
// A client service is two items, written and removed together in every transaction:
//   - CLIENTSERVICE#<id> / CLIENTSERVICE, the service itself, listed in the partitions
//     of its organization (GSI1, GSI2 with the status), its partner (GSI3, GSI4) and its
//     distributor (GSI5, GSI6);
//   - CLIENTSERVICE#<id> / PLATFORM, a listing copy of its listed fields, in the
//     platform's partitions (GSI5, GSI6).
//
// Every partition is ScopeKey(<scope id>[, status]) with the sort key
// "<lower alias>\x01<id>", so that every list (a scope, a status or none, an alias
// prefix or none) is one Query of one partition, in alias order. The copy exists
// because four scopes with and without a status need eight partitions, and an item
// has at most six (one per GSI); no index was added to the table. The PEM is a
// top-level attribute no index projects: lists carry the certificate's facts (under
// attrs), never its PEM.
package clientservices

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// The statuses.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Statuses lists every status, which the list filters on.
var Statuses = []string{StatusActive, StatusInactive}

// Kind names client services in problems and audit entries.
const Kind = "client-service"

// The type attributes of the two items.
const (
	ItemType    = "client-service"
	ListingType = "client-service-listing"
)

// The sort keys of the two items.
const (
	SK        = "CLIENTSERVICE"
	ListingSK = "PLATFORM"
)

// Bounds of the fields.
const (
	MaxAlias       = 100
	MaxDescription = 500
	MaxLanguage    = 35
	// MaxCertificate bounds the PEM: one certificate is a few kilobytes; the bound
	// keeps the item far below DynamoDB's 400 KB.
	MaxCertificate = 16384
)

// PK is the partition key of client service id (both its items).
func PK(id string) string { return "CLIENTSERVICE#" + id }

// Key is the primary key of client service id.
func Key(id string) store.Item { return store.Key(PK(id), SK) }

// SMTPKey is the key of client service id's mail settings (shared/smtpsettings),
// removed with the service.
func SMTPKey(id string) store.Item { return store.Key(PK(id), nodes.SMTPSK) }

// ListingKey is the primary key of client service id's listing copy.
func ListingKey(id string) store.Item { return store.Key(PK(id), ListingSK) }

// idPrefix starts every client service id; the rest is a lower-case ULID.
const idPrefix = "csv_"

// NewID makes a new client service id.
func NewID() string { return nodes.NewPrefixedID(idPrefix) }

// ValidID reports whether id could be a client service's id; anything else is
// answered like a missing one without a read.
func ValidID(id string) bool { return nodes.ValidPrefixedID(idPrefix, id) }

// Certificate is what is shown of a certificate, computed when it was stored (the
// facts never change with the PEM) and kept under attrs so that lists show it.
type Certificate struct {
	Subject      string `dynamodbav:"subject" json:"subject"`
	Issuer       string `dynamodbav:"issuer" json:"issuer"`
	SerialNumber string `dynamodbav:"serialNumber" json:"serialNumber"`
	NotBefore    string `dynamodbav:"notBefore" json:"notBefore"`
	NotAfter     string `dynamodbav:"notAfter" json:"notAfter"`
	// SHA256Fingerprint is the lower-case hex SHA-256 of the DER, without colons.
	SHA256Fingerprint string `dynamodbav:"sha256Fingerprint" json:"sha256Fingerprint"`
}

// Attrs are a client service's own fields, under attrs (every index projects it).
type Attrs struct {
	Language    string       `dynamodbav:"language"`
	Description string       `dynamodbav:"description"`
	Certificate *Certificate `dynamodbav:"certificate,omitempty"`
}

// Item is a client service as stored (and, with Type ListingType, its listing copy,
// which has no PEM and only the GSI5/GSI6 keys).
type Item struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Type string `dynamodbav:"type"`
	ID   string `dynamodbav:"id"`
	// ParentID is the organization's id, Path its lineage, root first and the
	// organization last: platform, distributor, partner, organization.
	ParentID string   `dynamodbav:"parentId"`
	Path     []string `dynamodbav:"path"`
	// Name is the alias (the attribute every index projects as the thing's name).
	Name   string `dynamodbav:"name"`
	Status string `dynamodbav:"status"`
	Attrs  Attrs  `dynamodbav:"attrs"`
	// PEM is the certificate as stored; no index projects it.
	PEM string `dynamodbav:"pem,omitempty"`
	// Config holds the general configurations changed from their defaults (Catalog);
	// no index projects it, and the listing copy has none.
	Config    Config `dynamodbav:"config,omitempty"`
	Version   int    `dynamodbav:"version"`
	CreatedAt string `dynamodbav:"createdAt"`
	UpdatedAt string `dynamodbav:"updatedAt"`
	GSI1PK    string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK    string `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK    string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK    string `dynamodbav:"GSI2SK,omitempty"`
	GSI3PK    string `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK    string `dynamodbav:"GSI3SK,omitempty"`
	GSI4PK    string `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK    string `dynamodbav:"GSI4SK,omitempty"`
	GSI5PK    string `dynamodbav:"GSI5PK,omitempty"`
	GSI5SK    string `dynamodbav:"GSI5SK,omitempty"`
	GSI6PK    string `dynamodbav:"GSI6PK,omitempty"`
	GSI6SK    string `dynamodbav:"GSI6SK,omitempty"`
}

// lineageID is the id at depth i of the lineage (0 the platform … 3 the organization).
func (it Item) lineageID(i int) string {
	if i < len(it.Path) {
		return it.Path[i]
	}
	return ""
}

// DistributorID, PartnerID and OrganizationID are the service's ancestors.
func (it Item) DistributorID() string  { return it.lineageID(1) }
func (it Item) PartnerID() string      { return it.lineageID(2) }
func (it Item) OrganizationID() string { return it.ParentID }

// PolicyNode is the client service as the policy sees it: a thing below its
// organization, so that a caller reaches it exactly when the caller's subtree holds
// the organization, and one outside reads "not found", like a missing one.
func (it Item) PolicyNode() tree.Node {
	return tree.Node{ID: "client-service#" + it.ID, Kind: Kind, Path: it.Path}
}

// sep joins the parts of a sort key; it sorts before every character an alias may hold.
const sep = "\x01"

// AliasKey is the case-insensitive form of an alias, for search, order and uniqueness.
func AliasKey(alias string) string { return strings.ToLower(alias) }

// ScopeKey is the partition that lists the client services below the node scopeID
// (an organization, a partner, a distributor or the platform), of status ("" for
// any). Which index holds it follows from the scope's kind (Index).
func ScopeKey(scopeID, status string) string {
	k := "CLIENTSERVICES#" + scopeID
	if status != "" {
		k += "#" + status
	}
	return k
}

// Index is the index whose partitions list a scope of kind, without and with a
// status: GSI1/GSI2 an organization's, GSI3/GSI4 a partner's, GSI5/GSI6 a
// distributor's and (on the listing copies) the platform's.
func Index(kind tree.Kind, byStatus bool) string {
	n := map[tree.Kind]int{tree.KindOrganization: 1, tree.KindPartner: 3, tree.KindDistributor: 5, tree.KindPlatform: 5}[kind]
	if byStatus {
		n++
	}
	return fmt.Sprintf("GSI%d", n)
}

// SetIndexKeys derives the index attributes of the service's item from its lineage,
// alias and status.
func (it *Item) SetIndexKeys() {
	sk := AliasKey(it.Name) + sep + it.ID
	it.GSI1PK, it.GSI1SK = ScopeKey(it.OrganizationID(), ""), sk
	it.GSI2PK, it.GSI2SK = ScopeKey(it.OrganizationID(), it.Status), sk
	it.GSI3PK, it.GSI3SK = ScopeKey(it.PartnerID(), ""), sk
	it.GSI4PK, it.GSI4SK = ScopeKey(it.PartnerID(), it.Status), sk
	it.GSI5PK, it.GSI5SK = ScopeKey(it.DistributorID(), ""), sk
	it.GSI6PK, it.GSI6SK = ScopeKey(it.DistributorID(), it.Status), sk
}

// Listing is the service's listing copy: its listed fields (no PEM) in the platform's
// partitions.
func (it Item) Listing() Item {
	c := it
	c.SK, c.Type, c.PEM, c.Config = ListingSK, ListingType, "", nil
	sk := AliasKey(it.Name) + sep + it.ID
	c.GSI1PK, c.GSI1SK, c.GSI2PK, c.GSI2SK = "", "", "", ""
	c.GSI3PK, c.GSI3SK, c.GSI4PK, c.GSI4SK = "", "", "", ""
	c.GSI5PK, c.GSI5SK = ScopeKey(tree.PlatformID, ""), sk
	c.GSI6PK, c.GSI6SK = ScopeKey(tree.PlatformID, it.Status), sk
	return c
}

// UniqueAliasPK is the partition key of the unique-key item that holds alias in
// organization orgID.
func UniqueAliasPK(orgID, alias string) string {
	return "UNIQUE#client-service-alias#" + orgID + "#" + AliasKey(alias)
}

// UniqueAliasKey is the key of that item.
func UniqueAliasKey(orgID, alias string) store.Item {
	return store.Key(UniqueAliasPK(orgID, alias), nodes.UniqueSK)
}

// CertificateView is a certificate as the API shows it: the stored facts and the days
// left until notAfter, computed when read.
type CertificateView struct {
	Certificate
	ExpiresInDays int `json:"expiresInDays"`
}

// View is a client service as the API shows it.
type View struct {
	ID             string           `json:"id"`
	OrganizationID string           `json:"organizationId"`
	PartnerID      string           `json:"partnerId"`
	DistributorID  string           `json:"distributorId"`
	Alias          string           `json:"alias"`
	Language       string           `json:"language"`
	Description    string           `json:"description"`
	Status         string           `json:"status"`
	Certificate    *CertificateView `json:"certificate,omitempty"`
	Version        int              `json:"version"`
	CreatedAt      string           `json:"createdAt"`
	UpdatedAt      string           `json:"updatedAt"`
}

// ExpiresInDays is the number of whole days from now until notAfter (an RFC 3339
// stamp), rounded down: 0 on the last day, negative once expired.
func ExpiresInDays(notAfter string, now time.Time) int {
	t, err := time.Parse(time.RFC3339, notAfter)
	if err != nil {
		return 0
	}
	return int(math.Floor(t.Sub(now).Hours() / 24))
}

// View is the client service as shown at now.
func (it Item) View(now time.Time) View {
	v := View{
		ID: it.ID, OrganizationID: it.OrganizationID(), PartnerID: it.PartnerID(), DistributorID: it.DistributorID(),
		Alias: it.Name, Language: it.Attrs.Language, Description: it.Attrs.Description, Status: it.Status,
		Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
	if c := it.Attrs.Certificate; c != nil {
		v.Certificate = &CertificateView{Certificate: *c, ExpiresInDays: ExpiresInDays(c.NotAfter, now)}
	}
	return v
}

// auditFields are the fields the audit log compares: the certificate as its
// fingerprint, never its PEM.
func auditFields(it *Item) map[string]any {
	if it == nil {
		return nil
	}
	m := map[string]any{
		"organizationId": it.ParentID, "alias": it.Name, "language": it.Attrs.Language,
		"description": it.Attrs.Description, "status": it.Status,
	}
	if c := it.Attrs.Certificate; c != nil {
		m["certificate"] = c.SHA256Fingerprint
	}
	return m
}

// ParseCertificate reads a PEM that must hold exactly one CERTIFICATE block (no
// headers) and nothing else but white space around it, and the X.509 certificate it
// encodes. It gives the facts shown and the PEM re-encoded as stored. Any other block
// (a private key, a second certificate of a chain) or anything else is refused: a
// client service presents one certificate, and a private key must never be stored.
func ParseCertificate(s string, field string) (Certificate, string, *problem.FieldError) {
	bad := func(msg string) (Certificate, string, *problem.FieldError) {
		fe := problem.Field(field, msg)
		return Certificate{}, "", &fe
	}
	if len(s) > MaxCertificate {
		return bad(fmt.Sprintf("must be at most %d characters", MaxCertificate))
	}
	data := bytes.TrimSpace([]byte(s))
	// pem.Decode skips text before the first block: refuse it here.
	if !bytes.HasPrefix(data, []byte("-----BEGIN ")) {
		return bad("must be a PEM-encoded X.509 certificate (-----BEGIN CERTIFICATE-----)")
	}
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return bad("must be a PEM-encoded X.509 certificate (-----BEGIN CERTIFICATE-----)")
	case block.Type != "CERTIFICATE":
		return bad("must hold one CERTIFICATE block, not " + block.Type)
	case len(block.Headers) > 0:
		return bad("must hold a CERTIFICATE block without headers")
	case len(bytes.TrimSpace(rest)) > 0:
		return bad("must hold exactly one CERTIFICATE block and nothing else (no chain, key or other text)")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return bad("is not a valid X.509 certificate")
	}
	if y := cert.NotAfter.UTC().Year(); y < 1 || y > 9999 {
		return bad("has a validity outside years 0001 to 9999")
	}
	sum := sha256.Sum256(cert.Raw)
	return Certificate{
		Subject: cert.Subject.String(), Issuer: cert.Issuer.String(),
		SerialNumber: cert.SerialNumber.Text(16),
		NotBefore:    nodes.Stamp(cert.NotBefore), NotAfter: nodes.Stamp(cert.NotAfter),
		SHA256Fingerprint: hex.EncodeToString(sum[:]),
	}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})), nil
}

// LanguagePattern is RFC 5646's langtag (BCP 47) syntax: a language (2–3 letters
// with up to three extended subtags; the 4–8 letter forms are reserved, and none is
// registered, so they are refused), an optional script (4 letters)
// and region (2 letters or 3 digits), variants, extensions and a private use part.
// The OpenAPI document states the same pattern. Subtags are not checked against the
// IANA registry: a well-formed tag is accepted.
const LanguagePattern = `^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WYZa-wyz](-[A-Za-z0-9]{2,8})+)*(-[Xx](-[A-Za-z0-9]{1,8})+)?$`

var languageShape = regexp.MustCompile(LanguagePattern)

// CleanLanguage checks a BCP 47 tag (LanguagePattern, at most MaxLanguage characters,
// no repeated variant or extension singleton, as RFC 5646 requires of a valid tag)
// and gives it in its canonical case: language and variants lower-case, script title
// case, region upper case (pt-pt is stored as pt-PT).
func CleanLanguage(field, s string) (string, *problem.FieldError) {
	bad := problem.Field(field, "must be a BCP 47 language tag such as en or pt-PT")
	if len(s) > MaxLanguage || !languageShape.MatchString(s) {
		return "", &bad
	}
	parts := strings.Split(strings.ToLower(s), "-")
	seen := map[string]bool{}
	ext, private := false, false
	for i, p := range parts {
		switch {
		case i == 0:
		case private:
			// The private use part is free-form.
		case len(p) == 1:
			// A singleton starts an extension or the private use part: what follows
			// keeps lower case, and an extension's singleton may not repeat.
			private = p == "x"
			if seen[p] {
				return "", &bad
			}
			seen[p], ext = true, true
		case ext:
		// Before any singleton the pattern leaves no doubt: two letters are the
		// region, four letters the script, five to eight characters (or a digit and
		// three) a variant, which may not repeat.
		case len(p) == 2:
			parts[i] = strings.ToUpper(p)
		case len(p) == 4 && isAlpha(p):
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		case len(p) >= 4:
			if seen["variant:"+p] {
				return "", &bad
			}
			seen["variant:"+p] = true
		}
	}
	return strings.Join(parts, "-"), nil
}

func isAlpha(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z') {
			return false
		}
	}
	return true
}

// CleanAlias trims an alias and checks it: 1 to MaxAlias characters, no control
// characters.
func CleanAlias(field, s string) (string, *problem.FieldError) {
	s = strings.TrimSpace(s)
	var msg string
	switch {
	case s == "":
		msg = "must not be empty"
	case utf8.RuneCountInString(s) > MaxAlias:
		msg = fmt.Sprintf("must be at most %d characters", MaxAlias)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		msg = "must not contain control characters"
	default:
		return s, nil
	}
	fe := problem.Field(field, msg)
	return "", &fe
}

// cleanDescription checks a description: at most MaxDescription characters, no
// control characters but line breaks and tabs. It may be empty.
func cleanDescription(s string) (string, *problem.FieldError) {
	s = strings.TrimSpace(s)
	var msg string
	switch {
	case utf8.RuneCountInString(s) > MaxDescription:
		msg = fmt.Sprintf("must be at most %d characters", MaxDescription)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		msg = "must not contain control characters other than line breaks and tabs"
	default:
		return s, nil
	}
	fe := problem.Field("description", msg)
	return "", &fe
}

// body is a decoded JSON object, read member by member so that every wrong field is
// named in one answer.
type body map[string]json.RawMessage

func isNull(v json.RawMessage) bool { return string(v) == "null" }

// The fields of a create's and an update's body.
var (
	createFields = []string{"organizationId", "alias", "language", "description", "certificate"}
	updateFields = []string{"alias", "language", "description", "certificate"}
)

// edit is a validated change of a client service's fields; nil members are left
// alone.
type edit struct {
	alias, language, description *string
	// certificate is set to change it; removeCertificate to remove it.
	certificate       *Certificate
	pem               string
	removeCertificate bool
}

// readEdit validates the members of b (create or update), naming each wrong or
// unknown one.
func readEdit(b body, creating bool) (edit, []problem.FieldError) {
	var e edit
	var errs []problem.FieldError
	allowed := updateFields
	if creating {
		allowed = createFields
	}
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			msg := "unknown field"
			switch k {
			case "organizationId":
				msg = "cannot be changed: a client service stays with its organization"
			case "status":
				msg = "cannot be set here: use the activate and deactivate actions"
			}
			errs = append(errs, problem.Field(k, msg))
		}
	}
	str := func(field string, required bool) (string, bool) {
		v, ok := b[field]
		if !ok {
			if creating && required {
				errs = append(errs, problem.Field(field, "is required"))
			}
			return "", false
		}
		var s string
		if isNull(v) || json.Unmarshal(v, &s) != nil {
			errs = append(errs, problem.Field(field, "must be a string"))
			return "", false
		}
		return s, true
	}
	if s, ok := str("alias", true); ok {
		if a, fe := CleanAlias("alias", s); fe != nil {
			errs = append(errs, *fe)
		} else {
			e.alias = &a
		}
	}
	if s, ok := str("language", true); ok {
		if l, fe := CleanLanguage("language", s); fe != nil {
			errs = append(errs, *fe)
		} else {
			e.language = &l
		}
	}
	if s, ok := str("description", false); ok {
		if d, fe := cleanDescription(s); fe != nil {
			errs = append(errs, *fe)
		} else {
			e.description = &d
		}
	}
	if v, ok := b["certificate"]; ok {
		var s string
		switch {
		case isNull(v):
			e.removeCertificate = true
		case json.Unmarshal(v, &s) != nil:
			errs = append(errs, problem.Field("certificate", "must be a string (PEM) or null"))
		default:
			c, p, fe := ParseCertificate(s, "certificate")
			if fe != nil {
				errs = append(errs, *fe)
			} else {
				e.certificate, e.pem = &c, p
			}
		}
	}
	return e, errs
}

// apply makes after from before (the zero Item on create) and e.
func apply(before Item, e edit) Item {
	after := before
	if e.alias != nil {
		after.Name = *e.alias
	}
	if e.language != nil {
		after.Attrs.Language = *e.language
	}
	if e.description != nil {
		after.Attrs.Description = *e.description
	}
	switch {
	case e.certificate != nil:
		c := *e.certificate
		after.Attrs.Certificate, after.PEM = &c, e.pem
	case e.removeCertificate:
		after.Attrs.Certificate, after.PEM = nil, ""
	}
	return after
}

// same reports whether a and b hold the same fields (an update that changes nothing).
func same(a, b Item) bool {
	ca, cb := "", ""
	if a.Attrs.Certificate != nil {
		ca = a.Attrs.Certificate.SHA256Fingerprint
	}
	if b.Attrs.Certificate != nil {
		cb = b.Attrs.Certificate.SHA256Fingerprint
	}
	return a.Name == b.Name && a.Attrs.Language == b.Attrs.Language && a.Attrs.Description == b.Attrs.Description && ca == cb
}
