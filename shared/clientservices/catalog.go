package clientservices

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"opsconsole/shared/problem"
)

// The types of a general configuration setting.
const (
	SettingBoolean = "boolean"
	SettingInteger = "integer"
	SettingEnum    = "enum"
	SettingString  = "string"
	// SettingURL is an absolute https URL.
	SettingURL = "url"
)

// Setting is one general configuration of a client service, as the catalog defines
// it: its key, type, default and bounds. A value not set is its default.
type Setting struct {
	Key         string `json:"key"`
	Type        string `json:"type"`
	Description string `json:"description"`
	// Default is a bool, an int, a string, or nil (a string or URL that is unset).
	Default any `json:"default"`
	// Minimum and Maximum bound an integer.
	Minimum *int `json:"minimum,omitempty"`
	Maximum *int `json:"maximum,omitempty"`
	// Values are an enum's choices.
	Values []string `json:"values,omitempty"`
	// MaxLength bounds a string or URL, in characters.
	MaxLength int `json:"maxLength,omitempty"`
}

func bound(n int) *int { return &n }

// MaxSettingURL bounds a URL setting.
const MaxSettingURL = 2048

// SettingURLPattern is what a URL setting must match (the OpenAPI document states the
// same): https, a host without user information, no white space or control character.
const SettingURLPattern = `^https://[^\x00-\x20\x7f@/?#]+([/?#][^\x00-\x20\x7f]*)?$`

var settingURL = regexp.MustCompile(SettingURLPattern)

// Catalog is every general configuration a client service has, sorted by key. A
// client service stores only the settings changed from their defaults (its config
// attribute); the OpenAPI document lists the same catalog (a test holds them equal).
var Catalog = []Setting{
	{Key: "dateFormat", Type: SettingEnum, Default: "iso", Values: []string{"iso", "dmy", "mdy"},
		Description: "How dates are shown to the service's users: iso (2026-12-31), dmy (31/12/2026) or mdy (12/31/2026)."},
	{Key: "loginEnabled", Type: SettingBoolean, Default: true,
		Description: "Whether the service's users may sign in."},
	{Key: "maxLoginAttempts", Type: SettingInteger, Default: 5, Minimum: bound(3), Maximum: bound(20),
		Description: "Failed sign-ins in a row before a user of the service is locked out for 15 minutes."},
	{Key: "mfaRequired", Type: SettingBoolean, Default: false,
		Description: "Whether the service's users must sign in with a second factor."},
	{Key: "passwordMinLength", Type: SettingInteger, Default: 12, Minimum: bound(8), Maximum: bound(128),
		Description: "The shortest password the service accepts, in characters."},
	{Key: "privacyPolicyUrl", Type: SettingURL, Default: nil, MaxLength: MaxSettingURL,
		Description: "The service's privacy policy (an https URL), linked from its pages; none when unset."},
	{Key: "sessionTimeoutMinutes", Type: SettingInteger, Default: 60, Minimum: bound(5), Maximum: bound(1440),
		Description: "Minutes of inactivity after which a user of the service is signed out."},
	{Key: "supportUrl", Type: SettingURL, Default: nil, MaxLength: MaxSettingURL,
		Description: "Where the service's users get help (an https URL); none when unset."},
	{Key: "theme", Type: SettingEnum, Default: "system", Values: []string{"light", "dark", "system"},
		Description: "The colour scheme of the service's pages; system follows the user's device."},
	{Key: "welcomeMessage", Type: SettingString, Default: "", MaxLength: 500,
		Description: "Text shown above the service's sign-in form (no control characters but line breaks)."},
}

// settingByKey finds a setting of the catalog.
func settingByKey(key string) (Setting, bool) {
	i := slices.IndexFunc(Catalog, func(s Setting) bool { return s.Key == key })
	if i < 0 {
		return Setting{}, false
	}
	return Catalog[i], true
}

// Check reads a JSON value for the setting (not null, which resets it): the value as
// stored (bool, int, string), or the message naming what is wrong.
func (s Setting) Check(raw json.RawMessage) (any, string) {
	switch s.Type {
	case SettingBoolean:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, "must be a boolean"
		}
		return b, ""
	case SettingInteger:
		bounds := fmt.Sprintf("must be an integer from %d to %d", *s.Minimum, *s.Maximum)
		var f float64
		// 5.0 and 5e0 are accepted: JSON Schema's integer is any number without a
		// fraction, and the fuzzer sends them (licenses' seats read them the same way).
		if json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) {
			return nil, bounds
		}
		if f < float64(*s.Minimum) || f > float64(*s.Maximum) {
			return nil, bounds
		}
		return int(f), ""
	case SettingEnum:
		var v string
		if json.Unmarshal(raw, &v) != nil || !slices.Contains(s.Values, v) {
			return nil, "must be one of " + strings.Join(s.Values, ", ")
		}
		return v, ""
	case SettingString:
		var v string
		switch {
		case json.Unmarshal(raw, &v) != nil:
			return nil, "must be a string"
		case utf8.RuneCountInString(v) > s.MaxLength:
			return nil, fmt.Sprintf("must be at most %d characters", s.MaxLength)
		case strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0:
			return nil, "must not contain control characters other than line breaks"
		}
		return v, ""
	case SettingURL:
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return nil, "must be an https URL"
		}
		if len(v) > s.MaxLength {
			return nil, fmt.Sprintf("must be at most %d characters", s.MaxLength)
		}
		if !settingURL.MatchString(v) {
			return nil, "must be an absolute https URL (no user name, no spaces or control characters)"
		}
		return v, ""
	}
	return nil, "has an unknown type"
}

// normal gives a stored value in its Go type (DynamoDB numbers decode as float64),
// or nil when it no longer fits the setting (a catalog change): the default then shows.
func (s Setting) normal(v any) any {
	switch s.Type {
	case SettingBoolean:
		if b, ok := v.(bool); ok {
			return b
		}
	case SettingInteger:
		var f float64
		switch n := v.(type) {
		case float64:
			f = n
		case int:
			f = float64(n)
		case int64:
			f = float64(n)
		default:
			return nil
		}
		if f == math.Trunc(f) && f >= float64(*s.Minimum) && f <= float64(*s.Maximum) {
			return int(f)
		}
	default:
		if str, ok := v.(string); ok {
			raw, _ := json.Marshal(str)
			if _, msg := s.Check(raw); msg == "" {
				return str
			}
		}
	}
	return nil
}

// ConfigurationChange is a validated PATCH of configurations: each key's new value,
// nil to reset it to its default.
type ConfigurationChange map[string]any

// ReadConfigurationChange validates a PATCH body, naming every unknown key and every
// value of the wrong type or out of bounds in one list, sorted by key.
func ReadConfigurationChange(b map[string]json.RawMessage) (ConfigurationChange, []problem.FieldError) {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := ConfigurationChange{}
	var errs []problem.FieldError
	for _, k := range keys {
		s, ok := settingByKey(k)
		if !ok {
			errs = append(errs, problem.Field(k, "unknown setting"))
			continue
		}
		if isNull(b[k]) {
			out[k] = nil
			continue
		}
		v, msg := s.Check(b[k])
		if msg != "" {
			errs = append(errs, problem.Field(k, msg))
			continue
		}
		out[k] = v
	}
	if len(errs) == 0 && len(b) == 0 {
		errs = append(errs, problem.Field("body", "give at least one setting, as {key: value}, or {key: null} to restore its default"))
	}
	return out, errs
}

// Config is the settings a client service has changed from their defaults, by key.
type Config map[string]any

// Apply is c with the change made: a nil value removes the key (its default again).
func (c Config) Apply(ch ConfigurationChange) Config {
	out := Config{}
	for k, v := range c {
		if s, ok := settingByKey(k); ok && s.normal(v) != nil {
			out[k] = s.normal(v)
		}
	}
	for k, v := range ch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// Effective is every setting's value: the one set, else the default.
func (c Config) Effective() map[string]any {
	out := make(map[string]any, len(Catalog))
	for _, s := range Catalog {
		out[s.Key] = s.Default
		if v, ok := c[s.Key]; ok {
			if n := s.normal(v); n != nil {
				out[s.Key] = n
			}
		}
	}
	return out
}

// ConfigurationView is one setting as GET …/configurations shows it.
type ConfigurationView struct {
	Setting
	Value any `json:"value"`
	// IsSet tells a value set from the default (it may equal the default).
	IsSet bool `json:"isSet"`
}

// Configurations is the answer of GET and PATCH …/configurations.
type Configurations struct {
	Items []ConfigurationView `json:"items"`
}

// View is every setting of the catalog with its value.
func (c Config) View() Configurations {
	eff := c.Effective()
	out := Configurations{Items: make([]ConfigurationView, 0, len(Catalog))}
	for _, s := range Catalog {
		_, set := c[s.Key]
		if set && s.normal(c[s.Key]) == nil {
			set = false
		}
		out.Items = append(out.Items, ConfigurationView{Setting: s, Value: eff[s.Key], IsSet: set})
	}
	return out
}
