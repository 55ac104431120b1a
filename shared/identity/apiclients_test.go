package identity

import (
	"errors"
	"testing"
	"time"

	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

func TestClientIDOfSub(t *testing.T) {
	id := ClientIDOfSub("0F8E2B7C-9D3A-4E5F-8A1B-2C3D4E5F6A7B")
	if id != "cli_0f8e2b7c9d3a4e5f8a1b2c3d4e5f6a7b" || !ValidClientID(id) {
		t.Fatalf("%q", id)
	}
	for _, bad := range []string{"", "not-a-uuid", "0f8e2b7c9d3a4e5f8a1b2c3d4e5f6a7b", "zf8e2b7c-9d3a-4e5f-8a1b-2c3d4e5f6a7b"} {
		if ClientIDOfSub(bad) != "" {
			t.Errorf("%q gave an id", bad)
		}
	}
	for _, bad := range []string{"cli_0F8E2B7C9D3A4E5F8A1B2C3D4E5F6A7B", "cli_0f8e", "usr_0f8e2b7c9d3a4e5f8a1b2c3d4e5f6a7b"} {
		if ValidClientID(bad) {
			t.Errorf("%q valid", bad)
		}
	}
}

func TestClientRefusal(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	ok := ClientItem{Status: ClientActive, Role: tree.RolePartnerAdmin, NodeKind: tree.KindPartner}
	with := func(f func(*ClientItem)) ClientItem { c := ok; f(&c); return c }
	for _, tc := range []struct {
		name string
		c    ClientItem
		ip   string
		want *problem.Problem
	}{
		{"active, any address", ok, "198.51.100.7", nil},
		{"revoked", with(func(c *ClientItem) { c.Status = ClientRevoked }), "127.0.0.1", problem.ClientRefused()},
		{"expired", with(func(c *ClientItem) { c.Attrs.ExpiresAt = "2026-12-02T03:59:59Z" }), "127.0.0.1", problem.ClientRefused()},
		{"not expired yet", with(func(c *ClientItem) { c.Attrs.ExpiresAt = "2026-12-02T04:00:01Z" }), "127.0.0.1", nil},
		{"a role not of its level", with(func(c *ClientItem) { c.Role = tree.RolePlatformAdmin }), "127.0.0.1", problem.ClientRefused()},
		{"inside allowedIps", with(func(c *ClientItem) { c.Attrs.AllowedIPs = []string{"203.0.113.0/24"} }), "203.0.113.9", nil},
		{"an IPv4-mapped address inside", with(func(c *ClientItem) { c.Attrs.AllowedIPs = []string{"203.0.113.0/24"} }), "::ffff:203.0.113.9", nil},
		{"outside allowedIps", with(func(c *ClientItem) { c.Attrs.AllowedIPs = []string{"203.0.113.0/24"} }), "127.0.0.1", problem.AddressNotAllowed()},
		{"no address", with(func(c *ClientItem) { c.Attrs.AllowedIPs = []string{"0.0.0.0/0"} }), "", problem.AddressNotAllowed()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Refusal(now, tc.ip)
			var p *problem.Problem
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != nil && (!errors.As(err, &p) || p.Type != tc.want.Type):
				t.Fatalf("got %v, want %s", err, tc.want.Type)
			}
		})
	}
}
