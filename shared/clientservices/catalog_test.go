package clientservices

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCatalogIsSortedAndWellFormed(t *testing.T) {
	keys := []string{}
	for _, s := range Catalog {
		keys = append(keys, s.Key)
		raw, _ := json.Marshal(s.Default)
		if s.Default != nil {
			if _, msg := s.Check(raw); msg != "" {
				t.Errorf("%s: the default %s fails its own check: %s", s.Key, raw, msg)
			}
		}
		if s.Type == SettingInteger && (s.Minimum == nil || s.Maximum == nil) {
			t.Errorf("%s: an integer needs bounds", s.Key)
		}
		if (s.Type == SettingString || s.Type == SettingURL) && s.MaxLength == 0 {
			t.Errorf("%s: a string needs a length limit", s.Key)
		}
	}
	if !slices.IsSorted(keys) {
		t.Errorf("the catalog is not sorted by key: %v", keys)
	}
}

func TestReadConfigurationChange(t *testing.T) {
	cases := []struct {
		name, body string
		want       ConfigurationChange
		bad        []string // the fields named, in order
	}{
		{"a boolean", `{"mfaRequired":true}`, ConfigurationChange{"mfaRequired": true}, nil},
		{"an integer at its bounds", `{"sessionTimeoutMinutes":5,"maxLoginAttempts":20}`, ConfigurationChange{"sessionTimeoutMinutes": 5, "maxLoginAttempts": 20}, nil},
		{"null resets", `{"theme":null}`, ConfigurationChange{"theme": nil}, nil},
		{"an enum", `{"theme":"dark"}`, ConfigurationChange{"theme": "dark"}, nil},
		{"a url", `{"supportUrl":"https://help.example.com/a?b=c"}`, ConfigurationChange{"supportUrl": "https://help.example.com/a?b=c"}, nil},
		{"a string with a line break", `{"welcomeMessage":"Hello\nthere"}`, ConfigurationChange{"welcomeMessage": "Hello\nthere"}, nil},
		{"empty", `{}`, nil, []string{"body"}},
		{"every bad key listed", `{"zzz":1,"mfaRequired":"yes","sessionTimeoutMinutes":4,"theme":"blue","supportUrl":"http://x.example","welcomeMessage":7,"loginEnabled":true}`,
			nil, []string{"mfaRequired", "sessionTimeoutMinutes", "supportUrl", "theme", "welcomeMessage", "zzz"}},
		{"a fraction is no integer", `{"passwordMinLength":12.5}`, nil, []string{"passwordMinLength"}},
		{"12.0 and 2e1 are integers, as JSON Schema says", `{"passwordMinLength":12.0,"maxLoginAttempts":2e1}`, ConfigurationChange{"passwordMinLength": 12, "maxLoginAttempts": 20}, nil},
		{"out of bounds above", `{"passwordMinLength":129}`, nil, []string{"passwordMinLength"}},
		{"a string for a number", `{"passwordMinLength":"12"}`, nil, []string{"passwordMinLength"}},
		{"a control character", `{"welcomeMessage":"a\u0007b"}`, nil, []string{"welcomeMessage"}},
		{"too long", `{"welcomeMessage":"` + strings.Repeat("é", 501) + `"}`, nil, []string{"welcomeMessage"}},
		{"a url with a user", `{"privacyPolicyUrl":"https://u@example.com/"}`, nil, []string{"privacyPolicyUrl"}},
		{"a url with a space", `{"privacyPolicyUrl":"https://example.com/a b"}`, nil, []string{"privacyPolicyUrl"}},
	}
	for _, c := range cases {
		var b map[string]json.RawMessage
		if err := json.Unmarshal([]byte(c.body), &b); err != nil {
			t.Fatal(err)
		}
		got, errs := ReadConfigurationChange(b)
		var named []string
		for _, e := range errs {
			named = append(named, e.Field)
		}
		if !slices.Equal(named, c.bad) {
			t.Errorf("%s: named %v, want %v", c.name, named, c.bad)
		}
		if c.bad == nil && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestConfigApplyAndView(t *testing.T) {
	// As DynamoDB gives it back: numbers as float64, and a key the catalog no longer has.
	stored := Config{"sessionTimeoutMinutes": float64(90), "gone": true, "theme": "neon"}
	after := stored.Apply(ConfigurationChange{"sessionTimeoutMinutes": nil, "mfaRequired": true})
	if !reflect.DeepEqual(after, Config{"mfaRequired": true}) {
		t.Fatalf("after = %v", after)
	}
	before := stored.Effective()
	if before["sessionTimeoutMinutes"] != 90 || before["theme"] != "system" {
		t.Errorf("effective before = %v", before)
	}
	v := after.View()
	if len(v.Items) != len(Catalog) {
		t.Fatalf("%d items, want %d", len(v.Items), len(Catalog))
	}
	for _, it := range v.Items {
		switch it.Key {
		case "mfaRequired":
			if it.Value != true || !it.IsSet || it.Default != false {
				t.Errorf("mfaRequired: %+v", it)
			}
		case "sessionTimeoutMinutes":
			if it.Value != 60 || it.IsSet {
				t.Errorf("sessionTimeoutMinutes: %+v", it)
			}
		}
	}
}
