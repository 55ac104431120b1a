package levels

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
)

// FieldType is how a level's own field is validated.
type FieldType int

// The field types.
const (
	// Text is a name-like string: trimmed, 1 to nodes.MaxName characters, no control
	// characters.
	Text FieldType = iota
	// Email is a plain email address; "" or null removes an optional one.
	Email
	// Bool is true or false.
	Bool
	// Enum is one of the field's Enum strings.
	Enum
	// URL is an absolute https URL of at most 2,048 characters (a logo).
	URL
	// Colour is an RGB colour written #rrggbb.
	Colour
)

// Field is one of a level's own fields.
type Field struct {
	Name string
	Type FieldType
	Enum []string
	// Default is the value a create without the field stores (nil: none).
	Default any
	// Required fields must be given on create and cannot be removed.
	Required bool
}

// body is a decoded JSON object whose members are checked one by one against the
// level's fields, so that every wrong field is named in one answer.
type body map[string]json.RawMessage

func decodeBody(r *http.Request) (body, error) {
	b, err := api.DecodeObject(r)
	return body(b), err
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }

// text reads a string member.
func text(field string, v json.RawMessage) (string, *problem.FieldError) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		fe := problem.Field(field, "must be a string")
		return "", &fe
	}
	return s, nil
}

// fieldErrors gathers the field errors of a check; a check's error is always a
// problem of its own making.
func fieldErrors(err error) []problem.FieldError {
	if p, ok := err.(*problem.Problem); ok {
		return p.Errors
	}
	return []problem.FieldError{problem.Field("body", "invalid")}
}

// checkEmail accepts a plain address such as ops@example.com and nothing fancier: the
// one rule of identity.ValidEmail, since an end user's email becomes a Cognito user
// name when they are invited.
func checkEmail(field, v string) error {
	if !identity.ValidEmail(v) {
		return problem.Invalid("the email address is invalid", problem.Field(field, "must be a plain email address such as ops@example.com"))
	}
	return nil
}

// cleanName validates the level's naming field.
func (l Level) cleanName(v json.RawMessage) (string, []problem.FieldError) {
	field := l.nameField()
	s, fe := text(field, v)
	if fe != nil {
		return "", []problem.FieldError{*fe}
	}
	if field == "email" {
		s = identity.TrimEmail(s)
		if err := checkEmail(field, s); err != nil {
			return "", fieldErrors(err)
		}
		return s, nil
	}
	name, err := nodes.CleanName(field, s)
	if err != nil {
		return "", fieldErrors(err)
	}
	return name, nil
}

// optional fields may be removed: neither required nor defaulted.
func (f Field) optional() bool { return !f.Required && f.Default == nil }

var colour = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^#[0-9a-fA-F]{6}$`) })

// value validates one own field's JSON value; remove reports a "" or null that
// removes an optional field.
func (f Field) value(v json.RawMessage) (val any, remove bool, errs []problem.FieldError) {
	if isNull(v) {
		if f.optional() {
			return nil, true, nil
		}
		return nil, false, []problem.FieldError{problem.Field(f.Name, "must not be null")}
	}
	if f.Type != Bool && f.Type != Enum && f.optional() {
		if s, fe := text(f.Name, v); fe == nil && strings.TrimSpace(s) == "" {
			return nil, true, nil
		}
	}
	switch f.Type {
	case URL:
		s, fe := text(f.Name, v)
		if fe != nil {
			return nil, false, []problem.FieldError{*fe}
		}
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Scheme != "https" || u.Host == "" || len(s) > 2048 {
			return nil, false, []problem.FieldError{problem.Field(f.Name, "must be an absolute https URL of at most 2048 characters")}
		}
		return u.String(), false, nil
	case Colour:
		s, fe := text(f.Name, v)
		if fe != nil {
			return nil, false, []problem.FieldError{*fe}
		}
		if !colour().MatchString(s) {
			return nil, false, []problem.FieldError{problem.Field(f.Name, "must be a colour written #rrggbb")}
		}
		return strings.ToLower(s), false, nil
	case Bool:
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, false, []problem.FieldError{problem.Field(f.Name, "must be a boolean")}
		}
		return b, false, nil
	case Enum:
		s, fe := text(f.Name, v)
		if fe != nil {
			return nil, false, []problem.FieldError{*fe}
		}
		if !slices.Contains(f.Enum, s) {
			return nil, false, []problem.FieldError{problem.Field(f.Name, "must be one of "+strings.Join(f.Enum, ", "))}
		}
		return s, false, nil
	case Email:
		s, fe := text(f.Name, v)
		if fe != nil {
			return nil, false, []problem.FieldError{*fe}
		}
		s = identity.TrimEmail(s)
		if s == "" {
			if f.Required {
				return nil, false, []problem.FieldError{problem.Field(f.Name, "must not be empty")}
			}
			return nil, true, nil
		}
		if err := checkEmail(f.Name, s); err != nil {
			return nil, false, fieldErrors(err)
		}
		return s, false, nil
	default:
		s, fe := text(f.Name, v)
		if fe != nil {
			return nil, false, []problem.FieldError{*fe}
		}
		clean, err := nodes.CleanName(f.Name, s)
		if err != nil {
			return nil, false, fieldErrors(err)
		}
		return clean, false, nil
	}
}

// edit is a validated change of a node's name and own fields.
type edit struct {
	name   *string
	set    map[string]any
	remove []string
}

// readEdit validates the members of b that are the level's name and own fields. On
// create, required fields must be present. Members it does not know are left to the
// caller (which reports them as unknown).
func (l Level) readEdit(b body, creating bool) (edit, []problem.FieldError) {
	e := edit{set: map[string]any{}}
	var errs []problem.FieldError
	if v, ok := b[l.nameField()]; ok && !isNull(v) {
		name, fes := l.cleanName(v)
		errs = append(errs, fes...)
		e.name = &name
	} else if ok {
		errs = append(errs, problem.Field(l.nameField(), "must not be null"))
	} else if creating {
		errs = append(errs, problem.Field(l.nameField(), "is required"))
	}
	for _, f := range l.Fields {
		v, ok := b[f.Name]
		switch {
		case ok:
			val, remove, fes := f.value(v)
			errs = append(errs, fes...)
			if remove {
				e.remove = append(e.remove, f.Name)
			} else if val != nil {
				e.set[f.Name] = val
			}
		case creating && f.Required:
			errs = append(errs, problem.Field(f.Name, "is required"))
		case creating && f.Default != nil:
			e.set[f.Name] = f.Default
		}
	}
	return e, errs
}

// unknown names the members of b that are none of allowed.
func unknown(b body, allowed ...string) []problem.FieldError {
	var errs []problem.FieldError
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if !slices.Contains(allowed, k) {
			errs = append(errs, problem.Field(k, "unknown field"))
		}
	}
	return errs
}

// fieldNames are the names a body of this level may hold, besides the parent's.
func (l Level) fieldNames() []string {
	names := []string{l.nameField()}
	for _, f := range l.Fields {
		names = append(names, f.Name)
	}
	return names
}
