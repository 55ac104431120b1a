package identity

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidEmail(t *testing.T) {
	cases := []struct {
		name, email string
		want        bool
	}{
		{"a plain address", "ops@example.com", true},
		{"dots, plus and digits", "first.last+tag9@mail.example.co", true},
		{"upper case (lower-cased later, not refused)", "Ops@Example.COM", true},
		{"an underscore first", "_ops@example.com", true},
		{"a hyphen in the domain", "ops@my-host.example.org", true},
		{"no @", "ops.example.com", false},
		{"two @", "a@b@example.com", false},
		{"nothing before the @", "@example.com", false},
		{"a dot first", ".ops@example.com", false},
		{"a plus first", "+ops@example.com", false},
		{"two dots in a row", "a..b@example.com", false},
		{"a dot last before the @", "a.@example.com", false},
		{"a one-label domain", "ops@localhost", false},
		{"a one-letter top-level domain", "ops@example.c", false},
		{"a digit in the top-level domain", "ops@example.c0m", false},
		{"an empty label", "ops@example..com", false},
		{"an IP literal", "ops@[127.0.0.1]", false},
		{"a quoted local part", `"a b"@example.com`, false},
		{"a non-ASCII local part", "ü@example.com", false},
		{"an exclamation mark (RFC 5322 allows it, Cognito does not)", "a!b@example.com", false},
		{"a display name", "Ops <ops@example.com>", false},
		{"too long", strings.Repeat("a", 243) + "@example.com", false},
		{"254 characters", strings.Repeat("a", 242) + "@example.com", true},
	}
	pattern := regexp.MustCompile(EmailPattern)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ValidEmail(c.email); got != c.want {
				t.Errorf("ValidEmail(%q) = %v, want %v", c.email, got, c.want)
			}
			// The document's pattern says the same (it has no length: maxLength does that).
			if got := pattern.MatchString(c.email); got != c.want && c.name != "too long" {
				t.Errorf("EmailPattern on %q = %v, want %v", c.email, got, c.want)
			}
		})
	}
}

func TestCleanEmailTrimsOnlyBlanks(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"spaces and a line break", " \tOps@Example.com\r\n", "ops@example.com", true},
		{"a no-break space is not trimmed", "\u00a0ops@example.com", "", false},
		{"a vertical tab is not trimmed", "\vops@example.com", "", false},
	}
	pattern := regexp.MustCompile(EmailPattern)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CleanEmail(c.in)
			if (err == nil) != c.ok || got != c.want {
				t.Errorf("CleanEmail(%q) = %q, %v; want %q, ok %v", c.in, got, err, c.want, c.ok)
			}
			if pattern.MatchString(c.in) != c.ok {
				t.Errorf("EmailPattern on %q disagrees: want %v", c.in, c.ok)
			}
		})
	}
}
