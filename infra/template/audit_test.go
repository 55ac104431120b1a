package template

import (
	"slices"
	"testing"
)

// The audit log is immutable by construction (issue: the audit log as a product): no
// function's role may write an audit entry's partition but the audit writer's, which
// may only put entries, and entries leave only by TTL after AuditRetentionDays. The
// permissions boundaries say so; this test keeps every function under one.
func TestAuditIsImmutable(t *testing.T) {
	tpl := load(t)
	writes := []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
		"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}
	changes := []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}

	// denies returns the actions boundary denies on the table's partition pattern.
	denies := func(t *testing.T, boundary, partition string) []string {
		t.Helper()
		r, ok := tpl.Resources[boundary]
		if !ok || r.Type != "AWS::IAM::ManagedPolicy" {
			t.Fatalf("no managed policy %s", boundary)
		}
		var denied []string
		for _, st := range AsSlice(AsMap(r.Properties["PolicyDocument"])["Statement"]) {
			s := AsMap(st)
			if s["Effect"] != "Deny" || !slices.Contains(References(s["Resource"]), "Table") {
				continue
			}
			keys := AsSlice(AsMap(AsMap(s["Condition"])["ForAnyValue:StringLike"])["dynamodb:LeadingKeys"])
			if !slices.Contains(keys, any(partition)) {
				continue
			}
			for _, a := range AsSlice(s["Action"]) {
				denied = append(denied, a.(string))
			}
		}
		return denied
	}
	// The audit entries, their history copies, the writer's arrival markers (which
	// say which digests to make) and the digests.
	entries := []string{"AUDIT#*", "AUDITT#*", "AUDITQ#*"}
	const digests = "DIGEST#*"
	mustDeny := func(t *testing.T, boundary string, partitions []string, actions []string) {
		t.Helper()
		for _, p := range partitions {
			denied := denies(t, boundary, p)
			for _, a := range actions {
				if !slices.Contains(denied, a) {
					t.Errorf("%s does not deny %s on %s", boundary, a, p)
				}
			}
		}
	}
	t.Run("every function's boundary forbids writing audit entries and digests", func(t *testing.T) {
		if got := References(tpl.Globals.Function["PermissionsBoundary"]); !slices.Equal(got, []string{"AuditImmutableBoundary"}) {
			t.Fatalf("Globals.Function.PermissionsBoundary refers to %v, want AuditImmutableBoundary", got)
		}
		mustDeny(t, "AuditImmutableBoundary", append(entries, digests), writes)
	})
	t.Run("the audit writer may put entries, never change or delete one, nor write a digest", func(t *testing.T) {
		mustDeny(t, "AuditWriterBoundary", entries, changes)
		mustDeny(t, "AuditWriterBoundary", []string{digests}, writes)
		if denied := denies(t, "AuditWriterBoundary", "AUDIT#*"); slices.Contains(denied, "dynamodb:PutItem") {
			t.Error("AuditWriterBoundary denies the writer its puts")
		}
	})
	t.Run("the digest maker may put digests, never change or delete one, nor write an entry", func(t *testing.T) {
		mustDeny(t, "AuditDigestBoundary", []string{digests}, changes)
		mustDeny(t, "AuditDigestBoundary", entries, writes)
		if denied := denies(t, "AuditDigestBoundary", digests); slices.Contains(denied, "dynamodb:PutItem") {
			t.Error("AuditDigestBoundary denies the maker its puts")
		}
	})
	t.Run("no other function escapes the boundary", func(t *testing.T) {
		fns, err := tpl.Functions()
		if err != nil {
			t.Fatal(err)
		}
		own := map[string]string{"AuditWriterFunction": "AuditWriterBoundary", "AuditDigestMakerFunction": "AuditDigestBoundary"}
		for _, f := range fns {
			b, set := tpl.Resources[f.LogicalID].Properties["PermissionsBoundary"]
			if f.Role != nil {
				// SAM applies neither Globals' boundary nor the function's to a role it
				// did not make: a shared role must carry the boundary itself.
				if got := References(f.Role.Properties["PermissionsBoundary"]); !slices.Equal(got, []string{"AuditImmutableBoundary"}) {
					t.Errorf("%s: its role %s has the boundary %v, want AuditImmutableBoundary", f.LogicalID, f.Role.LogicalID, got)
				}
				if _, special := own[f.LogicalID]; special {
					t.Errorf("%s shares role %s; it needs its own, with %s", f.LogicalID, f.Role.LogicalID, own[f.LogicalID])
				}
				continue
			}
			switch want, special := own[f.LogicalID]; {
			case special:
				if !slices.Equal(References(b), []string{want}) {
					t.Errorf("%s's boundary refers to %v, want %s", f.LogicalID, References(b), want)
				}
			case set:
				t.Errorf("%s sets a boundary of its own: %v", f.LogicalID, b)
			}
		}
	})
	t.Run("entries leave by TTL after AuditRetentionDays", func(t *testing.T) {
		p, ok := tpl.Parameters["AuditRetentionDays"]
		if !ok || p.Default == nil {
			t.Fatal("no AuditRetentionDays parameter with a default")
		}
		env := AsMap(AsMap(tpl.Resources["AuditWriterFunction"].Properties["Environment"])["Variables"])
		if !slices.Contains(References(env["AUDIT_RETENTION_DAYS"]), "AuditRetentionDays") {
			t.Errorf("the audit writer's AUDIT_RETENTION_DAYS is %v, want !Ref AuditRetentionDays", env["AUDIT_RETENTION_DAYS"])
		}
		ttl := AsMap(tpl.Resources["Table"].Properties["TimeToLiveSpecification"])
		if ttl["AttributeName"] != "expiresAt" || ttl["Enabled"] != true {
			t.Errorf("the table's TTL is %v, want expiresAt enabled", ttl)
		}
	})
}
