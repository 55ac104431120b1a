package levels

import (
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// What other packages that write nodes of a level use (shared/signup creates pending
// organizations and moves them to approved or rejected): the same view, audit fields,
// index keys, children counting and versioned updates as the level's own operations.

// View is the node as the level's operations show it.
func (l Level) View(it nodes.Item) View { return l.view(it) }

// AuditFields are the fields of the node the audit log compares.
func (l Level) AuditFields(it *nodes.Item) map[string]any { return l.auditFields(it) }

// SetIndexKeys derives the node's index keys from its fields (after a status change).
func (l Level) SetIndexKeys(it *nodes.Item) { l.setIndexKeys(it) }

// Transition makes the next version of before in status to, and the transaction items
// that store it in place if before is still the current version (412 stale
// otherwise), with a distributor's status replicas (nodes.StatusWrites); the children
// counter and the keys are not touched.
func (l Level) Transition(before nodes.Item, to string) (nodes.Item, []store.Write, error) {
	after := before
	after.Status = to
	w, err := l.advance(before, &after)
	if err != nil {
		return after, nil, err
	}
	return after, append([]store.Write{w}, nodes.StatusWrites(after, nil)...), nil
}

// IDField is the query parameter (and field) that names a node of kind: partnerId
// for a partner; "" for the platform, which lists take as the default scope.
func IDField(kind tree.Kind) string { return idField(kind) }

// OfKind is the level of nodes of kind, or false (the platform has none).
func OfKind(kind tree.Kind) (Level, bool) {
	for _, l := range All {
		if l.Kind == kind {
			return l, true
		}
	}
	return Level{}, false
}

// CreateOperation is the policy table's operation that creates a node of this level.
func (l Level) CreateOperation() tree.Operation { return tree.Operation(l.Resource + ".create") }
