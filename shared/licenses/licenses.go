// Package licenses is the licenses resellers hold and sell (/v1/licenses): each is
// held by a distributor, a partner or an organization (its nodeId), has a type, a name,
// a stored status (active or inactive; expired is computed from validUntil whenever it
// is read), a validity, a number of seats and a key the service generates.
//
// A license is one item, LICENSE#<id> / LICENSE. Its index keys list it:
//   - across a branch, in one Query per page: GSI3 holds every license of the
//     platform in partition LICENSES, GSI4 in LICENSES#type#<type>, GSI5 in
//     LICENSES#status#<stored status> and GSI6 in both; the sort key begins with the
//     holder's lineage below the platform ("dst_…/prt_…/org_…/"), so a node's whole
//     subtree is the key condition begins_with(SK, its lineage), and then the name;
//   - by holder, in GSI1 (LICENSES#<nodeId>): what the node sweeper removes when the
//     holder is deleted.
//
// No index was added to the table: the license items bring their own partition key
// prefixes to existing ones, and keep their own fields under the projected attrs.
package licenses

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// The license types.
const (
	TypePartnerDevelopment = "partner_development"
	TypePartnerProfile     = "partner_profile"
	TypeAgent              = "agent"
)

// Types lists every license type.
var Types = []string{TypePartnerDevelopment, TypePartnerProfile, TypeAgent}

// The statuses. Active and inactive are stored (and changed by the activate and
// deactivate actions); expired is what a license whose validUntil has passed reads
// as, whatever its stored status, without any write.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
	StatusExpired  = "expired"
)

// Statuses lists the statuses a license reads as, which the list filters on.
var Statuses = []string{StatusActive, StatusInactive, StatusExpired}

// The bounds of seats.
const (
	MinSeats     = 1
	MaxSeats     = 10000
	DefaultSeats = 1
)

// Kind names licenses in problems and audit entries.
const Kind = "license"

// ItemType is the type attribute of a license item.
const ItemType = "license"

// SK is the sort key of a license's item.
const SK = "LICENSE"

// PK is the partition key of license id.
func PK(id string) string { return "LICENSE#" + id }

// Key is the primary key of license id.
func Key(id string) store.Item { return store.Key(PK(id), SK) }

// idPrefix starts every license id; the rest is a lower-case ULID.
const idPrefix = "lic_"

// NewID makes a new license id.
func NewID() string { return nodes.NewPrefixedID(idPrefix) }

// ValidID reports whether id could be a license's id; anything else is answered like
// a missing license without a read.
func ValidID(id string) bool { return nodes.ValidPrefixedID(idPrefix, id) }

// keyBytes is the randomness of a license key: 160 bits, far beyond guessing.
const keyBytes = 20

// NewKey makes a license key: keyBytes from crypto/rand in base32 (32 characters,
// no padding), in eight groups of four joined by hyphens, easy to read out and type.
func NewKey() (string, error) {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("license key: %w", err)
	}
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	groups := make([]string, 0, len(s)/4)
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, "-"), nil
}

// Attrs are a license's own fields, stored under attrs (an attribute every index
// projects, so a list reads them without a second read).
type Attrs struct {
	Type      string `dynamodbav:"type"`
	ValidFrom string `dynamodbav:"validFrom"`
	// ValidUntil is absent for a license that never expires.
	ValidUntil string `dynamodbav:"validUntil,omitempty"`
	Seats      int    `dynamodbav:"seats"`
	// Key is shown to those who may see the license (create and get), never in the
	// audit log.
	Key string `dynamodbav:"key"`
}

// Item is a license as stored.
type Item struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Type string `dynamodbav:"type"`
	ID   string `dynamodbav:"id"`
	// ParentID is the holder's id (the API's nodeId), Path the holder's lineage, root
	// first and the holder last: every node whose subtree holds the license.
	ParentID  string   `dynamodbav:"parentId"`
	Path      []string `dynamodbav:"path"`
	Name      string   `dynamodbav:"name"`
	Status    string   `dynamodbav:"status"`
	Attrs     Attrs    `dynamodbav:"attrs"`
	Version   int      `dynamodbav:"version"`
	CreatedAt string   `dynamodbav:"createdAt"`
	UpdatedAt string   `dynamodbav:"updatedAt"`
	GSI1PK    string   `dynamodbav:"GSI1PK"`
	GSI1SK    string   `dynamodbav:"GSI1SK"`
	GSI3PK    string   `dynamodbav:"GSI3PK"`
	GSI3SK    string   `dynamodbav:"GSI3SK"`
	GSI4PK    string   `dynamodbav:"GSI4PK"`
	GSI4SK    string   `dynamodbav:"GSI4SK"`
	GSI5PK    string   `dynamodbav:"GSI5PK"`
	GSI5SK    string   `dynamodbav:"GSI5SK"`
	GSI6PK    string   `dynamodbav:"GSI6PK"`
	GSI6SK    string   `dynamodbav:"GSI6SK"`
}

// Holder is the node that holds the license, as the tree rules see it.
func (it Item) Holder() tree.Node {
	kind, _ := nodes.KindOfID(it.ParentID)
	return tree.Node{ID: it.ParentID, Kind: kind, Path: it.Path[:len(it.Path)-1]}
}

// policyNode is the license as the policy sees it: a thing below its holder, so that
// a caller reaches it exactly when the caller's subtree holds the holder, and one
// outside reads "license not found", like a missing one.
func (it Item) policyNode() tree.Node {
	return tree.Node{ID: "license#" + it.ID, Kind: Kind, Path: it.Path}
}

// sep joins the parts of a sort key; it sorts before every character a name may hold.
const sep = "\x01"

// BranchPrefix is the start of the branch sort key (GSI3–GSI6) of every license held
// in the subtree of the node with lineage (root first, the node last):
// nodes.LineagePrefix, "" for the platform, whose subtree is the whole partition.
func BranchPrefix(lineage []string) string { return nodes.LineagePrefix(lineage) }

// The partitions of the branch indexes.
const branchPK = "LICENSES"

// BranchPartition is the partition, and index, that lists the licenses of type typ
// ("" for any) in stored status stored ("" for any): GSI3 (all), GSI4 (by type), GSI5
// (by stored status), GSI6 (both).
func BranchPartition(typ, stored string) (index, pk string) {
	switch {
	case typ == "" && stored == "":
		return "GSI3", branchPK
	case stored == "":
		return "GSI4", branchPK + "#type#" + typ
	case typ == "":
		return "GSI5", branchPK + "#status#" + stored
	}
	return "GSI6", branchPK + "#type#" + typ + "#status#" + stored
}

// HolderKey is the GSI1 partition of the licenses node nodeID holds.
func HolderKey(nodeID string) string { return "LICENSES#" + nodeID }

// SetIndexKeys derives the index attributes from the holder, type, stored status and
// name.
func (it *Item) SetIndexKeys() {
	own := nodes.NameKey(it.Name) + sep + it.ID
	sk := BranchPrefix(it.Path) + sep + own
	it.GSI1PK, it.GSI1SK = HolderKey(it.ParentID), own
	_, it.GSI3PK = BranchPartition("", "")
	_, it.GSI4PK = BranchPartition(it.Attrs.Type, "")
	_, it.GSI5PK = BranchPartition("", it.Status)
	_, it.GSI6PK = BranchPartition(it.Attrs.Type, it.Status)
	it.GSI3SK, it.GSI4SK, it.GSI5SK, it.GSI6SK = sk, sk, sk, sk
}

// Expired reports whether a license valid until validUntil ("" for never) has expired
// at now: from the instant validUntil names on. Both are stamps of one fixed width
// (nodes.Stamp), so they compare as strings, as the list's filter compares them.
func Expired(validUntil string, now time.Time) bool {
	return validUntil != "" && validUntil <= nodes.Stamp(now)
}

// StatusAt is the status the license reads as at now.
func (it Item) StatusAt(now time.Time) string {
	if Expired(it.Attrs.ValidUntil, now) {
		return StatusExpired
	}
	return it.Status
}

// View is a license as the API shows it.
type View struct {
	ID         string `json:"id"`
	NodeID     string `json:"nodeId"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	ValidFrom  string `json:"validFrom"`
	ValidUntil string `json:"validUntil,omitempty"`
	Seats      int    `json:"seats"`
	Key        string `json:"key,omitempty"`
	Version    int    `json:"version"`
	CreatedAt  string `json:"createdAt"`
	UpdatedAt  string `json:"updatedAt"`
}

// View is the license as shown at now; withKey adds its key (create and get).
func (it Item) View(now time.Time, withKey bool) View {
	v := View{
		ID: it.ID, NodeID: it.ParentID, Type: it.Attrs.Type, Name: it.Name, Status: it.StatusAt(now),
		ValidFrom: it.Attrs.ValidFrom, ValidUntil: it.Attrs.ValidUntil, Seats: it.Attrs.Seats,
		Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
	if withKey {
		v.Key = it.Attrs.Key
	}
	return v
}

// auditFields are the fields the audit log compares: never the key, which is a
// credential of the license's holder.
func auditFields(it *Item) map[string]any {
	if it == nil {
		return nil
	}
	m := map[string]any{
		"nodeId": it.ParentID, "name": it.Name, "type": it.Attrs.Type, "status": it.Status,
		"validFrom": it.Attrs.ValidFrom, "seats": it.Attrs.Seats,
	}
	if it.Attrs.ValidUntil != "" {
		m["validUntil"] = it.Attrs.ValidUntil
	}
	return m
}

// body is a decoded JSON object, read member by member so that every wrong field is
// named in one answer.
type body map[string]json.RawMessage

func isNull(v json.RawMessage) bool { return string(v) == "null" }

// The fields of a create's and an update's body.
var (
	createFields = []string{"nodeId", "type", "name", "validFrom", "validUntil", "seats"}
	updateFields = []string{"type", "name", "validFrom", "validUntil", "seats"}
)

// edit is a validated change of a license's fields; nil members are left alone.
type edit struct {
	typ, name, validFrom *string
	// validUntil is set to change it, to "" to remove it.
	validUntil *string
	seats      *int
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
	for _, k := range sortedKeys(b) {
		if !slices.Contains(allowed, k) {
			msg := "unknown field"
			if k == "nodeId" {
				msg = "cannot be changed: a license stays with its holder"
			}
			errs = append(errs, problem.Field(k, msg))
		}
	}
	str := func(field string) (string, bool) {
		v, ok := b[field]
		if !ok {
			if creating && (field == "type" || field == "name") {
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
	if s, ok := str("type"); ok {
		if slices.Contains(Types, s) {
			e.typ = &s
		} else {
			errs = append(errs, problem.Field("type", "must be one of "+strings.Join(Types, ", ")))
		}
	}
	if s, ok := str("name"); ok {
		if name, err := nodes.CleanName("name", s); err != nil {
			errs = append(errs, fieldErrors(err)...)
		} else {
			e.name = &name
		}
	}
	if s, ok := str("validFrom"); ok {
		if t, fe := parseTime("validFrom", s); fe != nil {
			errs = append(errs, *fe)
		} else {
			e.validFrom = &t
		}
	}
	if v, ok := b["validUntil"]; ok {
		var s string
		switch {
		case isNull(v):
			e.validUntil = new(string)
		case json.Unmarshal(v, &s) != nil:
			errs = append(errs, problem.Field("validUntil", "must be a string or null"))
		default:
			if t, fe := parseTime("validUntil", s); fe != nil {
				errs = append(errs, *fe)
			} else {
				e.validUntil = &t
			}
		}
	}
	if v, ok := b["seats"]; ok {
		if n, fe := parseSeats(v); fe != nil {
			errs = append(errs, *fe)
		} else {
			e.seats = &n
		}
	}
	return e, errs
}

func sortedKeys(b body) []string {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fieldErrors gathers the field errors of a check's problem.
func fieldErrors(err error) []problem.FieldError {
	if p, ok := err.(*problem.Problem); ok {
		return p.Errors
	}
	return []problem.FieldError{problem.Field("body", "invalid")}
}

// parseTime reads an RFC 3339 time and gives its stamp (UTC, to the second; a
// fraction is dropped), the form stored and compared. Years outside 0001–9999, which
// the fixed-width stamp cannot hold, are refused.
func parseTime(field, s string) (string, *problem.FieldError) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
		fe := problem.Field(field, "must be an RFC 3339 time between years 0001 and 9999, such as 2026-01-02T15:04:05Z")
		return "", &fe
	}
	return nodes.Stamp(t), nil
}

// parseSeats reads a whole number of seats from MinSeats to MaxSeats (1.0 counts as 1:
// JSON does not tell integers apart).
func parseSeats(v json.RawMessage) (int, *problem.FieldError) {
	var f float64
	if isNull(v) || json.Unmarshal(v, &f) != nil || f != math.Trunc(f) || f < MinSeats || f > MaxSeats {
		fe := problem.Field("seats", fmt.Sprintf("must be a whole number from %d to %d", MinSeats, MaxSeats))
		return 0, &fe
	}
	return int(f), nil
}

// apply makes after from before (the zero Item on create) and e, then checks what
// holds across fields: validUntil must come after validFrom. sent names the fields
// the body held, so that the error names the one the caller gave.
func apply(before Item, e edit, b body) (Item, []problem.FieldError) {
	after := before
	if e.typ != nil {
		after.Attrs.Type = *e.typ
	}
	if e.name != nil {
		after.Name = *e.name
	}
	if e.validFrom != nil {
		after.Attrs.ValidFrom = *e.validFrom
	}
	if e.validUntil != nil {
		after.Attrs.ValidUntil = *e.validUntil
	}
	if e.seats != nil {
		after.Attrs.Seats = *e.seats
	}
	if after.Attrs.ValidUntil != "" && after.Attrs.ValidUntil <= after.Attrs.ValidFrom {
		field := "validUntil"
		if _, ok := b["validUntil"]; !ok {
			field = "validFrom"
		}
		return after, []problem.FieldError{problem.Field(field, "validUntil must be after validFrom (to the second)")}
	}
	return after, nil
}

// jsonString reads a JSON string member into s.
func jsonString(v json.RawMessage, s *string) error { return json.Unmarshal(v, s) }
