package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"opsconsole/infra/local/localtest"
	"opsconsole/shared/nodes"
	"opsconsole/shared/signin"
	"opsconsole/shared/tree"
)

// seededEndUsers per company give the company admins things to update from the first
// second of the attack.
const seededEndUsers = 3

// seed makes the branches through the API as the platform admin, and in each a partner
// admin, an organization admin and a company admin, written directly to the table and
// the user pool as the end-to-end suite's users are (signin.EnsureUser: the invitation
// path, tested there, would add reading each activation email from maildev), then
// signed in through POST /v1/auth/login like any client.
func seed(ctx context.Context, api *client, sys *localtest.System) (*load, error) {
	admin, err := api.login(ctx, adminEmail, adminPassword)
	if err != nil {
		return nil, err
	}
	l := newLoad()
	l.admin = admin
	mk := func(resource string, body map[string]any) (view, error) {
		var v view
		_, err := api.json(ctx, http.MethodPost, "/v1/"+resource, admin, body, http.StatusCreated, &v)
		return v, err
	}
	for i := range branches {
		b := &branch{index: i, tokens: map[tree.Role]string{}}
		d, err := mk("distributors", map[string]any{"name": fmt.Sprintf("Load distributor %d", i)})
		if err != nil {
			return nil, err
		}
		p, err := mk("partners", map[string]any{"distributorId": d.ID, "name": fmt.Sprintf("Load partner %d", i)})
		if err != nil {
			return nil, err
		}
		o, err := mk("organizations", map[string]any{"partnerId": p.ID, "name": fmt.Sprintf("Load organization %d", i)})
		if err != nil {
			return nil, err
		}
		c, err := mk("companies", map[string]any{"organizationId": o.ID, "name": fmt.Sprintf("Load company %d", i)})
		if err != nil {
			return nil, err
		}
		b.distributor, b.partner, b.organization, b.cmp = d.ID, p.ID, o.ID, c.ID
		l.add(&thing{id: o.ID, kind: organizations, parent: p.ID, branch: i, version: o.Version, seeded: true})
		l.add(&thing{id: c.ID, kind: companies, parent: o.ID, branch: i, version: c.Version, seeded: true})
		for j := range seededEndUsers {
			e, err := mk("end-users", map[string]any{"companyId": c.ID, "email": fmt.Sprintf("seeded-b%d-%d@example.com", i, j), "firstName": "Seeded", "lastName": "User"})
			if err != nil {
				return nil, err
			}
			l.add(&thing{id: e.ID, kind: endUsers, parent: c.ID, branch: i, version: e.Version, seeded: true})
		}
		for _, role := range roles {
			at := map[tree.Role]string{tree.RolePartnerAdmin: p.ID, tree.RoleOrganizationAdmin: o.ID, tree.RoleCompanyAdmin: c.ID}[role]
			node, err := nodes.Get(ctx, sys.Store, at)
			if err != nil {
				return nil, err
			}
			email := fmt.Sprintf("load-%s-%d@example.com", strings.ReplaceAll(string(role), "_", "-"), i)
			if _, err := signin.EnsureUser(ctx, sys.Store, sys.Cognito, sys.PoolID, signin.NewUser{
				Email: email, Password: userPassword, FirstName: "Load", LastName: string(role), Role: role, Node: node,
			}); err != nil {
				return nil, err
			}
			if b.tokens[role], err = api.login(ctx, email, userPassword); err != nil {
				return nil, err
			}
		}
		l.branches = append(l.branches, b)
	}
	return l, nil
}

// parents maps each seeded parent (partner, organization, company) to its branch: the
// load creates only under those.
func (l *load) parents() map[string]int {
	m := map[string]int{}
	for _, b := range l.branches {
		m[b.partner], m[b.organization], m[b.cmp] = b.index, b.index, b.index
	}
	return m
}
