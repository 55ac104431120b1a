package api

import (
	"errors"
	"net/http"

	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// ItemTarget is the Target of a route on one item that lives in the tree (a client
// service, a license, a webhook endpoint, an API client) named by the path's {id}. An
// id that valid refuses is not read; it, a missing item and one that place refuses (an
// item of another type under the key, or one with no place in the tree) are all a 404
// of kind, exactly like an item outside the caller's branch, so a caller learns nothing
// from the difference. place gives the node the policy judges the item by.
func ItemTarget[T any](st *store.Store, kind string, valid func(string) bool, key func(string) store.Item, place func(T) (tree.Node, bool)) Target {
	return func(r *http.Request) (tree.Node, any, error) {
		id := r.PathValue("id")
		if !valid(id) {
			return tree.Node{}, nil, problem.NotFound(kind)
		}
		var it T
		err := st.Get(r.Context(), key(id), &it)
		if errors.Is(err, store.ErrNotFound) {
			return tree.Node{}, nil, problem.NotFound(kind)
		}
		if err != nil {
			return tree.Node{}, nil, err
		}
		n, ok := place(it)
		if !ok {
			return tree.Node{}, nil, problem.NotFound(kind)
		}
		return n, it, nil
	}
}
