package tree

import (
	"errors"
	"testing"
)

func TestAllow(t *testing.T) {
	platform := Node{ID: PlatformID, Kind: KindPlatform, Path: []string{}}
	distA := Node{ID: "dst_a", Kind: KindDistributor, Path: []string{PlatformID}}
	distB := Node{ID: "dst_b", Kind: KindDistributor, Path: []string{PlatformID}}
	partnerA := Node{ID: "prt_a", Kind: KindPartner, Path: []string{PlatformID, "dst_a"}}

	cases := []struct {
		name   string
		op     Operation
		caller Caller
		target *Node
		want   error
	}{
		{"platform admin acts on a distributor below", OpDistributorsUpdate, Caller{Role: RolePlatformAdmin, Node: platform}, &distA, nil},
		{"platform admin creates at the top", OpDistributorsCreate, Caller{Role: RolePlatformAdmin, Node: platform}, nil, nil},
		{"distributor admin may not edit its own distributor", OpDistributorsUpdate, Caller{Role: RoleDistributorAdmin, Node: distA}, &distA, ErrRoleTooLow},
		{"distributor admin does not see a sibling distributor", OpDistributorsGet, Caller{Role: RoleDistributorAdmin, Node: distA}, &distB, ErrOutsideBranch},
		{"partner admin does not see its ancestor", OpDistributorsGet, Caller{Role: RolePartnerAdmin, Node: partnerA}, &distA, ErrOutsideBranch},
		{"distributor admin may not create distributors", OpDistributorsCreate, Caller{Role: RoleDistributorAdmin, Node: distA}, nil, ErrRoleTooLow},
		{"end user reads their own profile", OpMeGet, Caller{Role: RoleEndUser, Node: partnerA}, nil, nil},
		{"end user may not read audit logs", OpAuditLogsList, Caller{Role: RoleEndUser, Node: partnerA}, nil, ErrRoleTooLow},
		{"company admin reads audit logs", OpAuditLogsList, Caller{Role: RoleCompanyAdmin, Node: partnerA}, nil, nil},
		{"an unknown role is refused", OpMeGet, Caller{Role: "root", Node: platform}, nil, ErrRoleTooLow},
		{"an operation missing from the table is refused", "nope", Caller{Role: RolePlatformAdmin, Node: platform}, nil, ErrUnknownOperation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Allow(c.op, c.caller, c.target); !errors.Is(got, c.want) {
				t.Fatalf("Allow = %v, want %v", got, c.want)
			}
		})
	}
}

func TestRoleOrder(t *testing.T) {
	for i, r := range Roles {
		for j, other := range Roles {
			if got, want := r.AtLeast(other), i <= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v, want %v", r, other, got, want)
			}
		}
	}
}
