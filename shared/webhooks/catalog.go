package webhooks

import (
	"slices"
	"strings"

	"opsconsole/shared/levels"
	"opsconsole/shared/tree"
)

// EventType is one entry of the catalog (GET /v1/webhook-event-types).
type EventType struct {
	Type        string `json:"type"`
	Resource    string `json:"resource"`
	Description string `json:"description"`
}

// resource is one kind of thing whose changes are events, with the verbs of its audit
// actions (<audit target type>.<verb>).
type resource struct {
	auditType string
	verbs     []string
}

// The two events of the delivery service itself, which no change makes.
const (
	TypeVerification = "webhook.verification"
	TypeTest         = "webhook.test"
)

// resources is the one place that says which changes are events: the levels' own
// verbs come from their definitions (shared/levels), so a new status action is an
// event without an edit here; the others are the verbs their packages record.
func resources() []resource {
	var out []resource
	for _, l := range []levels.Level{levels.Distributors, levels.Partners, levels.Organizations, levels.Companies, levels.EndUsers} {
		verbs := []string{"created", "updated", "deleted"}
		if l.Kind != tree.KindEndUser {
			verbs = append(verbs, "deletion-started")
		}
		for _, a := range l.Actions {
			verbs = append(verbs, a.Past)
		}
		switch l.Kind {
		case tree.KindPartner:
			verbs = append(verbs, "signup-enabled", "signup-disabled")
		case tree.KindOrganization:
			// Self-service signup: the verified applicant's organization, then the decision.
			verbs = append(verbs, "signup-verified", "approved", "rejected")
		}
		out = append(out, resource{string(l.Kind), verbs})
	}
	return append(out,
		resource{"user", []string{"invited", "activated", "updated", "deactivated", "reactivated", "deleted", "mfa_enrolled", "mfa_removed"}},
		resource{"license", []string{"created", "updated", "activated", "deactivated", "deleted"}},
		resource{"client-service", []string{"created", "updated", "activated", "deactivated", "deleted"}},
	)
}

// EventName turns an audit name (client-service, deletion-started) into an event
// type's part (client_service, deletion_started).
func EventName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// Catalog is every event type, sorted, with the two of the service itself first.
func Catalog() []EventType {
	out := []EventType{
		{Type: TypeTest, Resource: "webhook", Description: "sent by POST /v1/webhook-endpoints/{id}/test"},
		{Type: TypeVerification, Resource: "webhook", Description: "the ownership challenge sent before an endpoint receives anything; answer {\"challenge\": data.challenge}"},
	}
	var rest []EventType
	for _, r := range resources() {
		for _, v := range r.verbs {
			name := EventName(r.auditType)
			rest = append(rest, EventType{Type: name + "." + EventName(v), Resource: name, Description: "a " + strings.ReplaceAll(name, "_", " ") + " was " + strings.ReplaceAll(EventName(v), "_", " ")})
		}
	}
	slices.SortFunc(rest, func(a, b EventType) int { return strings.Compare(a.Type, b.Type) })
	return append(out, slices.CompactFunc(rest, func(a, b EventType) bool { return a.Type == b.Type })...)
}

var catalogTypes = func() map[string]EventType {
	m := map[string]EventType{}
	for _, e := range Catalog() {
		m[e.Type] = e
	}
	return m
}()

// TypeOfAction is the event type of an audit action, and whether it is one of the
// catalog's (impersonations, exports and the endpoints' own changes are not events).
func TypeOfAction(action string) (string, bool) {
	t := EventName(action)
	e, ok := catalogTypes[t]
	return t, ok && e.Resource != "webhook"
}

// Known tells whether t is in the catalog.
func Known(t string) bool { _, ok := catalogTypes[t]; return ok }

// ValidPattern tells whether p may be subscribed to: a catalog type, a resource's
// wildcard (organization.*) or "*". The service's own types are never subscribed to.
func ValidPattern(p string) bool {
	if p == "*" {
		return true
	}
	if res, ok := strings.CutSuffix(p, ".*"); ok {
		for _, e := range catalogTypes {
			if e.Resource == res && res != "webhook" {
				return true
			}
		}
		return false
	}
	e, ok := catalogTypes[p]
	return ok && e.Resource != "webhook"
}

// Matches tells whether an endpoint subscribed to patterns wants event type t.
func Matches(patterns []string, t string) bool {
	for _, p := range patterns {
		if p == "*" || p == t {
			return true
		}
		if res, ok := strings.CutSuffix(p, ".*"); ok && strings.HasPrefix(t, res+".") {
			return true
		}
	}
	return false
}
