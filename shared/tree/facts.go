package tree

// The facts of the tree that several packages read: each lives here once.

// blockingStatuses are the node statuses that take a branch out of service: a
// suspended distributor or partner, a deactivated organization, and an organization
// still awaiting approval or refused it. Nobody below such a node may sign in or act,
// and no login-as session may act inside it either.
var blockingStatuses = map[string]bool{"suspended": true, "deactivated": true, "pending": true, "rejected": true}

// Blocks reports whether a node in status takes its subtree out of service.
func Blocks(status string) bool { return blockingStatuses[status] }

// AdminRole is the admin role held at a node of kind (the role console users are
// invited with there); false for end users' records, which have no console users.
func AdminRole(kind Kind) (Role, bool) {
	switch kind {
	case KindPlatform:
		return RolePlatformAdmin, true
	case KindDistributor:
		return RoleDistributorAdmin, true
	case KindPartner:
		return RolePartnerAdmin, true
	case KindOrganization:
		return RoleOrganizationAdmin, true
	case KindCompany:
		return RoleCompanyAdmin, true
	}
	return "", false
}

// MaxUserID is the longest console user id accepted.
const MaxUserID = 128

// ValidUserID reports whether id could be a console user's id (a Cognito subject, a
// UUID): 1 to MaxUserID letters, digits and hyphens. Anything else is answered like a
// missing user without a read. (A loop, not a package-level regexp: it costs nothing
// at a function's cold start.)
func ValidUserID(id string) bool {
	if id == "" || len(id) > MaxUserID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}
