// Package ssrf keeps outgoing requests to customers' URLs (webhook endpoints; tenant
// SMTP servers next) away from the service's own network: an address classifier, a
// URL check for registration, and a dialer whose Control function refuses a
// non-public address at connect time, after DNS resolution, so a name that resolves
// (or rebinds) to an internal address never gets a packet.
//
// In AWS only https URLs on public addresses pass. Locally, LOCAL_WEBHOOK_ALLOW (a
// comma-separated list of exact hosts, which the local runtime sets to 127.0.0.1
// unless it is set already) lets those hosts through over plain http; every other
// address stays refused, so 127.0.0.2 and [::1] are refused locally too. Lambda never
// has the variable, so nothing is let through there.
package ssrf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// AllowEnv names the variable of the hosts let through locally.
const AllowEnv = "LOCAL_WEBHOOK_ALLOW"

// refused is one refused range and the reason given for it.
type refused struct {
	prefix netip.Prefix
	reason string
}

func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Refused lists every range no outgoing connection may reach, IPv4 then IPv6. An
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as its IPv4 address.
var Refused = []refused{
	{p("0.0.0.0/8"), "unspecified"},
	{p("10.0.0.0/8"), "private"},
	{p("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{p("127.0.0.0/8"), "loopback"},
	// 169.254.169.254 is the metadata service of AWS, GCP and Azure.
	{p("169.254.0.0/16"), "link-local (cloud metadata)"},
	{p("172.16.0.0/12"), "private"},
	// 192.0.0.192 is Oracle Cloud's metadata service.
	{p("192.0.0.0/24"), "IETF protocol assignments (cloud metadata)"},
	{p("192.0.2.0/24"), "documentation"},
	{p("192.88.99.0/24"), "6to4 relay"},
	{p("192.168.0.0/16"), "private"},
	{p("198.18.0.0/15"), "benchmarking"},
	{p("198.51.100.0/24"), "documentation"},
	{p("203.0.113.0/24"), "documentation"},
	{p("224.0.0.0/4"), "multicast"},
	{p("240.0.0.0/4"), "reserved"},
	{p("255.255.255.255/32"), "broadcast"},
	{p("::/128"), "unspecified"},
	{p("::1/128"), "loopback"},
	// Deprecated IPv4-compatible addresses (::a.b.c.d) reach IPv4 through tunnels.
	{p("::/96"), "IPv4-compatible"},
	// NAT64 reaches any IPv4 address, internal ones too.
	{p("64:ff9b::/96"), "NAT64"},
	{p("64:ff9b:1::/48"), "NAT64 (local use)"},
	{p("100::/64"), "discard"},
	{p("2001::/23"), "IETF protocol assignments (Teredo)"},
	{p("2001:db8::/32"), "documentation"},
	{p("2002::/16"), "6to4"},
	// fd00:ec2::254 is the AWS metadata service over IPv6.
	{p("fc00::/7"), "unique-local (cloud metadata)"},
	{p("fe80::/10"), "link-local"},
	{p("fec0::/10"), "site-local"},
	{p("ff00::/8"), "multicast"},
}

// Classify tells why ip may not be connected to, or "" when it is a public address.
func Classify(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.Unmap().WithZone("")
	for _, r := range Refused {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

// Guard decides which URLs and addresses outgoing requests may use.
type Guard struct {
	// Allow holds the exact hosts let through whatever their address, over http
	// too (LOCAL_WEBHOOK_ALLOW); empty in AWS.
	Allow map[string]bool
}

// FromEnv is the guard LOCAL_WEBHOOK_ALLOW describes (none let through when unset).
func FromEnv() Guard {
	g := Guard{Allow: map[string]bool{}}
	for _, h := range strings.Split(os.Getenv(AllowEnv), ",") {
		if h = strings.TrimSpace(h); h != "" {
			g.Allow[strings.ToLower(strings.Trim(h, "[]"))] = true
		}
	}
	return g
}

// ErrRefused is wrapped by every refusal.
var ErrRefused = errors.New("refused")

// MaxURL bounds a URL's length.
const MaxURL = 2048

// CheckURL judges a URL at registration: absolute, https (http only for an allowed
// host), no user information or fragment, and, where the host is a literal address,
// a public one. A host name is judged when connected to (Control).
func (g Guard) CheckURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURL {
		return nil, fmt.Errorf("must be at most %d characters", MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("must be an absolute https URL")
	}
	host := strings.ToLower(u.Hostname())
	allowed := g.Allow[host]
	switch {
	case u.User != nil:
		return nil, errors.New("must not hold a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("must not hold a fragment")
	case host == "":
		return nil, errors.New("must name a host")
	case u.Scheme == "http" && !allowed:
		return nil, errors.New("must use https")
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("must use https")
	}
	if ip, err := netip.ParseAddr(host); err == nil && !allowed {
		if reason := Classify(ip); reason != "" {
			return nil, fmt.Errorf("%w: %s is a %s address", ErrRefused, host, reason)
		}
	}
	return u, nil
}

// CheckAddr judges the address a connection is about to be made to, for a URL
// whose host was host: an allowed host is let through only to its own literal
// address (127.0.0.1 to 127.0.0.1), so a name that resolves to an allowed address
// (localhost) is still refused.
func (g Guard) CheckAddr(host string, ip netip.Addr) error {
	ip = ip.WithZone("")
	// Only the address exactly as listed: ::ffff:127.0.0.1 is not 127.0.0.1 here.
	if g.Allow[ip.String()] && strings.Trim(strings.ToLower(host), "[]") == ip.String() {
		return nil
	}
	if reason := Classify(ip); reason != "" {
		return fmt.Errorf("%w: %s is a %s address", ErrRefused, ip, reason)
	}
	return nil
}

type hostKey struct{}

// Control is a net.Dialer's ControlContext function: it runs after resolution, just
// before the connection, with the address actually dialled (and, from the context
// DialContext gives it, the host asked for).
func (g Guard) Control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrRefused, address)
	}
	host, _ := ctx.Value(hostKey{}).(string)
	return g.CheckAddr(host, ap.Addr())
}

// DialContext is a dialer for an http.Transport that connects only where the guard
// allows, giving up after timeout.
func (g Guard) DialContext(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, ControlContext: g.Control}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		return d.DialContext(context.WithValue(ctx, hostKey{}, host), network, addr)
	}
}
