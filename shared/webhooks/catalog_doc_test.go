package webhooks

import (
	"encoding/json"
	"slices"
	"testing"

	"opsconsole/shared/apidocs"
)

// The OpenAPI document's webhooks section and its type enum are the catalog: one
// place (Catalog), checked here.
func TestDocumentHasTheCatalog(t *testing.T) {
	var doc struct {
		Webhooks   map[string]any `json:"webhooks"`
		Components struct {
			Schemas map[string]struct {
				Enum []string `json:"enum"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(apidocs.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range Catalog() {
		types = append(types, e.Type)
		if _, ok := doc.Webhooks[e.Type]; !ok {
			t.Errorf("the document's webhooks section lacks %s", e.Type)
		}
	}
	for k := range doc.Webhooks {
		if !Known(k) {
			t.Errorf("the document's webhooks section has %s, not in the catalog", k)
		}
	}
	if got := doc.Components.Schemas["WebhookEventTypeName"].Enum; !slices.Equal(got, types) {
		t.Errorf("WebhookEventTypeName's enum is\n%v\nthe catalog\n%v", got, types)
	}
	for _, p := range doc.Components.Schemas["WebhookEventTypePattern"].Enum {
		if !ValidPattern(p) {
			t.Errorf("WebhookEventTypePattern has %s, which the API refuses", p)
		}
	}
}
