// Package counts keeps, for every node of the tree, exact counts of its children by
// kind and status (how many approved organizations a partner has, how many suspended
// partners a distributor has). The dashboard reads them, and so does the 409 "has
// children" answer of a delete to say which children are in the way: one key lookup
// (Get) instead of a Query per kind and status over the children indexes.
//
// The counts are not written by the API: the tree-counter function (Consumer) derives
// them from the table's stream, so no request pays for them. They are exact once the
// stream has been read, and trail the table by the stream's delay (about a second)
// until then. Stream delivery is at least once, and a batch may be retried, bisected
// and replayed, so each child carries a marker of the version it was last counted
// at, and a record is applied only when it is newer (consume.go).
package counts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
)

// Item types and sort keys of the two items this package writes.
const (
	// countsSK is the sort key of a node's counts item, in the node's own partition.
	countsSK = "COUNTS"
	// countsType is the counts item's type attribute.
	countsType = "counts"
)

// Key is the primary key of node nodeID's counts item: PK NODE#<nodeID>, SK COUNTS,
// beside the node item itself so that the node's delete transaction removes both.
func Key(nodeID string) store.Item { return store.Key(nodes.PK(nodeID), countsSK) }

// attrName is the counts item's attribute holding the number of children of kind in
// status. Kinds never hold "#", so the first "#" splits the name back.
func attrName(kind, status string) string { return kind + "#" + status }

// Counts are a node's children by kind, then status. Zero entries are left out, so
// a node without children has empty Counts.
type Counts map[string]map[string]int

// Total is the number of children of every kind and status.
func (c Counts) Total() int {
	n := 0
	for _, byStatus := range c {
		for _, v := range byStatus {
			n += v
		}
	}
	return n
}

// Get reads node nodeID's counts, strongly consistent (one GetItem). A node that has
// never had a child counted has no counts item: that is empty Counts, not an error.
func Get(ctx context.Context, st *store.Store, nodeID string) (Counts, error) {
	var raw map[string]any
	err := st.Get(ctx, Key(nodeID), &raw)
	if errors.Is(err, store.ErrNotFound) {
		return Counts{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("counts of %s: %w", nodeID, err)
	}
	return fromItem(raw), nil
}

// fromItem reads the <kind>#<status> attributes of a counts item. Numbers decode as
// float64, exact for any count a table can hold. Other attributes (PK, SK, type) hold
// no "#" in their names.
func fromItem(raw map[string]any) Counts {
	c := Counts{}
	for name, v := range raw {
		kind, status, ok := strings.Cut(name, "#")
		n, isNum := v.(float64)
		if !ok || !isNum || n == 0 {
			continue
		}
		if c[kind] == nil {
			c[kind] = map[string]int{}
		}
		c[kind][status] = int(n)
	}
	return c
}
