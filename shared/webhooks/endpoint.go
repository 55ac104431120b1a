// Package webhooks delivers every change in a part of the tree to the partners' and
// organizations' own systems as signed HTTP POSTs (issue #14, PRODUCT.md's Webhooks).
//
// An endpoint (/v1/webhook-endpoints) belongs to a distributor, partner or
// organization and sees the events of that node's whole subtree. It is pending until
// it has answered the ownership challenge (webhook.verification), active while it
// receives events, and disabled after 410 Gone or after failing for
// WEBHOOK_DISABLE_AFTER. Its signing secrets are kept encrypted with the KMS key; a
// rotation keeps the old secret signing beside the new one for 24 hours.
//
// The pipeline: change records on the table's stream → the dispatcher (Dispatcher),
// which finds the active endpoints of the change's node and its ancestors with one
// Query per level and writes a delivery item per endpoint → the delivery queue (SQS,
// with a dead-letter queue) → the deliverer (Deliverer), which POSTs through the SSRF
// guard (shared/ssrf), records each attempt in the delivery log and schedules the
// next one as a delayed message (no schedule, no polling while it waits).
//
// Items:
//   - WEBHOOK#<id> / WEBHOOK: the endpoint, listed by node (GSI1 WEBHOOKS#<node>,
//     GSI2 WEBHOOKS#<node>#<status>, sort key its id); its sealed secrets are a
//     top-level attribute no index projects.
//   - WEBHOOK#<id> / DELIVERY#<event ULID>: a delivery of one event to the endpoint,
//     with the payload and its attempts, newest first by key; it expires 30 days after
//     the event (TTL), and the reads ignore older ones, so nothing rests on the TTL.
package webhooks

import (
	"encoding/json"
	"fmt"
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

// The statuses of an endpoint.
const (
	StatusPending  = "pending"
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Statuses lists them, which the list filters on.
var Statuses = []string{StatusPending, StatusActive, StatusDisabled}

// Kind names endpoints in problems and audit entries (webhook-endpoint.<verb>).
const Kind = "webhook-endpoint"

// The type attributes of the items.
const (
	ItemType     = "webhook-endpoint"
	DeliveryType = "webhook-delivery"
)

// SK is the endpoint item's sort key; deliveries sort under DeliveryPrefix.
const (
	SK             = "WEBHOOK"
	DeliveryPrefix = "DELIVERY#"
)

// Bounds.
const (
	MaxDescription = 500
	MaxEventTypes  = 50
	// Overlap is how long a rotated-out secret keeps signing.
	Overlap = 24 * time.Hour
	// DeliveryRetention is how long a delivery is kept (and shown).
	DeliveryRetention = 30 * 24 * time.Hour
)

// PK is the partition of endpoint id and its deliveries.
func PK(id string) string { return "WEBHOOK#" + id }

// Key is endpoint id's key.
func Key(id string) store.Item { return store.Key(PK(id), SK) }

const idPrefix = "whe_"

// NewID makes an endpoint id.
func NewID() string { return nodes.NewPrefixedID(idPrefix) }

// ValidID reports whether id could be an endpoint's.
func ValidID(id string) bool { return nodes.ValidPrefixedID(idPrefix, id) }

// ScopeKey is the partition listing node nodeID's endpoints (of status, "" for any).
func ScopeKey(nodeID, status string) string {
	k := "WEBHOOKS#" + nodeID
	if status != "" {
		k += "#" + status
	}
	return k
}

// Holder tells whether a node of kind may have endpoints.
func Holder(kind tree.Kind) bool {
	return kind == tree.KindDistributor || kind == tree.KindPartner || kind == tree.KindOrganization
}

// Sealed is one signing secret as stored: its KMS ciphertext, and when it stops
// signing (empty for the current one).
type Sealed struct {
	Ciphertext []byte `dynamodbav:"ciphertext"`
	CreatedAt  string `dynamodbav:"createdAt"`
	ExpiresAt  string `dynamodbav:"expiresAt,omitempty"`
}

// Attrs are the endpoint's own fields, under attrs (every index projects it).
type Attrs struct {
	URL         string   `dynamodbav:"url" json:"url"`
	EventTypes  []string `dynamodbav:"eventTypes" json:"eventTypes"`
	Description string   `dynamodbav:"description" json:"description"`
	// FailingSince is the first failed attempt of the current run of failures (empty
	// after a success); DisabledAt and LastError tell why an endpoint was disabled.
	FailingSince      string `dynamodbav:"failingSince,omitempty" json:"failingSince,omitempty"`
	LastError         string `dynamodbav:"lastError,omitempty" json:"lastError,omitempty"`
	DisabledAt        string `dynamodbav:"disabledAt,omitempty" json:"disabledAt,omitempty"`
	VerifiedAt        string `dynamodbav:"verifiedAt,omitempty" json:"verifiedAt,omitempty"`
	VerificationError string `dynamodbav:"verificationError,omitempty" json:"verificationError,omitempty"`
	SecretRotatedAt   string `dynamodbav:"secretRotatedAt,omitempty" json:"secretRotatedAt,omitempty"`
}

// Item is an endpoint as stored.
type Item struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Type string `dynamodbav:"type"`
	ID   string `dynamodbav:"id"`
	// ParentID is the node's id, NodeKind its kind, Path its lineage (the node last).
	ParentID string    `dynamodbav:"parentId"`
	NodeKind tree.Kind `dynamodbav:"nodeKind"`
	Path     []string  `dynamodbav:"path"`
	// Name is the URL (the attribute every index projects as the thing's name).
	Name      string   `dynamodbav:"name"`
	Status    string   `dynamodbav:"status"`
	Attrs     Attrs    `dynamodbav:"attrs"`
	Secrets   []Sealed `dynamodbav:"secrets"`
	Version   int      `dynamodbav:"version"`
	CreatedAt string   `dynamodbav:"createdAt"`
	UpdatedAt string   `dynamodbav:"updatedAt"`
	GSI1PK    string   `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK    string   `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK    string   `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK    string   `dynamodbav:"GSI2SK,omitempty"`
}

// SetIndexKeys derives the list partitions from the node and the status.
func (it *Item) SetIndexKeys() {
	it.Name = it.Attrs.URL
	it.GSI1PK, it.GSI1SK = ScopeKey(it.ParentID, ""), it.ID
	it.GSI2PK, it.GSI2SK = ScopeKey(it.ParentID, it.Status), it.ID
}

// policyNode is the endpoint as the policy sees it: a thing below its node.
func (it Item) policyNode() tree.Node {
	return tree.Node{ID: "webhook-endpoint#" + it.ID, Kind: Kind, Path: it.Path}
}

// View is an endpoint as the API shows it (never a secret).
type View struct {
	ID       string `json:"id"`
	NodeID   string `json:"nodeId"`
	NodeKind string `json:"nodeKind"`
	Status   string `json:"status"`
	Attrs
	Version   int    `json:"version"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// View is the endpoint as shown.
func (it Item) View() View {
	a := it.Attrs
	if a.EventTypes == nil {
		a.EventTypes = []string{}
	}
	return View{ID: it.ID, NodeID: it.ParentID, NodeKind: string(it.NodeKind), Status: it.Status, Attrs: a,
		Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

// WithSecret is the answer of the create and of a rotation: the only two that show
// the secret.
type WithSecret struct {
	View
	Secret string `json:"secret"`
}

// auditFields are the fields the audit log compares (never a secret).
func auditFields(it *Item) map[string]any {
	if it == nil {
		return nil
	}
	return map[string]any{
		"nodeId": it.ParentID, "url": it.Attrs.URL, "eventTypes": strings.Join(it.Attrs.EventTypes, ","),
		"description": it.Attrs.Description, "status": it.Status, "secretRotatedAt": nilIfEmpty(it.Attrs.SecretRotatedAt),
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// body is a decoded JSON object.
type body map[string]json.RawMessage

func isNull(v json.RawMessage) bool { return string(v) == "null" }

var (
	createFields = []string{"nodeId", "url", "eventTypes", "description"}
	updateFields = []string{"url", "eventTypes", "description"}
)

// edit is a validated change; nil members are left alone.
type edit struct {
	url         *string
	eventTypes  []string
	description *string
}

// URLChecker judges a URL (ssrf.Guard.CheckURL).
type URLChecker func(raw string) error

// readEdit validates b's members (create or update), naming each wrong one.
func readEdit(b body, creating bool, checkURL URLChecker) (edit, []problem.FieldError) {
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
			case "nodeId":
				msg = "cannot be changed: an endpoint stays with its node"
			case "status":
				msg = "cannot be set here: endpoints are verified, and disabled ones enabled, by their actions"
			case "secret":
				msg = "cannot be set: use rotate-secret"
			}
			errs = append(errs, problem.Field(k, msg))
		}
	}
	if v, ok := b["url"]; ok {
		var s string
		if isNull(v) || json.Unmarshal(v, &s) != nil {
			errs = append(errs, problem.Field("url", "must be a string"))
		} else if err := checkURL(s); err != nil {
			errs = append(errs, problem.Field("url", err.Error()))
		} else {
			e.url = &s
		}
	} else if creating {
		errs = append(errs, problem.Field("url", "is required"))
	}
	if v, ok := b["eventTypes"]; ok {
		var ts []string
		switch {
		case isNull(v) || json.Unmarshal(v, &ts) != nil:
			errs = append(errs, problem.Field("eventTypes", "must be an array of event types"))
		case len(ts) == 0:
			errs = append(errs, problem.Field("eventTypes", "must name at least one event type, a wildcard such as organization.*, or *"))
		case len(ts) > MaxEventTypes:
			errs = append(errs, problem.Field("eventTypes", fmt.Sprintf("must name at most %d", MaxEventTypes)))
		default:
			for _, t := range ts {
				if !ValidPattern(t) {
					errs = append(errs, problem.Field("eventTypes", fmt.Sprintf("%.60q is not in the catalog (GET /v1/webhook-event-types), a resource wildcard or *", t)))
					break
				}
			}
			slices.Sort(ts)
			e.eventTypes = slices.Compact(ts)
		}
	} else if creating {
		errs = append(errs, problem.Field("eventTypes", "is required"))
	}
	if v, ok := b["description"]; ok {
		var s string
		if isNull(v) || json.Unmarshal(v, &s) != nil {
			errs = append(errs, problem.Field("description", "must be a string"))
		} else {
			s = strings.TrimSpace(s)
			switch {
			case utf8.RuneCountInString(s) > MaxDescription:
				errs = append(errs, problem.Field("description", fmt.Sprintf("must be at most %d characters", MaxDescription)))
			case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
				errs = append(errs, problem.Field("description", "must not contain control characters other than line breaks and tabs"))
			default:
				e.description = &s
			}
		}
	}
	return e, errs
}

// apply makes after from before and e.
func apply(before Item, e edit) Item {
	after := before
	after.Attrs.EventTypes = slices.Clone(before.Attrs.EventTypes)
	if e.url != nil {
		after.Attrs.URL = *e.url
	}
	if e.eventTypes != nil {
		after.Attrs.EventTypes = e.eventTypes
	}
	if e.description != nil {
		after.Attrs.Description = *e.description
	}
	return after
}
