package levels

import (
	"opsconsole/shared/api"
	"opsconsole/shared/deps"
)

// The level's functions: each builds one operation from a function's deps, for the
// function table (shared/lambdas) and the function's own main.

// Create is the function of POST /v1/<resource>.
func (l Level) Create(d deps.Deps) api.Operation { return l.operation(d, "create") }

// List is the function of GET /v1/<resource>.
func (l Level) List(d deps.Deps) api.Operation { return l.operation(d, "list") }

// Get is the function of GET /v1/<resource>/{id}.
func (l Level) Get(d deps.Deps) api.Operation { return l.operation(d, "get") }

// Update is the function of PATCH /v1/<resource>/{id}.
func (l Level) Update(d deps.Deps) api.Operation { return l.operation(d, "update") }

// Delete is the function of DELETE /v1/<resource>/{id}.
func (l Level) Delete(d deps.Deps) api.Operation { return l.operation(d, "delete") }

// Action is the function of POST /v1/<resource>/{id}/<verb>, one of the level's
// Actions (suspend, enable, deactivate, …).
func (l Level) Action(verb string) func(deps.Deps) api.Operation {
	return func(d deps.Deps) api.Operation { return l.operation(d, verb) }
}

func (l Level) operation(d deps.Deps, verb string) api.Operation {
	op, ok := (&Service{Level: l, Store: d.Store, Cursors: d.Cursors, Callers: d.Callers}).Operations()[verb]
	if !ok {
		panic("levels: " + l.Resource + " has no operation " + verb)
	}
	return op
}
