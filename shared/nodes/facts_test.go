package nodes

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

func TestKindOfID(t *testing.T) {
	for id, want := range map[string]tree.Kind{
		"platform":                        tree.KindPlatform,
		"dst_01jh4m3k9v2c8x7r6t5y4w3q2p":  tree.KindDistributor,
		"prt_01jh4m5q7n3d9z8s6u4v2x1y0w":  tree.KindPartner,
		"org_01jh4m7b2k5n8q1t4w7z0c3f6h":  tree.KindOrganization,
		"cmp_01jh4m8d5g7j9l1n3p5r7t9v1x":  tree.KindCompany,
		"eu_01jh4m9f8h0k2m4p6s8u0w2y4a":   tree.KindEndUser,
		"prt_01JH4M5Q7N3D9Z8S6U4V2X1Y0W":  "",
		"nope":                            "",
		"dst_01jh4m3k9v2c8x7r6t5y4w3q2pX": "",
		"dst_":                            "",
	} {
		t.Run(id, func(t *testing.T) {
			got, ok := KindOfID(id)
			if got != want || ok != (want != "") {
				t.Errorf("KindOfID(%q) = %q, %v; want %q", id, got, ok, want)
			}
			if ok && want != tree.KindPlatform && !ValidID(want, id) {
				t.Errorf("KindOfID and ValidID disagree on %q", id)
			}
		})
	}
	for _, k := range []tree.Kind{tree.KindDistributor, tree.KindPartner, tree.KindOrganization, tree.KindCompany, tree.KindEndUser} {
		if got, ok := KindOfID(NewID(k)); !ok || got != k {
			t.Errorf("a new %s id reads as %q", k, got)
		}
	}
}

func TestBlocking(t *testing.T) {
	raw := func(t *testing.T, status string, deleting bool) store.Item {
		av, err := attributevalue.MarshalMap(Item{ID: "org_x", Kind: tree.KindOrganization, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		if deleting {
			av[DeletingAttr] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
		}
		return av
	}
	for _, c := range []struct {
		name     string
		status   string
		deleting bool
		want     bool
	}{
		{"approved", "approved", false, false},
		{"active", "active", false, false},
		{"pending", "pending", false, true},
		{"rejected", "rejected", false, true},
		{"deactivated", "deactivated", false, true},
		{"suspended", "suspended", false, true},
		{"approved but being deleted", "approved", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			it, blocked, err := Blocking(raw(t, c.status, c.deleting))
			if err != nil {
				t.Fatal(err)
			}
			if blocked != c.want || it.Status != c.status {
				t.Errorf("blocked %v (status %q), want %v", blocked, it.Status, c.want)
			}
		})
	}
}

func TestKeysAndStamp(t *testing.T) {
	if got := Key("org_x"); got["PK"].(*types.AttributeValueMemberS).Value != "NODE#org_x" || got["SK"].(*types.AttributeValueMemberS).Value != "NODE" {
		t.Errorf("key %v", got)
	}
	it := NewChild(tree.Node{ID: "prt_p", Kind: tree.KindPartner, Path: []string{"platform", "dst_d"}}, tree.KindOrganization, "Acme", "approved",
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)))
	if it.PK != PK(it.ID) || it.SK != SK || it.CreatedAt != "2026-01-02T02:04:05Z" {
		t.Errorf("child %+v", it)
	}
	if n := NameOf(it); n.PK != "UNIQUE#organization-name#prt_p#acme" || n.SK != UniqueSK || n.OwnerID != it.ID {
		t.Errorf("name %+v", n)
	}
}
