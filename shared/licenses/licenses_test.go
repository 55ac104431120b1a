package licenses

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/audit"
	"opsconsole/shared/tree"
)

func decode(t *testing.T, s string) body {
	t.Helper()
	var b body
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadEditCreate(t *testing.T) {
	for _, c := range []struct {
		name, body string
		bad        []string // the fields named, sorted
	}{
		{"minimal", `{"nodeId":"x","type":"agent","name":"Agent one"}`, nil},
		{"everything", `{"nodeId":"x","type":"partner_profile","name":"P","validFrom":"2026-01-01T00:00:00+02:00","validUntil":"2027-01-01T00:00:00Z","seats":10000}`, nil},
		{"seats as 1.0", `{"nodeId":"x","type":"agent","name":"A","seats":1.0}`, nil},
		{"validUntil null", `{"nodeId":"x","type":"agent","name":"A","validUntil":null}`, nil},
		{"type and name required", `{"nodeId":"x"}`, []string{"name", "type"}},
		{"unknown type", `{"nodeId":"x","type":"login","name":"A"}`, []string{"type"}},
		{"empty name", `{"nodeId":"x","type":"agent","name":"  "}`, []string{"name"}},
		{"name not a string", `{"nodeId":"x","type":"agent","name":5}`, []string{"name"}},
		{"seats zero", `{"nodeId":"x","type":"agent","name":"A","seats":0}`, []string{"seats"}},
		{"seats too many", `{"nodeId":"x","type":"agent","name":"A","seats":10001}`, []string{"seats"}},
		{"seats fractional", `{"nodeId":"x","type":"agent","name":"A","seats":1.5}`, []string{"seats"}},
		{"seats a string", `{"nodeId":"x","type":"agent","name":"A","seats":"2"}`, []string{"seats"}},
		{"seats null", `{"nodeId":"x","type":"agent","name":"A","seats":null}`, []string{"seats"}},
		{"validFrom not RFC 3339", `{"nodeId":"x","type":"agent","name":"A","validFrom":"2026-01-01"}`, []string{"validFrom"}},
		{"validFrom null", `{"nodeId":"x","type":"agent","name":"A","validFrom":null}`, []string{"validFrom"}},
		{"validUntil a number", `{"nodeId":"x","type":"agent","name":"A","validUntil":1}`, []string{"validUntil"}},
		{"year past 9999 in UTC", `{"nodeId":"x","type":"agent","name":"A","validUntil":"9999-12-31T23:00:00-02:00"}`, []string{"validUntil"}},
		{"unknown member", `{"nodeId":"x","type":"agent","name":"A","status":"inactive"}`, []string{"status"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errs := readEdit(decode(t, c.body), true)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.bad) {
				t.Fatalf("fields at fault %v, want %v (%v)", got, c.bad, errs)
			}
		})
	}
}

func TestReadEditUpdate(t *testing.T) {
	_, errs := readEdit(decode(t, `{"nodeId":"org_x","name":"B"}`), false)
	if len(errs) != 1 || errs[0].Field != "nodeId" || !strings.Contains(errs[0].Message, "cannot be changed") {
		t.Fatalf("a PATCH of nodeId: %v", errs)
	}
	e, errs := readEdit(decode(t, `{"validUntil":null,"seats":3}`), false)
	if len(errs) != 0 || e.validUntil == nil || *e.validUntil != "" || *e.seats != 3 || e.name != nil {
		t.Fatalf("edit %+v, errors %v", e, errs)
	}
}

func TestApplyValidity(t *testing.T) {
	base := Item{Name: "A", Attrs: Attrs{Type: TypeAgent, ValidFrom: "2026-01-01T00:00:00Z", Seats: 1}}
	for _, c := range []struct {
		name, body string
		field      string // "" when valid
	}{
		{"until after from", `{"validUntil":"2026-01-01T00:00:01Z"}`, ""},
		{"until equal to from", `{"validUntil":"2026-01-01T00:00:00Z"}`, "validUntil"},
		{"until before from", `{"validUntil":"2025-12-31T23:59:59Z"}`, "validUntil"},
		{"until equal to the second", `{"validUntil":"2026-01-01T00:00:00.900Z"}`, "validUntil"},
		{"until in the past is allowed", `{"validFrom":"2020-01-01T00:00:00Z","validUntil":"2020-06-01T00:00:00Z"}`, ""},
		{"from moved past an existing until", `{"validFrom":"2027-01-01T00:00:00Z"}`, "validFrom"},
		{"offsets are compared in UTC", `{"validUntil":"2026-01-01T01:00:00+02:00"}`, "validUntil"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := base
			if c.name == "from moved past an existing until" {
				before.Attrs.ValidUntil = "2026-06-01T00:00:00Z"
			}
			b := decode(t, c.body)
			e, errs := readEdit(b, false)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			_, errs = apply(before, e, b)
			switch {
			case c.field == "" && len(errs) > 0:
				t.Fatalf("refused: %v", errs)
			case c.field != "" && (len(errs) != 1 || errs[0].Field != c.field):
				t.Fatalf("errors %v, want one naming %s", errs, c.field)
			}
		})
	}
}

func TestStatusAt(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, stored, until, want string
	}{
		{"active without end", StatusActive, "", StatusActive},
		{"inactive without end", StatusInactive, "", StatusInactive},
		{"active, ends later", StatusActive, "2026-06-01T12:00:01Z", StatusActive},
		{"active, ends now", StatusActive, "2026-06-01T12:00:00Z", StatusExpired},
		{"active, ended", StatusActive, "2026-05-01T00:00:00Z", StatusExpired},
		{"inactive, ended", StatusInactive, "2026-05-01T00:00:00Z", StatusExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			it := Item{Status: c.stored, Attrs: Attrs{ValidUntil: c.until}}
			if got := it.StatusAt(now); got != c.want {
				t.Fatalf("StatusAt = %s, want %s", got, c.want)
			}
			if got := it.StatusAt(now.Add(-24 * time.Hour * 365)); c.stored != got {
				t.Fatalf("a year earlier StatusAt = %s, want the stored %s", got, c.stored)
			}
		})
	}
}

func TestIndexKeys(t *testing.T) {
	it := Item{ID: "lic_1", ParentID: "org_o", Path: []string{tree.PlatformID, "dst_d", "prt_p", "org_o"},
		Name: "Agent One", Status: StatusInactive, Attrs: Attrs{Type: TypeAgent}}
	it.SetIndexKeys()
	wantSK := "dst_d/prt_p/org_o/" + sep + "agent one" + sep + "lic_1"
	for _, c := range [][2]string{
		{it.GSI1PK, "LICENSES#org_o"}, {it.GSI1SK, "agent one" + sep + "lic_1"},
		{it.GSI3PK, "LICENSES"}, {it.GSI4PK, "LICENSES#type#agent"},
		{it.GSI5PK, "LICENSES#status#inactive"}, {it.GSI6PK, "LICENSES#type#agent#status#inactive"},
		{it.GSI3SK, wantSK}, {it.GSI4SK, wantSK}, {it.GSI5SK, wantSK}, {it.GSI6SK, wantSK},
	} {
		if c[0] != c[1] {
			t.Errorf("key %q, want %q", c[0], c[1])
		}
	}
	// Every node of the lineage lists the license with its prefix; a sibling does not.
	for _, lineage := range [][]string{{tree.PlatformID}, {tree.PlatformID, "dst_d"}, {tree.PlatformID, "dst_d", "prt_p"}, it.Path} {
		if !strings.HasPrefix(wantSK, BranchPrefix(lineage)) {
			t.Errorf("%v does not list its license", lineage)
		}
	}
	if strings.HasPrefix(wantSK, BranchPrefix([]string{tree.PlatformID, "dst_d", "prt_p2"})) {
		t.Error("a sibling partner lists the license")
	}
	if BranchPrefix([]string{tree.PlatformID}) != "" {
		t.Error("the platform's prefix is not empty")
	}
}

func TestListInput(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	partner := tree.Node{ID: "prt_p", Kind: tree.KindPartner, Path: []string{tree.PlatformID, "dst_d"}}
	for _, c := range []struct {
		typ, status, index string
		filtered           bool
	}{
		{"", "", "GSI3", false},
		{TypeAgent, "", "GSI4", false},
		{"", StatusActive, "GSI5", true},
		{TypeAgent, StatusInactive, "GSI6", true},
		{"", StatusExpired, "GSI3", true},
		{TypePartnerProfile, StatusExpired, "GSI4", true},
	} {
		t.Run(c.typ+"/"+c.status, func(t *testing.T) {
			in, keys, err := listInput(partner, c.typ, c.status, now)
			if err != nil {
				t.Fatal(err)
			}
			if *in.IndexName != c.index || keys[2] != c.index+"PK" {
				t.Fatalf("index %s, keys %v; want %s", *in.IndexName, keys, c.index)
			}
			if (in.FilterExpression != nil) != c.filtered {
				t.Fatalf("filter %v, want filtered %v", in.FilterExpression, c.filtered)
			}
			if !strings.Contains(*in.KeyConditionExpression, "begins_with") {
				t.Fatalf("key condition %s does not bound the branch", *in.KeyConditionExpression)
			}
		})
	}
	in, _, _ := listInput(tree.Node{ID: tree.PlatformID, Kind: tree.KindPlatform}, "", "", now)
	if strings.Contains(*in.KeyConditionExpression, "begins_with") {
		t.Fatal("the platform's list is bounded")
	}
}

func TestKeyAndID(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){7}$`)
	seen := map[string]bool{}
	for range 100 {
		k, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(k) || seen[k] {
			t.Fatalf("key %q malformed or repeated", k)
		}
		seen[k] = true
	}
	if id := NewID(); !ValidID(id) {
		t.Fatalf("NewID %q is not a ValidID", id)
	}
	for _, id := range []string{"", "lic_", "lic_" + strings.Repeat("A", 26), "org_" + strings.Repeat("a", 26), "lic_" + strings.Repeat("a", 27)} {
		if ValidID(id) {
			t.Errorf("ValidID(%q)", id)
		}
	}
}

func TestAuditOmitsKey(t *testing.T) {
	it := Item{ID: "lic_1", Name: "A", Path: []string{tree.PlatformID, "dst_d"}, Attrs: Attrs{Key: "SECRET-KEY", Type: TypeAgent}}
	c := Change("created", nil, &it)
	for _, ch := range audit.Diff(c.Before, c.After) {
		if ch.Field == "key" || ch.After == "SECRET-KEY" {
			t.Fatalf("the audit record shows the key: %+v", ch)
		}
	}
	if !slices.Equal(c.Scope, it.Path) || c.Action != "license.created" {
		t.Fatalf("change %+v", c)
	}
}
