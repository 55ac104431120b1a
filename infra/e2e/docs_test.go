package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDocsAreServedByTheService(t *testing.T) {
	t.Run("the OpenAPI document is served as JSON, without a token", func(t *testing.T) {
		res := do(t, req{method: "GET", path: "/openapi.json"})
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		res.json(t, &doc)
		if doc.OpenAPI != "3.1.0" || doc.Paths["/v1/distributors"] == nil {
			t.Fatalf("document: %.200s", res.Body)
		}
	})
	t.Run("Swagger UI is served from the service's own assets", func(t *testing.T) {
		res := do(t, req{method: "GET", path: "/docs"})
		if res.Status != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("docs: %d %s", res.Status, res.Header.Get("Content-Type"))
		}
		page := string(res.Body)
		if strings.Contains(page, "https://") || !strings.Contains(page, "openapi.json") {
			t.Fatalf("the page loads something from elsewhere or not our document: %.500s", page)
		}
		js := do(t, req{method: "GET", path: "/docs/swagger-ui-bundle.js"})
		if js.Status != 200 || !strings.Contains(js.Header.Get("Content-Type"), "javascript") || len(js.Body) < 1000 {
			t.Fatalf("bundle: %d %s %d bytes", js.Status, js.Header.Get("Content-Type"), len(js.Body))
		}
	})
	t.Run("an unknown route gets API Gateway's own 404", func(t *testing.T) {
		res := do(t, req{method: "GET", path: "/v2/anything", undocumented: true})
		var body map[string]string
		if err := json.Unmarshal(res.Body, &body); err != nil || res.Status != 404 || body["message"] != "Not Found" {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
	})
}
