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
	orgA := Node{ID: "org_a", Kind: KindOrganization, Path: []string{PlatformID, "dst_a", "prt_a"}}
	companyA := Node{ID: "cmp_a", Kind: KindCompany, Path: []string{PlatformID, "dst_a", "prt_a", "org_a"}}
	orgB := Node{ID: "org_b", Kind: KindOrganization, Path: []string{PlatformID, "dst_a", "prt_a"}}
	csA := Node{ID: "client-service#csv_a", Kind: "client-service", Path: []string{PlatformID, "dst_a", "prt_a", "org_a"}}

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
		{"partner admin creates a license for its own partner", OpLicensesCreate, Caller{Role: RolePartnerAdmin, Node: partnerA}, &partnerA, nil},
		{"partner admin creates a license for its organization", OpLicensesCreate, Caller{Role: RolePartnerAdmin, Node: partnerA}, &orgA, nil},
		{"distributor admin changes a license of its partner", OpLicensesUpdate, Caller{Role: RoleDistributorAdmin, Node: distA}, &partnerA, nil},
		{"partner admin does not see its distributor's licenses", OpLicensesGet, Caller{Role: RolePartnerAdmin, Node: partnerA}, &distA, ErrOutsideBranch},
		{"organization admin may not create a license for its own organization", OpLicensesCreate, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &orgA, ErrRoleTooLow},
		{"organization admin may not delete its organization's license", OpLicensesDelete, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &orgA, ErrRoleTooLow},
		{"organization admin may not activate its organization's license", OpLicensesActivate, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &orgA, ErrRoleTooLow},
		{"organization admin reads its organization's licenses", OpLicensesGet, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &orgA, nil},
		{"organization admin lists its organization's licenses", OpLicensesList, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &orgA, nil},
		{"organization admin does not see its partner's licenses", OpLicensesList, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &partnerA, ErrOutsideBranch},
		{"company admin may not list licenses", OpLicensesList, Caller{Role: RoleCompanyAdmin, Node: companyA}, &companyA, ErrRoleTooLow},
		// A client service is a thing below its organization: the policy sees it with the
		// organization's lineage.
		{"organization admin creates a client service in its organization", OpClientServicesCreate, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &orgA, nil},
		{"organization admin changes its organization's client service", OpClientServicesUpdate, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &csA, nil},
		{"organization admin deactivates its organization's client service", OpClientServicesDeactivate, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &csA, nil},
		{"organization admin reads the certificate of its client service", OpClientServicesCertificateGet, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &csA, nil},
		{"organization admin does not see another organization's client service", OpClientServicesGet, Caller{Role: RoleOrganizationAdmin, Node: orgB}, &csA, ErrOutsideBranch},
		{"organization admin may not list its partner's client services", OpClientServicesList, Caller{Role: RoleOrganizationAdmin, Node: orgA}, &partnerA, ErrOutsideBranch},
		{"partner admin deletes a client service of its organization", OpClientServicesDelete, Caller{Role: RolePartnerAdmin, Node: partnerA}, &csA, nil},
		{"distributor admin lists its partner's client services", OpClientServicesList, Caller{Role: RoleDistributorAdmin, Node: distA}, &partnerA, nil},
		{"another distributor's admin does not see the client service", OpClientServicesActivate, Caller{Role: RoleDistributorAdmin, Node: distB}, &csA, ErrOutsideBranch},
		{"platform admin creates a client service anywhere", OpClientServicesCreate, Caller{Role: RolePlatformAdmin, Node: platform}, &orgA, nil},
		{"company admin may not list client services", OpClientServicesList, Caller{Role: RoleCompanyAdmin, Node: companyA}, nil, ErrRoleTooLow},
		{"company admin may not read its organization's client service", OpClientServicesGet, Caller{Role: RoleCompanyAdmin, Node: companyA}, &csA, ErrOutsideBranch},
		{"end user may not create a client service", OpClientServicesCreate, Caller{Role: RoleEndUser, Node: companyA}, nil, ErrRoleTooLow},
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

func TestLicenseHolder(t *testing.T) {
	for kind, want := range map[Kind]bool{
		KindPlatform: false, KindDistributor: true, KindPartner: true, KindOrganization: true,
		KindCompany: false, KindEndUser: false,
	} {
		if got := LicenseHolder(kind); got != want {
			t.Errorf("LicenseHolder(%s) = %v, want %v", kind, got, want)
		}
	}
}
