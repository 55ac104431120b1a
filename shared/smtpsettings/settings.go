// Package smtpsettings is the mail settings of a client service, a partner or an
// organization (GET, PUT, DELETE /v1/{client-services|partners|organizations}/{id}/smtp
// and POST …/smtp/test), and the Router that sends every email to a user through the
// settings of the nearest node on the recipient's lineage that has them (organization,
// then partner), else through the system transport.
//
// Each owner's settings are one item in the owner's partition (SK SMTP: nodes.SMTPKey,
// clientservices.SMTPKey), removed with the owner. The password is write-only: it is
// encrypted with the secrets KMS key (SECRETS_KEY_ID), bound by the encryption context
// to its owner, and only its ciphertext is stored; no view, audit entry or log line
// holds it.
package smtpsettings

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"opsconsole/shared/identity"
	"opsconsole/shared/problem"
	"opsconsole/shared/smtpclient"
	"opsconsole/shared/ssrf"
)

// ItemType is the type attribute of a settings item.
const ItemType = "smtp-settings"

// Item is an owner's settings as stored.
type Item struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	OwnerID   string `dynamodbav:"ownerId"`
	OwnerKind string `dynamodbav:"ownerKind"`
	Host      string `dynamodbav:"host"`
	Port      int    `dynamodbav:"port"`
	TLSMode   string `dynamodbav:"tlsMode"`
	Username  string `dynamodbav:"username,omitempty"`
	// PasswordCiphertext is the KMS ciphertext of the password (never the password).
	PasswordCiphertext []byte `dynamodbav:"passwordCiphertext,omitempty"`
	// PasswordSetAt is when the password was last given: what the audit log and the
	// views show of it.
	PasswordSetAt string `dynamodbav:"passwordSetAt,omitempty"`
	FromAddress   string `dynamodbav:"fromAddress"`
	FromName      string `dynamodbav:"fromName,omitempty"`
	Version       int    `dynamodbav:"version"`
	CreatedAt     string `dynamodbav:"createdAt"`
	UpdatedAt     string `dynamodbav:"updatedAt"`
}

// The modes a view shows.
const (
	ModeSystem = "system"
	ModeCustom = "custom"
)

// View is what GET …/smtp answers: mode system (no settings: the system transport),
// or custom with the settings, the password only as whether it is set and when.
type View struct {
	Mode          string `json:"mode"`
	Host          string `json:"host,omitempty"`
	Port          int    `json:"port,omitempty"`
	TLSMode       string `json:"tlsMode,omitempty"`
	Username      string `json:"username,omitempty"`
	PasswordSet   *bool  `json:"passwordSet,omitempty"`
	PasswordSetAt string `json:"passwordSetAt,omitempty"`
	FromAddress   string `json:"fromAddress,omitempty"`
	FromName      string `json:"fromName,omitempty"`
	Version       int    `json:"version,omitempty"`
	UpdatedAt     string `json:"updatedAt,omitempty"`
}

// SystemView is the view of an owner without settings.
var SystemView = View{Mode: ModeSystem}

// View is the item as the API shows it.
func (it Item) View() View {
	set := len(it.PasswordCiphertext) > 0
	return View{
		Mode: ModeCustom, Host: it.Host, Port: it.Port, TLSMode: it.TLSMode, Username: it.Username,
		PasswordSet: &set, PasswordSetAt: it.PasswordSetAt, FromAddress: it.FromAddress, FromName: it.FromName,
		Version: it.Version, UpdatedAt: it.UpdatedAt,
	}
}

// auditFields are what the audit log compares: the password as when it was set.
func auditFields(it *Item) map[string]any {
	if it == nil {
		return nil
	}
	m := map[string]any{
		"host": it.Host, "port": it.Port, "tlsMode": it.TLSMode, "username": it.Username,
		"fromAddress": it.FromAddress, "fromName": it.FromName,
	}
	if it.PasswordSetAt != "" {
		m["passwordSetAt"] = it.PasswordSetAt
	}
	return m
}

// Bounds of the fields.
const (
	MaxHost     = 253
	MaxUsername = 256
	MaxPassword = 256
	MaxFromName = 100
)

// Fields are the members of a PUT body.
var Fields = []string{"host", "port", "tlsMode", "username", "password", "fromAddress", "fromName"}

// Settings is a validated PUT body; Password nil keeps the stored one.
type Settings struct {
	Host, TLSMode, Username, FromAddress, FromName string
	Port                                           int
	Password                                       *string
}

var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// cleanHost checks a host name (RFC 1123 labels) or an IP address literal, without
// brackets, and gives it in lower case.
func cleanHost(s string) (string, string) {
	h := strings.ToLower(strings.TrimSpace(s))
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", "must not name a zone"
		}
		return ip.String(), ""
	}
	if h == "" || len(h) > MaxHost {
		return "", fmt.Sprintf("must be a host name or an IP address of at most %d characters", MaxHost)
	}
	for _, l := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if !hostLabel.MatchString(l) {
			return "", "must be a host name (letters, digits and hyphens, in dot-separated labels) or an IP address"
		}
	}
	return strings.TrimSuffix(h, "."), ""
}

// text checks a free-text field: at most max characters, no control characters.
func text(s string, max int) string {
	switch {
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}

// ReadSettings validates a PUT body against guard, naming every wrong or unknown field.
func ReadSettings(b map[string]any, guard Guard) (Settings, []problem.FieldError) {
	var st Settings
	var errs []problem.FieldError
	bad := func(f, msg string) { errs = append(errs, problem.Field(f, msg)) }
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(Fields, k) {
			bad(k, "unknown field")
		}
	}
	str := func(f string, required bool) (string, bool) {
		v, ok := b[f]
		if !ok {
			if required {
				bad(f, "is required")
			}
			return "", false
		}
		s, isStr := v.(string)
		if !isStr {
			bad(f, "must be a string")
			return "", false
		}
		return s, true
	}
	if s, ok := str("host", true); ok {
		h, msg := cleanHost(s)
		if msg == "" {
			msg = guard.CheckHost(h)
		}
		if msg != "" {
			bad("host", msg)
		}
		st.Host = h
	}
	switch v, ok := b["port"]; {
	case !ok:
		bad("port", "is required")
	default:
		n, isNum := v.(float64)
		if !isNum || n != float64(int(n)) || n < 1 || n > 65535 {
			bad("port", "must be an integer from 1 to 65535")
		} else {
			st.Port = int(n)
		}
	}
	if s, ok := str("tlsMode", true); ok {
		if !slices.Contains(smtpclient.TLSModes, s) {
			bad("tlsMode", "must be one of "+strings.Join(smtpclient.TLSModes, ", "))
		}
		st.TLSMode = s
	}
	if s, ok := str("username", false); ok {
		if msg := text(s, MaxUsername); msg != "" {
			bad("username", msg)
		}
		st.Username = s
	}
	if s, ok := str("password", false); ok {
		switch {
		case s == "":
			bad("password", "must not be empty (leave it out to keep the stored one)")
		case text(s, MaxPassword) != "":
			bad("password", text(s, MaxPassword))
		}
		st.Password = &s
	}
	if s, ok := str("fromAddress", true); ok {
		s = identity.TrimEmail(s)
		if !identity.ValidEmail(s) {
			bad("fromAddress", "must be an email address (name@example.com)")
		}
		st.FromAddress = s
	}
	if s, ok := str("fromName", false); ok {
		if msg := text(s, MaxFromName); msg != "" {
			bad("fromName", msg)
		}
		st.FromName = strings.TrimSpace(s)
	}
	return st, errs
}

// AllowEnv names the variable of the hosts a tenant's server may be at locally: a
// comma-separated list of exact hosts (any port), or host:port for one port only (what
// the fuzzing gate sets, so that its tests reach only the server it started), which the
// local runtime sets to 127.0.0.1 unless it is set already. Lambda never has it: there
// only public addresses pass.
const AllowEnv = "LOCAL_SMTP_ALLOW"

// Guard decides which hosts and addresses a tenant's server may be at: webhooks'
// rule (shared/ssrf: public addresses only, judged again at connect time after
// resolution), and locally, where AllowEnv is set, only the exact hosts it lists.
type Guard struct {
	// Local is set when AllowEnv is: only Allow's hosts pass.
	Local bool
	// Allow holds the hosts allowed on any port, and host:port for one port only.
	Allow map[string]bool
}

// GuardFromEnv is the guard of the environment.
func GuardFromEnv() Guard {
	v, ok := os.LookupEnv(AllowEnv)
	g := Guard{Local: ok, Allow: map[string]bool{}}
	for _, h := range strings.Split(v, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if host, port, err := net.SplitHostPort(h); err == nil {
			g.Allow[net.JoinHostPort(host, port)] = true
		} else if h = strings.Trim(h, "[]"); h != "" {
			g.Allow[h] = true
		}
	}
	return g
}

// allowedHost tells whether host is allowed locally, on some port at least.
func (g Guard) allowedHost(host string) bool {
	if g.Allow[host] {
		return true
	}
	for a := range g.Allow {
		if h, _, err := net.SplitHostPort(a); err == nil && h == host {
			return true
		}
	}
	return false
}

// CheckHost judges a host when the settings are stored: "" when it may be used, else
// why not. A name is judged by its addresses when connected to (Control).
func (g Guard) CheckHost(host string) string {
	if g.Local {
		if g.allowedHost(host) {
			return ""
		}
		hosts := make([]string, 0, len(g.Allow))
		for h := range g.Allow {
			hosts = append(hosts, h)
		}
		slices.Sort(hosts)
		return "is not a host this system may reach: locally only " + AllowEnv + " (" + strings.Join(hosts, ", ") + ")"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if reason := ssrf.Classify(ip); reason != "" {
			return "must be a public address, not a " + reason + " one"
		}
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "must be a public host"
	}
	return ""
}

// Control is the dialer's Control function: it runs with the address actually
// dialled, after resolution.
func (g Guard) Control(network, address string, c syscall.RawConn) error {
	if !g.Local {
		return ssrf.Guard{}.Control(context.Background(), network, address, c)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ssrf.ErrRefused, address)
	}
	ip := ap.Addr().WithZone("").String()
	if !g.Allow[ip] && !g.Allow[net.JoinHostPort(ip, strconv.Itoa(int(ap.Port())))] {
		return fmt.Errorf("%w: %s is not in %s", ssrf.ErrRefused, address, AllowEnv)
	}
	return nil
}
