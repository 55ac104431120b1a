package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/lambdas"
	"opsconsole/shared/smtpclient/smtptest"
	"opsconsole/shared/tree"
)

// The completeness walk (the audit log as a product: nothing escapes): every mutating
// route the function table serves is called once, successfully, on things made for it,
// and the audit log must then hold exactly one entry with that call's request id about
// the thing it changed, naming the actor, an action of the thing's type, the target
// and the changed fields; a refused call (a stale If-Match, or an invalid body) leaves
// none. A route without a step here fails the walk, so a new route cannot be added
// without saying how its change is audited, or why it is not.

// walkExempt are the mutating routes that change no audited thing, and why.
var walkExempt = map[string]string{
	"POST /v1/auth/login":                     "a sign-in changes no resource; it is in the function log (and counted by the throttle)",
	"POST /v1/auth/challenge":                 "the TOTP step of a sign-in",
	"POST /v1/auth/refresh":                   "new tokens for a session; nothing changes",
	"POST /v1/auth/logout":                    "revokes the caller's tokens; in the function log",
	"POST /v1/auth/password/forgot":           "sends a reset code (one answer whether the account exists or not: an entry would tell); the reset itself is audited",
	"POST /v1/me/mfa/totp":                    "begins an enrolment (a secret in Cognito); the verification that completes it is audited",
	"POST /v1/client-services/{id}/smtp/test": "sends a test email through the stored settings and answers the server's reply; nothing changes",
	"POST /v1/partners/{id}/smtp/test":        "the same test, of a partner's settings",
	"POST /v1/organizations/{id}/smtp/test":   "the same test, of an organization's settings",
	"POST /v1/signup/{partnerId}":             "writes only the unverified signup (no organization exists yet, and one answer whether the partner takes signups or not); the verification that creates the organization is audited",
	"POST /v1/auth/token":                     "an API client's token: it changes no resource (only the client's lastUsedAt, shown by GET); in the function log (and counted by the throttle)",
}

// walkCall is one step's call: the request, the thing the entry must be about (or
// how to read it from the answer), the actor's user id, and a refused variant.
type walkCall struct {
	req     req
	target  string
	fromRes func(t *testing.T, res response) string
	actor   string
	// refused is the same call made to fail (400 or 412): it must leave no entry.
	refused *req
	// unchanged is set where the change is one no field shows (a new activation
	// link: its secret is not in the log).
	unchanged bool
}

// staleRefusal is call with an If-Match no version has.
func staleRefusal(r req) *req {
	r.header = map[string]string{"If-Match": `"999"`}
	return &r
}

// verifiedOrg is the organization a signup's verification answered.
func verifiedOrg(t *testing.T, res response) string {
	var v struct {
		OrganizationID string `json:"organizationId"`
	}
	res.json(t, &v)
	return v.OrganizationID
}

func idOf(t *testing.T, res response) string {
	var v struct {
		ID string `json:"id"`
	}
	res.json(t, &v)
	return v.ID
}

func TestAuditWalkCoversEveryMutatingRoute(t *testing.T) {
	tok := admin(t)
	adminID := me(t, tok).ID
	dist := createDistributor(t, tok, unique("Walk D"))
	part := createPartner(t, tok, dist.ID, unique("Walk P"))
	t.Cleanup(func() {
		do(t, req{method: "DELETE", path: "/v1/distributors/" + dist.ID + "?cascade=true", token: tok})
	})
	org := createOrganization(t, tok, part.ID, unique("Walk O"))
	company := createCompany(t, tok, org.ID, unique("Walk C"))
	distAdminTok, distAdminID := userAt(t, tree.RoleDistributorAdmin, nodeOf(t, dist.ID))
	do(t, req{method: "PUT", path: "/v1/partners/" + part.ID + "/signup", token: tok, body: map[string]bool{"enabled": true}}).expect(t, 200)

	// pendingOrg is an organization awaiting approval: a verified self-service signup.
	pendingOrg := func(t *testing.T) string {
		email := testEmail("walk-applicant")
		signUp(t, part.ID, unique("Walk Signup"), email).expect(t, 202)
		token, _ := verificationToken(t, email)
		return verifiedOrg(t, verify(t, token))
	}
	invited := func(t *testing.T) userView {
		return inviteUser(t, tok, company.ID, tree.RoleCompanyAdmin, testEmail("walk-user"))
	}
	// activeUser is a company admin who signed in: their token and id.
	activeUser := func(t *testing.T) (string, string) { return userAt(t, tree.RoleCompanyAdmin, nodeOf(t, company.ID)) }

	routes := map[string]bool{}
	var mutating []lambdas.Route
	for _, r := range lambdas.Routes() {
		if r.Method != "GET" {
			mutating = append(mutating, r)
			routes[r.Method+" "+r.Path] = true
		}
	}
	nodeSteps := func(resource, parentField, parentID string, name func() map[string]any) map[string]func(t *testing.T) walkCall {
		path := "/v1/" + resource
		fresh := func(t *testing.T) string {
			body := name()
			if parentField != "" {
				body[parentField] = parentID
			}
			return idOf(t, do(t, req{method: "POST", path: path, token: tok, body: body}))
		}
		steps := map[string]func(t *testing.T) walkCall{
			"POST " + path: func(t *testing.T) walkCall {
				body := name()
				if parentField != "" {
					body[parentField] = parentID
				}
				bad := req{method: "POST", path: path, token: tok, body: map[string]any{"nope": 1}}
				return walkCall{req: req{method: "POST", path: path, token: tok, body: body}, fromRes: idOf, actor: adminID, refused: &bad}
			},
			"PATCH " + path + "/{id}": func(t *testing.T) walkCall {
				id := fresh(t)
				r := req{method: "PATCH", path: path + "/" + id, token: tok, body: name()}
				return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
			},
			"DELETE " + path + "/{id}": func(t *testing.T) walkCall {
				id := fresh(t)
				r := req{method: "DELETE", path: path + "/" + id, token: tok}
				return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
			},
		}
		for _, pair := range [][2]string{{"suspend", ""}, {"enable", "suspend"}, {"deactivate", ""}, {"reactivate", "deactivate"}, {"activate", "deactivate"}} {
			action, before := pair[0], pair[1]
			if !routes["POST "+path+"/{id}/"+action] {
				continue // not every level has every action
			}
			steps["POST "+path+"/{id}/"+action] = func(t *testing.T) walkCall {
				id := fresh(t)
				if before != "" {
					do(t, req{method: "POST", path: path + "/" + id + "/" + before, token: tok}).expect(t, 200)
				}
				r := req{method: "POST", path: path + "/" + id + "/" + action, token: tok}
				return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
			}
		}
		return steps
	}
	named := func(field, prefix string) func() map[string]any {
		return func() map[string]any { return map[string]any{field: unique(prefix)} }
	}
	steps := map[string]func(t *testing.T) walkCall{}
	for _, m := range []map[string]func(t *testing.T) walkCall{
		nodeSteps("distributors", "", "", named("name", "Walk Dist")),
		nodeSteps("partners", "distributorId", dist.ID, named("name", "Walk Part")),
		nodeSteps("organizations", "partnerId", part.ID, named("name", "Walk Org")),
		nodeSteps("companies", "organizationId", org.ID, named("name", "Walk Co")),
		nodeSteps("end-users", "companyId", company.ID, func() map[string]any {
			return map[string]any{"email": testEmail("walk-end"), "firstName": "E", "lastName": "U"}
		}),
		// Licenses and client services are created active, like the levels' nodes, and
		// have the same create, PATCH, delete and status actions.
		nodeSteps("licenses", "nodeId", part.ID, func() map[string]any {
			return map[string]any{"type": "agent", "name": unique("Walk Lic")}
		}),
		nodeSteps("client-services", "organizationId", org.ID, func() map[string]any {
			return map[string]any{"alias": unique("Walk CS"), "language": "en"}
		}),
	} {
		for k, v := range m {
			steps[k] = v
		}
	}
	// The end-user record's PATCH names its own fields.
	steps["PATCH /v1/end-users/{id}"] = func(t *testing.T) walkCall {
		id := createEndUser(t, tok, company.ID, testEmail("walk-end")).ID
		r := req{method: "PATCH", path: "/v1/end-users/" + id, token: tok, body: map[string]any{"firstName": "Renamed"}}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/end-users/{id}/invite"] = func(t *testing.T) walkCall {
		id := createEndUser(t, tok, company.ID, testEmail("walk-end")).ID
		r := req{method: "POST", path: "/v1/end-users/" + id + "/invite", token: tok}
		return walkCall{req: r, fromRes: idOf, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/organizations/{id}/approve"] = func(t *testing.T) walkCall {
		id := pendingOrg(t)
		r := req{method: "POST", path: "/v1/organizations/" + id + "/approve", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/organizations/{id}/reject"] = func(t *testing.T) walkCall {
		id := pendingOrg(t)
		r := req{method: "POST", path: "/v1/organizations/" + id + "/reject", token: tok, body: map[string]string{"reason": "Not for us."}}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["PUT /v1/partners/{id}/signup"] = func(t *testing.T) walkCall {
		p := createPartner(t, tok, dist.ID, unique("Walk Signup P"))
		r := req{method: "PUT", path: "/v1/partners/" + p.ID + "/signup", token: tok, body: map[string]bool{"enabled": true}}
		bad := req{method: "PUT", path: "/v1/partners/" + p.ID + "/signup", token: tok, body: map[string]any{}}
		return walkCall{req: r, target: p.ID, actor: adminID, refused: &bad}
	}
	steps["POST /v1/audit-logs/exports"] = func(t *testing.T) walkCall {
		// Taking the log out is a change on record: audit.exported, about the export.
		r := req{method: "POST", path: "/v1/audit-logs/exports", token: tok, body: map[string]any{"nodeId": org.ID, "format": "csv", "from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}
		bad := req{method: "POST", path: "/v1/audit-logs/exports", token: tok, body: map[string]any{"nodeId": org.ID, "format": "xml"}}
		return walkCall{req: r, fromRes: idOf, actor: adminID, refused: &bad}
	}
	steps["POST /v1/signup/verify"] = func(t *testing.T) walkCall {
		email := testEmail("walk-applicant")
		signUp(t, part.ID, unique("Walk Verified"), email).expect(t, 202)
		token, _ := verificationToken(t, email)
		bad := req{method: "POST", path: "/v1/signup/verify", body: map[string]string{"token": "x"}}
		return walkCall{req: req{method: "POST", path: "/v1/signup/verify", body: map[string]string{"token": token}}, fromRes: verifiedOrg, refused: &bad}
	}
	steps["POST /v1/users"] = func(t *testing.T) walkCall {
		r := req{method: "POST", path: "/v1/users", token: tok, body: map[string]string{
			"email": testEmail("walk-invite"), "firstName": "J", "lastName": "D", "role": string(tree.RoleCompanyAdmin), "nodeId": company.ID}}
		bad := req{method: "POST", path: "/v1/users", token: tok, body: map[string]string{"email": "nope"}}
		return walkCall{req: r, fromRes: idOf, actor: adminID, refused: &bad}
	}
	steps["PATCH /v1/users/{id}"] = func(t *testing.T) walkCall {
		u := invited(t)
		r := req{method: "PATCH", path: "/v1/users/" + u.ID, token: tok, body: map[string]string{"firstName": "Renamed"}}
		return walkCall{req: r, target: u.ID, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/users/{id}/resend-invite"] = func(t *testing.T) walkCall {
		u := invited(t)
		r := req{method: "POST", path: "/v1/users/" + u.ID + "/resend-invite", token: tok}
		return walkCall{req: r, target: u.ID, actor: adminID, refused: staleRefusal(r), unchanged: true}
	}
	steps["DELETE /v1/users/{id}"] = func(t *testing.T) walkCall {
		u := invited(t)
		r := req{method: "DELETE", path: "/v1/users/" + u.ID, token: tok}
		return walkCall{req: r, target: u.ID, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/users/{id}/deactivate"] = func(t *testing.T) walkCall {
		_, id := activeUser(t)
		r := req{method: "POST", path: "/v1/users/" + id + "/deactivate", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/users/{id}/reactivate"] = func(t *testing.T) walkCall {
		_, id := activeUser(t)
		do(t, req{method: "POST", path: "/v1/users/" + id + "/deactivate", token: tok}).expect(t, 200)
		r := req{method: "POST", path: "/v1/users/" + id + "/reactivate", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/auth/activate"] = func(t *testing.T) walkCall {
		u := invited(t)
		bad := req{method: "POST", path: "/v1/auth/activate", body: map[string]string{"token": "x", "password": newPassword}}
		return walkCall{req: req{method: "POST", path: "/v1/auth/activate", body: map[string]string{
			"token": activationToken(t, u.Email), "password": newPassword}}, target: u.ID, actor: u.ID, refused: &bad}
	}
	steps["POST /v1/auth/password/reset"] = func(t *testing.T) walkCall {
		userTok, id := activeUser(t)
		email := me(t, userTok).Email
		forgot(t, email).expect(t, 202)
		code := resetCode.FindStringSubmatch(mailTo(t, email, "password reset code").Text)[1]
		bad := req{method: "POST", path: "/v1/auth/password/reset", body: map[string]string{"email": email, "code": "00000000", "newPassword": "Walked-Passw0rd-2"}}
		return walkCall{req: req{method: "POST", path: "/v1/auth/password/reset", body: map[string]string{
			"email": email, "code": code, "newPassword": "Walked-Passw0rd-1"}}, target: id, actor: id, refused: &bad, unchanged: true}
	}
	steps["PATCH /v1/me"] = func(t *testing.T) walkCall {
		userTok, id := activeUser(t)
		bad := req{method: "PATCH", path: "/v1/me", token: userTok, body: map[string]any{"firstName": 7}}
		return walkCall{req: req{method: "PATCH", path: "/v1/me", token: userTok, body: map[string]string{"firstName": "Me"}}, target: id, actor: id, refused: &bad}
	}
	steps["POST /v1/me/mfa/totp/verify"] = func(t *testing.T) walkCall {
		userTok, id := activeUser(t)
		var s struct{ Secret string }
		do(t, req{method: "POST", path: "/v1/me/mfa/totp", token: userTok}).json(t, &s)
		bad := req{method: "POST", path: "/v1/me/mfa/totp/verify", token: userTok, body: map[string]string{"code": "12"}}
		return walkCall{req: req{method: "POST", path: "/v1/me/mfa/totp/verify", token: userTok, body: map[string]string{"code": codeNow(t, s.Secret)}},
			target: id, actor: id, refused: &bad}
	}
	steps["DELETE /v1/me/mfa/totp"] = func(t *testing.T) walkCall {
		userTok, id := activeUser(t)
		enrolTOTP(t, userTok)
		return walkCall{req: req{method: "DELETE", path: "/v1/me/mfa/totp", token: userTok}, target: id, actor: id}
	}
	lic := func(t *testing.T) string {
		return createLicense(t, tok, map[string]any{"nodeId": part.ID, "type": "agent", "name": unique("Walk Licence")}).ID
	}
	steps["POST /v1/licenses"] = func(t *testing.T) walkCall {
		r := req{method: "POST", path: "/v1/licenses", token: tok, body: map[string]any{"nodeId": part.ID, "type": "agent", "name": unique("Walk Licence")}}
		bad := req{method: "POST", path: "/v1/licenses", token: tok, body: map[string]any{"nodeId": part.ID, "type": "nope", "name": "x"}}
		return walkCall{req: r, fromRes: idOf, actor: adminID, refused: &bad}
	}
	steps["PATCH /v1/licenses/{id}"] = func(t *testing.T) walkCall {
		r := req{method: "PATCH", path: "/v1/licenses/" + lic(t), token: tok, body: map[string]any{"name": unique("Walk Renamed")}}
		return walkCall{req: r, target: r.path[len("/v1/licenses/"):], actor: adminID, refused: staleRefusal(r)}
	}
	steps["DELETE /v1/licenses/{id}"] = func(t *testing.T) walkCall {
		id := lic(t)
		r := req{method: "DELETE", path: "/v1/licenses/" + id, token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/licenses/{id}/deactivate"] = func(t *testing.T) walkCall {
		id := lic(t)
		r := req{method: "POST", path: "/v1/licenses/" + id + "/deactivate", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/licenses/{id}/activate"] = func(t *testing.T) walkCall {
		id := lic(t)
		do(t, req{method: "POST", path: "/v1/licenses/" + id + "/deactivate", token: tok}).expect(t, 200)
		r := req{method: "POST", path: "/v1/licenses/" + id + "/activate", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["PATCH /v1/client-services/{id}/configurations"] = func(t *testing.T) walkCall {
		id := idOf(t, do(t, req{method: "POST", path: "/v1/client-services", token: tok,
			body: map[string]any{"organizationId": org.ID, "alias": unique("Walk Config"), "language": "en"}}))
		r := req{method: "PATCH", path: "/v1/client-services/" + id + "/configurations", token: tok, body: map[string]any{"theme": "dark"}}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	// Mail settings: a PUT and a DELETE per owner, each audited on its owner; the test
	// changes nothing (walkExempt).
	smtpServer := smtptest.Start(t)
	smtpOwner := map[string]func(t *testing.T) string{
		"client-services": func(t *testing.T) string {
			return idOf(t, do(t, req{method: "POST", path: "/v1/client-services", token: tok,
				body: map[string]any{"organizationId": org.ID, "alias": unique("Walk Mail"), "language": "en"}}))
		},
		"partners":      func(t *testing.T) string { return createPartner(t, tok, dist.ID, unique("Walk Mail P")).ID },
		"organizations": func(t *testing.T) string { return createOrganization(t, tok, part.ID, unique("Walk Mail O")).ID },
	}
	for resource, fresh := range smtpOwner {
		base := "/v1/" + resource + "/{id}/smtp"
		settings := map[string]any{"host": smtpServer.Host, "port": smtpServer.Port, "tlsMode": "none",
			"username": "walk", "password": "Walk-Secret-1", "fromAddress": "walk@example.com"}
		steps["PUT "+base] = func(t *testing.T) walkCall {
			path := "/v1/" + resource + "/" + fresh(t) + "/smtp"
			r := req{method: "PUT", path: path, token: tok, body: settings}
			return walkCall{req: r, target: strings.Split(path, "/")[3], actor: adminID, refused: staleRefusal(r)}
		}
		steps["DELETE "+base] = func(t *testing.T) walkCall {
			path := "/v1/" + resource + "/" + fresh(t) + "/smtp"
			do(t, req{method: "PUT", path: path, token: tok, body: settings}).expect(t, 200)
			r := req{method: "DELETE", path: path, token: tok}
			return walkCall{req: r, target: strings.Split(path, "/")[3], actor: adminID, refused: staleRefusal(r)}
		}
	}
	client := func(t *testing.T) string {
		return createClient(t, tok, map[string]any{"nodeId": part.ID, "name": unique("Walk Client"), "role": "partner_admin"}).ID
	}
	steps["POST /v1/api-clients"] = func(t *testing.T) walkCall {
		r := req{method: "POST", path: "/v1/api-clients", token: tok, body: map[string]any{"nodeId": part.ID, "name": unique("Walk Client"), "role": "partner_admin"}}
		bad := req{method: "POST", path: "/v1/api-clients", token: tok, body: map[string]any{"nodeId": part.ID, "name": "x", "role": "root"}}
		return walkCall{req: r, fromRes: idOf, actor: adminID, refused: &bad}
	}
	steps["PATCH /v1/api-clients/{id}"] = func(t *testing.T) walkCall {
		id := client(t)
		r := req{method: "PATCH", path: "/v1/api-clients/" + id, token: tok, body: map[string]any{"readOnly": true}}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["DELETE /v1/api-clients/{id}"] = func(t *testing.T) walkCall {
		id := client(t)
		r := req{method: "DELETE", path: "/v1/api-clients/" + id, token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/api-clients/{id}/revoke"] = func(t *testing.T) walkCall {
		id := client(t)
		r := req{method: "POST", path: "/v1/api-clients/" + id + "/revoke", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/api-clients/{id}/rotate-secret"] = func(t *testing.T) walkCall {
		id := client(t)
		r := req{method: "POST", path: "/v1/api-clients/" + id + "/rotate-secret", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST /v1/impersonations"] = func(t *testing.T) walkCall {
		r := req{method: "POST", path: "/v1/impersonations", token: distAdminTok, body: map[string]any{"nodeId": part.ID}}
		bad := req{method: "POST", path: "/v1/impersonations", token: distAdminTok, body: map[string]any{"nodeId": part.ID, "userId": "x"}}
		return walkCall{req: r, fromRes: idOf, actor: distAdminID, refused: &bad}
	}
	steps["DELETE /v1/impersonations/{id}"] = func(t *testing.T) walkCall {
		s := startSession(t, distAdminTok, map[string]any{"nodeId": part.ID})
		r := req{method: "DELETE", path: "/v1/impersonations/" + s.ID, token: distAdminTok}
		return walkCall{req: r, target: s.ID, actor: distAdminID, refused: staleRefusal(r)}
	}

	// Webhook endpoints (webhooks_test.go's receivers on loopback): pending ones answer
	// their challenge wrongly; active ones answer it; a disabled one answered 410.
	hookRcv := newReceiver(t)
	pendingRcv := newReceiver(t)
	pendingRcv.challenge = func(w http.ResponseWriter, c string) { w.WriteHeader(http.StatusOK) }
	goneRcv := newReceiver(t)
	goneRcv.set(func(w http.ResponseWriter, h hook, n int) { w.WriteHeader(http.StatusGone) })
	hookOn := func(t *testing.T, r *receiver) string {
		return createEndpoint(t, tok, part.ID, r.srv.URL+"/walk", "organization.*").ID
	}
	activeHook := func(t *testing.T) string { return activeEndpoint(t, tok, part.ID, hookRcv, "organization.*").ID }
	const hooks = "/v1/webhook-endpoints"
	withQuery := func(r req) *req { r.path += "?x=1"; return &r }
	steps["POST "+hooks] = func(t *testing.T) walkCall {
		r := req{method: "POST", path: hooks, token: tok, body: map[string]any{"nodeId": part.ID, "url": pendingRcv.srv.URL + "/walk", "eventTypes": []string{"*"}}}
		bad := req{method: "POST", path: hooks, token: tok, body: map[string]any{"nodeId": part.ID, "url": "", "eventTypes": []string{"*"}}}
		return walkCall{req: r, fromRes: idOf, actor: adminID, refused: &bad}
	}
	steps["PATCH "+hooks+"/{id}"] = func(t *testing.T) walkCall {
		r := req{method: "PATCH", path: hooks + "/" + hookOn(t, pendingRcv), token: tok, body: map[string]any{"description": unique("walked")}}
		return walkCall{req: r, target: r.path[len(hooks)+1:], actor: adminID, refused: staleRefusal(r)}
	}
	steps["DELETE "+hooks+"/{id}"] = func(t *testing.T) walkCall {
		id := hookOn(t, pendingRcv)
		r := req{method: "DELETE", path: hooks + "/" + id, token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST "+hooks+"/{id}/rotate-secret"] = func(t *testing.T) walkCall {
		id := hookOn(t, pendingRcv)
		r := req{method: "POST", path: hooks + "/" + id + "/rotate-secret", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST "+hooks+"/{id}/verify"] = func(t *testing.T) walkCall {
		id := hookOn(t, pendingRcv)
		r := req{method: "POST", path: hooks + "/" + id + "/verify", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: withQuery(r)}
	}
	steps["POST "+hooks+"/{id}/enable"] = func(t *testing.T) walkCall {
		id := activeEndpoint(t, tok, part.ID, goneRcv, "organization.*").ID
		do(t, req{method: "POST", path: hooks + "/" + id + "/test", token: tok}).expect(t, 202)
		endpointIs(t, tok, id, "disabled", 20*time.Second)
		r := req{method: "POST", path: hooks + "/" + id + "/enable", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: staleRefusal(r)}
	}
	steps["POST "+hooks+"/{id}/test"] = func(t *testing.T) walkCall {
		id := activeHook(t)
		r := req{method: "POST", path: hooks + "/" + id + "/test", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: withQuery(r)}
	}
	steps["POST "+hooks+"/{id}/recover"] = func(t *testing.T) walkCall {
		id := activeHook(t)
		r := req{method: "POST", path: hooks + "/" + id + "/recover", token: tok, body: map[string]string{"since": "2026-01-01T00:00:00Z"}}
		bad := req{method: "POST", path: hooks + "/" + id + "/recover", token: tok, body: map[string]string{}}
		return walkCall{req: r, target: id, actor: adminID, refused: &bad}
	}
	steps["POST "+hooks+"/{id}/deliveries/{deliveryId}/redeliver"] = func(t *testing.T) walkCall {
		id := activeHook(t)
		var a struct {
			DeliveryID string `json:"deliveryId"`
		}
		do(t, req{method: "POST", path: hooks + "/" + id + "/test", token: tok}).json(t, &a)
		r := req{method: "POST", path: hooks + "/" + id + "/deliveries/" + a.DeliveryID + "/redeliver", token: tok}
		return walkCall{req: r, target: id, actor: adminID, refused: withQuery(r)}
	}

	for _, r := range mutating {
		key := r.Method + " " + r.Path
		t.Run(key, func(t *testing.T) {
			if why, ok := walkExempt[key]; ok {
				t.Skip("not audited: " + why)
			}
			step, ok := steps[key]
			if !ok {
				t.Fatalf("no step for %s: say how its change is audited (a step here) or why not (walkExempt)", key)
			}
			call := step(t)
			if call.refused != nil {
				if res := do(t, *call.refused); res.Status != 400 && res.Status != 412 {
					t.Fatalf("the refused variant answered %d: %s", res.Status, res.Body)
				}
			}
			res := do(t, call.req)
			if res.Status < 200 || res.Status > 299 {
				t.Fatalf("%s answered %d: %s", key, res.Status, res.Body)
			}
			reqID := res.Header.Get("Apigw-Requestid")
			target := call.target
			if call.fromRes != nil {
				target = call.fromRes(t, res)
			}
			if reqID == "" || target == "" {
				t.Fatalf("request id %q, target %q", reqID, target)
			}
			var mine []walkEntry
			eventually(t, 15*time.Second, func() error {
				mine = nil
				for _, e := range historyOf(t, tok, target) {
					if e.RequestID == reqID {
						mine = append(mine, e)
					}
				}
				if len(mine) == 0 {
					return fmt.Errorf("no entry about %s with request id %s", target, reqID)
				}
				return nil
			})
			if len(mine) != 1 {
				t.Fatalf("%d entries with the call's request id, want 1: %+v", len(mine), mine)
			}
			e := mine[0]
			if e.Target.ID != target || e.Action == "" || !strings.HasPrefix(e.Action, e.Target.Type+".") {
				t.Errorf("entry %+v: want an action of the target's type about %s", e, target)
			}
			if call.actor != "" && e.Actor.UserID != call.actor {
				t.Errorf("actor %q, want %q", e.Actor.UserID, call.actor)
			}
			if e.Actor.UserID == "" || e.Actor.Role == "" || (len(e.Changes) == 0 && !call.unchanged) || e.At == "" {
				t.Errorf("entry lacks the actor, its changes or its time: %+v", e)
			}
			if call.refused != nil {
				for _, e := range historyOf(t, tok, target) {
					if e.RequestID != reqID && e.At > mine[0].At {
						t.Errorf("an entry after the call's: %+v", e)
					}
				}
			}
		})
	}
	t.Logf("%d mutating routes: %d walked, %d exempt", len(mutating), len(mutating)-len(walkExempt), len(walkExempt))
	if n := len(steps) + len(walkExempt); n != len(mutating) {
		t.Errorf("%d steps and exemptions for %d mutating routes: a step names a route that does not exist", n, len(mutating))
	}
}

// walkEntry is an audit entry as the walk reads it.
type walkEntry struct {
	At     string `json:"at"`
	Action string `json:"action"`
	Actor  struct {
		UserID string `json:"userId"`
		Role   string `json:"role"`
	} `json:"actor"`
	Target struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"target"`
	Changes   []map[string]any `json:"changes"`
	RequestID string           `json:"requestId"`
}

// historyOf is a thing's whole audit history, as the platform admin reads it.
func historyOf(t *testing.T, tok, target string) []walkEntry {
	t.Helper()
	var p struct {
		Items []walkEntry `json:"items"`
	}
	do(t, req{method: "GET", path: "/v1/audit-logs?limit=100&targetId=" + urlq(target), token: tok}).json(t, &p)
	return p.Items
}
