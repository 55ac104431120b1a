package tree

import "errors"

// Operation names one API operation in the policy table.
type Operation string

// The operations of the API that act on the tree.
const (
	OpMeGet               Operation = "me.get"
	OpDistributorsCreate  Operation = "distributors.create"
	OpDistributorsList    Operation = "distributors.list"
	OpDistributorsGet     Operation = "distributors.get"
	OpDistributorsUpdate  Operation = "distributors.update"
	OpDistributorsSuspend Operation = "distributors.suspend"
	OpDistributorsEnable  Operation = "distributors.enable"
	OpDistributorsDelete  Operation = "distributors.delete"
	OpAuditLogsList       Operation = "audit-logs.list"
	// OpAuditLogsExport starts an export of a node's log to a file, and
	// OpAuditLogsExportGet reads its state (and link): the list's readers may.
	OpAuditLogsExport    Operation = "audit-logs.export"
	OpAuditLogsExportGet Operation = "audit-logs.export-get"
	// OpAuditDigestsList lists a node's signed digests and OpAuditDigestsKey reads
	// their public key: the list's readers may, to verify what they export.
	OpAuditDigestsList Operation = "audit-logs.digests"
	OpAuditDigestsKey  Operation = "audit-logs.public-key"
	OpPartnersCreate   Operation = "partners.create"
	OpPartnersList     Operation = "partners.list"
	OpPartnersGet      Operation = "partners.get"
	OpPartnersUpdate   Operation = "partners.update"
	OpPartnersSuspend  Operation = "partners.suspend"
	OpPartnersEnable   Operation = "partners.enable"
	OpPartnersDelete   Operation = "partners.delete"

	OpOrganizationsCreate     Operation = "organizations.create"
	OpOrganizationsList       Operation = "organizations.list"
	OpOrganizationsGet        Operation = "organizations.get"
	OpOrganizationsUpdate     Operation = "organizations.update"
	OpOrganizationsDeactivate Operation = "organizations.deactivate"
	OpOrganizationsReactivate Operation = "organizations.reactivate"
	OpOrganizationsDelete     Operation = "organizations.delete"

	OpCompaniesCreate Operation = "companies.create"
	OpCompaniesList   Operation = "companies.list"
	OpCompaniesGet    Operation = "companies.get"
	OpCompaniesUpdate Operation = "companies.update"
	OpCompaniesDelete Operation = "companies.delete"

	OpEndUsersCreate     Operation = "end-users.create"
	OpEndUsersList       Operation = "end-users.list"
	OpEndUsersGet        Operation = "end-users.get"
	OpEndUsersUpdate     Operation = "end-users.update"
	OpEndUsersDeactivate Operation = "end-users.deactivate"
	OpEndUsersReactivate Operation = "end-users.reactivate"
	OpEndUsersDelete     Operation = "end-users.delete"
	// OpEndUsersInvite gives an end-user record its sign-in account (shared/users).
	OpEndUsersInvite Operation = "end-users.invite"
)

// The signed-in user's own TOTP: enrol (a new secret), verify (which turns it on),
// remove. Open to every user, and before MFA enrolment too (see api.Operation).
const (
	OpMeMFAEnrol  Operation = "me.mfa-enrol"
	OpMeMFAVerify Operation = "me.mfa-verify"
	OpMeMFARemove Operation = "me.mfa-remove"
	// OpMeUpdate changes the signed-in user's own name (and their end-user record's).
	OpMeUpdate Operation = "me.update"
)

// The console users of a node (/v1/users): an admin of the node or above manages
// them (a role never above the manager's own; shared/users checks that).
const (
	OpUsersInvite       Operation = "users.invite"
	OpUsersList         Operation = "users.list"
	OpUsersGet          Operation = "users.get"
	OpUsersUpdate       Operation = "users.update"
	OpUsersDeactivate   Operation = "users.deactivate"
	OpUsersReactivate   Operation = "users.reactivate"
	OpUsersDelete       Operation = "users.delete"
	OpUsersResendInvite Operation = "users.resend-invite"
)

// Login-as (shared/impersonation): an admin acts as a node, or a console user, strictly
// below their own node. The policy admits organization admins and above (the lowest
// admins with a console node below them: their companies); the "strictly below" rule,
// checked by the package, decides the rest. Only the impersonator reads or ends a
// session.
const (
	OpImpersonationsCreate Operation = "impersonations.create"
	OpImpersonationsGet    Operation = "impersonations.get"
	OpImpersonationsDelete Operation = "impersonations.delete"
)

// Self-service signup (shared/signup): a platform admin turns it on per partner; the
// admins of the partner and above read that, see the applicant of a pending
// organization, and approve or reject it.
const (
	OpPartnersSignupGet      Operation = "partners.signup-get"
	OpPartnersSignupUpdate   Operation = "partners.signup-update"
	OpOrganizationsSignupGet Operation = "organizations.signup-get"
	OpOrganizationsApprove   Operation = "organizations.approve"
	OpOrganizationsReject    Operation = "organizations.reject"
)

// Licenses (shared/licenses) are held by a distributor, a partner or an organization.
// Resellers hold and sell them: an admin of a partner or above creates, changes and
// deletes the licenses of their own node and of every node below it; an organization
// admin only reads their organization's.
const (
	OpLicensesCreate     Operation = "licenses.create"
	OpLicensesList       Operation = "licenses.list"
	OpLicensesGet        Operation = "licenses.get"
	OpLicensesUpdate     Operation = "licenses.update"
	OpLicensesActivate   Operation = "licenses.activate"
	OpLicensesDeactivate Operation = "licenses.deactivate"
	OpLicensesDelete     Operation = "licenses.delete"
)

// Client services (shared/clientservices) belong to an organization: its admins and
// every admin above manage them (PRODUCT.md: "edit client-service details, status,
// SMTP: organization admin (issuer) or above"); company staff and end users have none.
const (
	OpClientServicesCreate         Operation = "client-services.create"
	OpClientServicesList           Operation = "client-services.list"
	OpClientServicesGet            Operation = "client-services.get"
	OpClientServicesCertificateGet Operation = "client-services.certificate-get"
	OpClientServicesUpdate         Operation = "client-services.update"
	OpClientServicesActivate       Operation = "client-services.activate"
	OpClientServicesDeactivate     Operation = "client-services.deactivate"
	OpClientServicesDelete         Operation = "client-services.delete"
)

// A client service's general configurations (a typed catalog, shared/clientservices):
// everyone who sees the service reads them; only platform admins change them
// (PRODUCT.md: "only platform admins may change them").
const (
	OpClientServicesConfigurationsGet    Operation = "client-services.configurations-get"
	OpClientServicesConfigurationsUpdate Operation = "client-services.configurations-update"
)

// Mail settings (shared/smtpsettings) of a client service, a partner or an
// organization: the admins of the owner and every admin above (PRODUCT.md: "SMTP:
// organization admin (issuer) or above"; a partner's own settings are then its admins'
// and above, since only they reach the partner's node).
const (
	OpSMTPGet    Operation = "smtp-settings.get"
	OpSMTPPut    Operation = "smtp-settings.put"
	OpSMTPDelete Operation = "smtp-settings.delete"
	OpSMTPTest   Operation = "smtp-settings.test"
)

// Webhook endpoints (shared/webhooks) belong to a distributor, partner or organization:
// that node's admins and every admin above manage them, their deliveries and
// replays; company staff and end users have none. The event catalog is for every
// admin who may have endpoints.
const (
	OpWebhookEndpointsCreate  Operation = "webhook-endpoints.create"
	OpWebhookEndpointsList    Operation = "webhook-endpoints.list"
	OpWebhookEndpointsGet     Operation = "webhook-endpoints.get"
	OpWebhookEndpointsUpdate  Operation = "webhook-endpoints.update"
	OpWebhookEndpointsDelete  Operation = "webhook-endpoints.delete"
	OpWebhookEndpointsRotate  Operation = "webhook-endpoints.rotate-secret"
	OpWebhookEndpointsVerify  Operation = "webhook-endpoints.verify"
	OpWebhookEndpointsEnable  Operation = "webhook-endpoints.enable"
	OpWebhookEndpointsTest    Operation = "webhook-endpoints.test"
	OpWebhookEndpointsRecover Operation = "webhook-endpoints.recover"
	OpWebhookDeliveriesList   Operation = "webhook-deliveries.list"
	OpWebhookDeliveriesResend Operation = "webhook-deliveries.redeliver"
	OpWebhookEventTypesList   Operation = "webhook-event-types.list"
)

// API clients (shared/apiclients) are machine credentials at a node: its admins and
// every admin above manage them; end users have none.
const (
	OpAPIClientsCreate       Operation = "api-clients.create"
	OpAPIClientsList         Operation = "api-clients.list"
	OpAPIClientsGet          Operation = "api-clients.get"
	OpAPIClientsUpdate       Operation = "api-clients.update"
	OpAPIClientsRotateSecret Operation = "api-clients.rotate-secret"
	OpAPIClientsRevoke       Operation = "api-clients.revoke"
	OpAPIClientsDelete       Operation = "api-clients.delete"
)

// Rule is the lowest role allowed to perform an operation; the target must also lie
// in the caller's subtree (own node or a descendant), which every rule requires.
type Rule struct {
	MinRole Role
}

// Policy maps every operation to its rule (PRODUCT.md's permission levels).
var Policy = map[Operation]Rule{
	OpMeGet:               {MinRole: RoleEndUser},
	OpMeMFAEnrol:          {MinRole: RoleEndUser},
	OpMeMFAVerify:         {MinRole: RoleEndUser},
	OpMeMFARemove:         {MinRole: RoleEndUser},
	OpMeUpdate:            {MinRole: RoleEndUser},
	OpDistributorsCreate:  {MinRole: RolePlatformAdmin},
	OpDistributorsList:    {MinRole: RolePlatformAdmin},
	OpDistributorsGet:     {MinRole: RolePlatformAdmin},
	OpDistributorsUpdate:  {MinRole: RolePlatformAdmin},
	OpDistributorsSuspend: {MinRole: RolePlatformAdmin},
	OpDistributorsEnable:  {MinRole: RolePlatformAdmin},
	OpDistributorsDelete:  {MinRole: RolePlatformAdmin},
	OpAuditLogsList:       {MinRole: RoleCompanyAdmin},
	OpAuditLogsExport:     {MinRole: RoleCompanyAdmin},
	OpAuditLogsExportGet:  {MinRole: RoleCompanyAdmin},
	OpAuditDigestsList:    {MinRole: RoleCompanyAdmin},
	OpAuditDigestsKey:     {MinRole: RoleCompanyAdmin},
	OpPartnersCreate:      {MinRole: RoleDistributorAdmin},
	OpPartnersList:        {MinRole: RoleDistributorAdmin},
	OpPartnersGet:         {MinRole: RoleDistributorAdmin},
	OpPartnersUpdate:      {MinRole: RoleDistributorAdmin},
	OpPartnersSuspend:     {MinRole: RoleDistributorAdmin},
	OpPartnersEnable:      {MinRole: RoleDistributorAdmin},
	OpPartnersDelete:      {MinRole: RoleDistributorAdmin},

	// An organization admin reads their own organization; changing it is the
	// partner's business.
	OpOrganizationsCreate:     {MinRole: RolePartnerAdmin},
	OpOrganizationsList:       {MinRole: RolePartnerAdmin},
	OpOrganizationsGet:        {MinRole: RoleOrganizationAdmin},
	OpOrganizationsUpdate:     {MinRole: RolePartnerAdmin},
	OpOrganizationsDeactivate: {MinRole: RolePartnerAdmin},
	OpOrganizationsReactivate: {MinRole: RolePartnerAdmin},
	OpOrganizationsDelete:     {MinRole: RolePartnerAdmin},

	// Company staff read their own company.
	OpCompaniesCreate: {MinRole: RoleOrganizationAdmin},
	OpCompaniesList:   {MinRole: RoleOrganizationAdmin},
	OpCompaniesGet:    {MinRole: RoleCompanyAdmin},
	OpCompaniesUpdate: {MinRole: RoleOrganizationAdmin},
	OpCompaniesDelete: {MinRole: RoleOrganizationAdmin},

	OpEndUsersCreate:     {MinRole: RoleCompanyAdmin},
	OpEndUsersList:       {MinRole: RoleCompanyAdmin},
	OpEndUsersGet:        {MinRole: RoleCompanyAdmin},
	OpEndUsersUpdate:     {MinRole: RoleCompanyAdmin},
	OpEndUsersDeactivate: {MinRole: RoleCompanyAdmin},
	OpEndUsersReactivate: {MinRole: RoleCompanyAdmin},
	OpEndUsersDelete:     {MinRole: RoleCompanyAdmin},
	OpEndUsersInvite:     {MinRole: RoleCompanyAdmin},

	OpUsersInvite:       {MinRole: RoleCompanyAdmin},
	OpUsersList:         {MinRole: RoleCompanyAdmin},
	OpUsersGet:          {MinRole: RoleCompanyAdmin},
	OpUsersUpdate:       {MinRole: RoleCompanyAdmin},
	OpUsersDeactivate:   {MinRole: RoleCompanyAdmin},
	OpUsersReactivate:   {MinRole: RoleCompanyAdmin},
	OpUsersDelete:       {MinRole: RoleCompanyAdmin},
	OpUsersResendInvite: {MinRole: RoleCompanyAdmin},

	OpImpersonationsCreate: {MinRole: RoleOrganizationAdmin},
	OpImpersonationsGet:    {MinRole: RoleOrganizationAdmin},
	OpImpersonationsDelete: {MinRole: RoleOrganizationAdmin},

	OpPartnersSignupGet:      {MinRole: RolePartnerAdmin},
	OpPartnersSignupUpdate:   {MinRole: RolePlatformAdmin},
	OpOrganizationsSignupGet: {MinRole: RolePartnerAdmin},
	OpOrganizationsApprove:   {MinRole: RolePartnerAdmin},
	OpOrganizationsReject:    {MinRole: RolePartnerAdmin},

	OpLicensesCreate:     {MinRole: RolePartnerAdmin},
	OpLicensesList:       {MinRole: RoleOrganizationAdmin},
	OpLicensesGet:        {MinRole: RoleOrganizationAdmin},
	OpLicensesUpdate:     {MinRole: RolePartnerAdmin},
	OpLicensesActivate:   {MinRole: RolePartnerAdmin},
	OpLicensesDeactivate: {MinRole: RolePartnerAdmin},
	OpLicensesDelete:     {MinRole: RolePartnerAdmin},

	OpClientServicesCreate:         {MinRole: RoleOrganizationAdmin},
	OpClientServicesList:           {MinRole: RoleOrganizationAdmin},
	OpClientServicesGet:            {MinRole: RoleOrganizationAdmin},
	OpClientServicesCertificateGet: {MinRole: RoleOrganizationAdmin},
	OpClientServicesUpdate:         {MinRole: RoleOrganizationAdmin},
	OpClientServicesActivate:       {MinRole: RoleOrganizationAdmin},
	OpClientServicesDeactivate:     {MinRole: RoleOrganizationAdmin},
	OpClientServicesDelete:         {MinRole: RoleOrganizationAdmin},

	OpDashboardGet: {MinRole: RolePartnerAdmin},

	OpClientServicesConfigurationsGet:    {MinRole: RoleOrganizationAdmin},
	OpClientServicesConfigurationsUpdate: {MinRole: RolePlatformAdmin},

	OpSMTPGet:    {MinRole: RoleOrganizationAdmin},
	OpSMTPPut:    {MinRole: RoleOrganizationAdmin},
	OpSMTPDelete: {MinRole: RoleOrganizationAdmin},
	OpSMTPTest:   {MinRole: RoleOrganizationAdmin},

	OpWebhookEndpointsCreate:  {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsList:    {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsGet:     {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsUpdate:  {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsDelete:  {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsRotate:  {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsVerify:  {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsEnable:  {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsTest:    {MinRole: RoleOrganizationAdmin},
	OpWebhookEndpointsRecover: {MinRole: RoleOrganizationAdmin},
	OpWebhookDeliveriesList:   {MinRole: RoleOrganizationAdmin},
	OpWebhookDeliveriesResend: {MinRole: RoleOrganizationAdmin},
	OpWebhookEventTypesList:   {MinRole: RoleOrganizationAdmin},

	OpAPIClientsCreate:       {MinRole: RoleCompanyAdmin},
	OpAPIClientsList:         {MinRole: RoleCompanyAdmin},
	OpAPIClientsGet:          {MinRole: RoleCompanyAdmin},
	OpAPIClientsUpdate:       {MinRole: RoleCompanyAdmin},
	OpAPIClientsRotateSecret: {MinRole: RoleCompanyAdmin},
	OpAPIClientsRevoke:       {MinRole: RoleCompanyAdmin},
	OpAPIClientsDelete:       {MinRole: RoleCompanyAdmin},
}

// LicenseHolder reports whether a node of kind may hold licenses: distributors,
// partners and organizations (the resellers and their customers).
func LicenseHolder(kind Kind) bool {
	return kind == KindDistributor || kind == KindPartner || kind == KindOrganization
}

// ErrOutsideBranch means the target is not in the caller's subtree; callers answer it
// exactly like a missing thing, so that its existence is not revealed.
var ErrOutsideBranch = errors.New("target outside the caller's branch")

// ErrRoleTooLow means the caller may see the target but their role may not do this.
var ErrRoleTooLow = errors.New("role not allowed")

// ErrUnknownOperation means an operation is missing from the policy table: a
// programming error, refused rather than allowed.
var ErrUnknownOperation = errors.New("operation not in the policy table")

// Allow decides whether caller may perform op. Pass target as nil for operations that
// act on no particular node (creating at the top, listing the caller's own scope).
func Allow(op Operation, caller Caller, target *Node) error {
	rule, ok := Policy[op]
	if !ok {
		return ErrUnknownOperation
	}
	if target != nil && !caller.Node.Contains(*target) {
		return ErrOutsideBranch
	}
	if !caller.Role.AtLeast(rule.MinRole) {
		return ErrRoleTooLow
	}
	return nil
}

// OpDashboardGet reads a node's dashboard (shared/dashboard): the totals of its whole
// subtree and what the caller may create there. Resellers see it: a partner admin or
// above (PRODUCT.md, "A partner (or higher) sees totals for the node it looks at").
const OpDashboardGet Operation = "dashboard.get"
