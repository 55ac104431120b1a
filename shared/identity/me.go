package identity

import (
	"errors"
	"net/http"

	"opsconsole/shared/api"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Me serves GET /v1/me: the signed-in user and their node.
type Me struct {
	Store   *store.Store
	Callers api.Callers
}

// Profile is the signed-in user as GET /v1/me shows them.
type Profile struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Role      tree.Role `json:"role"`
	Status    string    `json:"status"`
	Node      NodeRef   `json:"node"`
	// MFAEnrolled: the user has a TOTP authenticator, asked for at every sign-in.
	// MFARequired: their organization requires one; until they enrol, the API
	// answers them 403 mfa-enrolment-required everywhere but here, the enrolment
	// and sign-out.
	MFAEnrolled bool `json:"mfaEnrolled"`
	MFARequired bool `json:"mfaRequired"`
}

// NodeRef names a node.
type NodeRef struct {
	ID   string    `json:"id"`
	Kind tree.Kind `json:"kind"`
	Name string    `json:"name"`
}

// Operation is the route's operation.
func (m *Me) Operation() api.Operation {
	return api.Operation{ID: tree.OpMeGet, Method: http.MethodGet, Path: "/v1/me", Kind: "user", Callers: m.Callers,
		BeforeMFAEnrolment: true, AsSignedInUser: true, Handle: m.get}
}

func (m *Me) get(w http.ResponseWriter, r *http.Request) error {
	caller := api.CallerOf(r.Context())
	var u UserItem
	if err := m.Store.Get(r.Context(), UserKey(caller.UserID), &u); err != nil {
		return err
	}
	n, err := nodes.Get(r.Context(), m.Store, u.NodeID)
	if errors.Is(err, store.ErrNotFound) {
		// The user's node was removed under them: they have no console left.
		return problem.NoConsoleAccess()
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, Profile{
		ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Role: u.Role, Status: u.Status, Node: NodeRef{ID: n.ID, Kind: n.Kind, Name: n.Name},
		MFAEnrolled: u.MFAEnrolled, MFARequired: caller.MFARequired,
	})
}
