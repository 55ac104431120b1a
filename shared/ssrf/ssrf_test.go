package ssrf

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// Every case is judged by the classifier or the control function alone: no test here
// opens a connection.
func TestClassify(t *testing.T) {
	cases := []struct {
		ip, reason string
	}{
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.1", "shared (carrier-grade NAT)"},
		{"100.100.100.200", "shared (carrier-grade NAT)"}, // Alibaba's metadata
		{"127.0.0.1", "loopback"},
		{"127.0.0.2", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.169.254", "link-local (cloud metadata)"},
		{"169.254.0.1", "link-local (cloud metadata)"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.0.0.192", "IETF protocol assignments (cloud metadata)"},
		{"192.0.2.1", "documentation"},
		{"192.88.99.1", "6to4 relay"},
		{"192.168.1.1", "private"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "reserved"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:169.254.169.254", "link-local (cloud metadata)"},
		{"::ffff:192.168.0.1", "private"},
		{"64:ff9b::a00:1", "NAT64"},
		{"64:ff9b:1::1", "NAT64 (local use)"},
		{"100::1", "discard"},
		{"2001::1", "IETF protocol assignments (Teredo)"},
		{"2001:db8::1", "documentation"},
		{"2002:a00:1::1", "6to4"},
		{"fc00::1", "unique-local (cloud metadata)"},
		{"fd00:ec2::254", "unique-local (cloud metadata)"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		// Public addresses pass.
		{"1.1.1.1", ""},
		{"8.8.8.8", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"::ffff:8.8.8.8", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001::200e", ""},
	}
	for _, c := range cases {
		if got := Classify(netip.MustParseAddr(c.ip)); got != c.reason {
			t.Errorf("Classify(%s) = %q, want %q", c.ip, got, c.reason)
		}
	}
	// Every refused range has a case above.
	for _, r := range Refused {
		found := false
		for _, c := range cases {
			if c.reason != "" && r.prefix.Contains(netip.MustParseAddr(c.ip).Unmap().WithZone("")) {
				found = true
			}
		}
		if !found {
			t.Errorf("range %s has no case", r.prefix)
		}
	}
	if Classify(netip.Addr{}) == "" {
		t.Error("the zero address passes")
	}
}

func TestControl(t *testing.T) {
	local := Guard{Allow: map[string]bool{"127.0.0.1": true}}
	strict := Guard{}
	cases := []struct {
		g    Guard
		host string
		addr string
		ok   bool
	}{
		{local, "127.0.0.1", "127.0.0.1:8080", true},
		// A name that resolves to the allowed address is still refused.
		{local, "localhost", "127.0.0.1:8080", false},
		{local, "127.0.0.2", "127.0.0.2:8080", false},
		{local, "::1", "[::1]:8080", false},
		{local, "::ffff:127.0.0.1", "[::ffff:127.0.0.1]:8080", false},
		{local, "10.0.0.1", "10.0.0.1:443", false},
		{local, "169.254.169.254", "169.254.169.254:80", false},
		{local, "93.184.215.14", "93.184.215.14:443", true},
		{strict, "127.0.0.1", "127.0.0.1:8080", false},
		{strict, "fd00:ec2::254", "[fd00:ec2::254]:80", false},
		{strict, "2606:4700:4700::1111", "[2606:4700:4700::1111]:443", true},
		{strict, "x", "not-an-address:80", false},
	}
	for _, c := range cases {
		ctx := context.WithValue(context.Background(), hostKey{}, c.host)
		err := c.g.Control(ctx, "tcp", c.addr, nil)
		if (err == nil) != c.ok {
			t.Errorf("Control(%s) with %v = %v, want ok=%v", c.addr, c.g.Allow, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("Control(%s): %v is not ErrRefused", c.addr, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	local := Guard{Allow: map[string]bool{"127.0.0.1": true}}
	cases := []struct {
		g       Guard
		url     string
		problem string // "" when accepted
	}{
		{Guard{}, "https://hooks.example.com/in", ""},
		{Guard{}, "https://hooks.example.com:8443/in?x=1", ""},
		{Guard{}, "http://hooks.example.com/in", "https"},
		{Guard{}, "ftp://hooks.example.com/in", "https"},
		{Guard{}, "https://user:pw@hooks.example.com/in", "user name"},
		{Guard{}, "https://hooks.example.com/in#x", "fragment"},
		{Guard{}, "/relative", "absolute"},
		{Guard{}, "https://127.0.0.1/in", "loopback"},
		{Guard{}, "https://[::1]/in", "loopback"},
		{Guard{}, "https://[::ffff:10.0.0.1]/in", "private"},
		{Guard{}, "https://169.254.169.254/latest/meta-data", "metadata"},
		{Guard{}, "https://" + strings.Repeat("a", MaxURL) + ".example", "at most"},
		{local, "http://127.0.0.1:9999/in", ""},
		{local, "http://127.0.0.2:9999/in", "https"},
		{local, "https://127.0.0.2:9999/in", "loopback"},
		{local, "http://[::1]:9999/in", "https"},
		{local, "https://[::1]:9999/in", "loopback"},
	}
	for _, c := range cases {
		_, err := c.g.CheckURL(c.url)
		switch {
		case c.problem == "" && err != nil:
			t.Errorf("CheckURL(%.60s) = %v, want accepted", c.url, err)
		case c.problem != "" && (err == nil || !strings.Contains(err.Error(), c.problem)):
			t.Errorf("CheckURL(%.60s) = %v, want a refusal naming %q", c.url, err, c.problem)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(AllowEnv, "127.0.0.1, [::1] ,Hooks.Local")
	g := FromEnv()
	for _, h := range []string{"127.0.0.1", "::1", "hooks.local"} {
		if !g.Allow[h] {
			t.Errorf("%s not allowed", h)
		}
	}
	t.Setenv(AllowEnv, "")
	if len(FromEnv().Allow) != 0 {
		t.Error("an empty variable allows something")
	}
}
