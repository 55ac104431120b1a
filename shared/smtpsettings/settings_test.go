package smtpsettings

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"opsconsole/shared/ssrf"
)

var inAWS = Guard{}
var local = Guard{Local: true, Allow: map[string]bool{"127.0.0.1": true}}
var onePort = Guard{Local: true, Allow: map[string]bool{"127.0.0.1:2525": true}}

func TestReadSettings(t *testing.T) {
	ok := func() map[string]any {
		return map[string]any{"host": "smtp.example.com", "port": float64(587), "tlsMode": "starttls",
			"username": "u", "password": "p", "fromAddress": "mail@example.com", "fromName": "Acme"}
	}
	cases := []struct {
		name  string
		edit  func(b map[string]any)
		guard Guard
		bad   []string
	}{
		{"complete", func(map[string]any) {}, inAWS, nil},
		{"no password keeps the stored one", func(b map[string]any) { delete(b, "password") }, inAWS, nil},
		{"no authentication", func(b map[string]any) { delete(b, "password"); delete(b, "username") }, inAWS, nil},
		{"a public address", func(b map[string]any) { b["host"] = "8.8.8.8" }, inAWS, nil},
		{"the metadata service", func(b map[string]any) { b["host"] = "169.254.169.254" }, inAWS, []string{"host"}},
		{"loopback in AWS", func(b map[string]any) { b["host"] = "127.0.0.1" }, inAWS, []string{"host"}},
		{"a mapped private address", func(b map[string]any) { b["host"] = "::ffff:10.0.0.1" }, inAWS, []string{"host"}},
		{"localhost by name", func(b map[string]any) { b["host"] = "localhost" }, inAWS, []string{"host"}},
		{"a bad name", func(b map[string]any) { b["host"] = "smtp_.example.com" }, inAWS, []string{"host"}},
		{"locally the allowed host", func(b map[string]any) { b["host"] = "127.0.0.1" }, local, nil},
		{"locally a public host", func(b map[string]any) { b["host"] = "smtp.example.com" }, local, []string{"host"}},
		{"locally another loopback", func(b map[string]any) { b["host"] = "127.0.0.2" }, local, []string{"host"}},
		{"locally a host allowed on one port", func(b map[string]any) { b["host"] = "127.0.0.1" }, onePort, nil},
		{"every bad field", func(b map[string]any) {
			b["port"], b["tlsMode"], b["fromAddress"], b["password"], b["nope"] = float64(0), "ssl", "x", "", 1
		}, inAWS, []string{"nope", "port", "tlsMode", "password", "fromAddress"}},
		{"missing", func(b map[string]any) {
			delete(b, "host")
			delete(b, "port")
			delete(b, "tlsMode")
			delete(b, "fromAddress")
		},
			inAWS, []string{"host", "port", "tlsMode", "fromAddress"}},
		{"a fractional port", func(b map[string]any) { b["port"] = 25.5 }, inAWS, []string{"port"}},
		{"a control character", func(b map[string]any) { b["fromName"] = "a\r\nBcc: x" }, inAWS, []string{"fromName"}},
		{"a long password", func(b map[string]any) { b["password"] = strings.Repeat("p", 257) }, inAWS, []string{"password"}},
	}
	for _, c := range cases {
		b := ok()
		c.edit(b)
		_, errs := ReadSettings(b, c.guard)
		var named []string
		for _, e := range errs {
			named = append(named, e.Field)
		}
		if !slices.Equal(named, c.bad) {
			t.Errorf("%s: named %v, want %v", c.name, named, c.bad)
		}
	}
}

// The control function is called directly with the address a dial would use: no
// connection is made.
func TestGuardControl(t *testing.T) {
	for _, c := range []struct {
		g       Guard
		address string
		allowed bool
	}{
		{inAWS, "8.8.8.8:25", true},
		{inAWS, "127.0.0.1:25", false},
		{inAWS, "169.254.169.254:25", false},
		{inAWS, "[fd00:ec2::254]:25", false},
		{inAWS, "[::ffff:192.168.1.1]:587", false},
		{local, "127.0.0.1:2525", true},
		{local, "127.0.0.2:2525", false},
		{local, "8.8.8.8:25", false},
		{local, "[::1]:25", false},
		{onePort, "127.0.0.1:2525", true},
		{onePort, "127.0.0.1:2526", false},
	} {
		err := c.g.Control("tcp4", c.address, nil)
		if (err == nil) != c.allowed {
			t.Errorf("local %v, %s: %v, want allowed %v", c.g.Local, c.address, err, c.allowed)
		}
		if err != nil && !errors.Is(err, ssrf.ErrRefused) {
			t.Errorf("%s: %v is not ssrf.ErrRefused", c.address, err)
		}
	}
}

func TestGuardFromEnv(t *testing.T) {
	t.Setenv(AllowEnv, " 127.0.0.1 , [::1], 127.0.0.1:2525")
	g := GuardFromEnv()
	if !g.Local || !g.Allow["127.0.0.1"] || !g.Allow["::1"] || !g.Allow["127.0.0.1:2525"] || len(g.Allow) != 3 {
		t.Fatalf("guard %+v", g)
	}
}

func TestViewNeverShowsThePassword(t *testing.T) {
	it := Item{Host: "h", Port: 25, TLSMode: "none", Username: "u", PasswordCiphertext: []byte("ciphertext"), PasswordSetAt: "2026-12-02T00:00:00Z"}
	v := it.View()
	if v.PasswordSet == nil || !*v.PasswordSet || v.Mode != ModeCustom {
		t.Fatalf("view %+v", v)
	}
	for k := range auditFields(&it) {
		if strings.Contains(strings.ToLower(k), "ciphertext") || k == "password" {
			t.Errorf("the audit fields hold %s", k)
		}
	}
}
