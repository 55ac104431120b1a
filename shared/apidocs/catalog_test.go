package apidocs_test

import (
	"fmt"
	"slices"
	"testing"

	"opsconsole/shared/clientservices"
)

// TestConfigurationCatalog holds the document's catalog of general configurations
// (ClientServiceConfigurationsUpdate's properties, ClientServiceConfigurationKey)
// equal to the one in code: the same keys, types, bounds, choices and lengths.
func TestConfigurationCatalog(t *testing.T) {
	doc := document(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	props := schemas["ClientServiceConfigurationsUpdate"].(map[string]any)["properties"].(map[string]any)
	keyEnum := schemas["ClientServiceConfigurationKey"].(map[string]any)["enum"].([]any)
	var keys []any
	for _, s := range clientservices.Catalog {
		keys = append(keys, s.Key)
		p, ok := props[s.Key].(map[string]any)
		if !ok {
			t.Errorf("%s: not in ClientServiceConfigurationsUpdate", s.Key)
			continue
		}
		num := func(name string) string { return fmt.Sprint(p[name]) }
		switch s.Type {
		case clientservices.SettingBoolean, clientservices.SettingInteger, clientservices.SettingString, clientservices.SettingURL:
			want := map[string]string{"url": "string"}[s.Type]
			if want == "" {
				want = s.Type
			}
			if fmt.Sprint(p["type"]) != fmt.Sprint([]any{want, "null"}) {
				t.Errorf("%s: type %v, want [%s null]", s.Key, p["type"], want)
			}
		case clientservices.SettingEnum:
			want := []any{}
			for _, v := range s.Values {
				want = append(want, v)
			}
			if fmt.Sprint(p["enum"]) != fmt.Sprint(append(want, nil)) {
				t.Errorf("%s: enum %v, want %v and null", s.Key, p["enum"], s.Values)
			}
		}
		if s.Type == clientservices.SettingInteger && (num("minimum") != fmt.Sprint(*s.Minimum) || num("maximum") != fmt.Sprint(*s.Maximum)) {
			t.Errorf("%s: bounds %s..%s, want %d..%d", s.Key, num("minimum"), num("maximum"), *s.Minimum, *s.Maximum)
		}
		if s.MaxLength > 0 && num("maxLength") != fmt.Sprint(s.MaxLength) {
			t.Errorf("%s: maxLength %s, want %d", s.Key, num("maxLength"), s.MaxLength)
		}
		if s.Type == clientservices.SettingURL && p["pattern"] != clientservices.SettingURLPattern {
			t.Errorf("%s: pattern %v, want %s", s.Key, p["pattern"], clientservices.SettingURLPattern)
		}
	}
	if len(props) != len(clientservices.Catalog) {
		t.Errorf("the document has %d settings, the catalog %d", len(props), len(clientservices.Catalog))
	}
	if !slices.Equal(keyEnum, keys) {
		t.Errorf("ClientServiceConfigurationKey is %v, want %v", keyEnum, keys)
	}
}
