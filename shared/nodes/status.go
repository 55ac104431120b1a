package nodes

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// StatusReplicas is how many status replicas a distributor has: copies of what the
// caller check decides by (kind, status, version, the deleting mark), each in its own
// partition, so that the check of a caller in the distributor's branch reads one of
// them instead of the node item. Every request of the branch reads the distributor
// strongly consistent; the biggest distributor's 2,500 reads a second (docs/scale.md,
// fix 2) are 83% of one partition's 3,000 RCU/s, and over 4 replicas 625 each (21%).
// Even if its biggest partner's 500 a second all came from that partner's own node
// (every caller at one node reads the same replica), that replica takes 500 + 2,000 ÷ 4
// = 1,000 (33%): under half. More replicas would add writes to every distributor
// change for reads no key needs. Fixed: changing it moves replicas (a replica the new
// count does not find is read through the fallback, so it is safe, but slower).
const StatusReplicas = 4

// statusPrefix starts a status replica's partition key: NODESTATUS#<id>#<r>.
const statusPrefix = "NODESTATUS#"

// StatusSK is the sort key of a status replica. It is not SK ("NODE"), so the stream
// router sends its records to none of the consumers of node items (the tree counter,
// the node sweeper), and its type is not a change record's, so neither the audit
// writer nor the webhook dispatcher sees it.
const StatusSK = "STATUS"

// StatusType is the type attribute of a status replica.
const StatusType = "nodestatus"

// HasStatusReplicas reports whether nodes of kind keep status replicas: distributors
// only. The platform is never read by the caller check (it never blocks), and a
// partner's item takes at most its own branch's reads (500 a second for the biggest,
// 17%), so neither needs them.
func HasStatusReplicas(kind tree.Kind) bool { return kind == tree.KindDistributor }

// StatusKey is the key of status replica r (0 ≤ r < StatusReplicas) of node id.
func StatusKey(id string, r int) store.Item {
	return store.Key(statusPrefix+id+"#"+strconv.Itoa(r), StatusSK)
}

// StatusKeys are the keys of every status replica of node id.
func StatusKeys(id string) []store.Item {
	out := make([]store.Item, StatusReplicas)
	for r := range out {
		out[r] = StatusKey(id, r)
	}
	return out
}

// StatusKeyFor is the status replica of node id that a caller at node callerNodeID
// reads: chosen by a hash of the caller's node, so a branch's callers, spread over its
// many nodes, spread over the replicas, and one caller always reads the same one.
func StatusKeyFor(id, callerNodeID string) store.Item {
	return StatusKey(id, ShardIndex(callerNodeID, StatusReplicas))
}

// StatusWrites are the transaction items that set every status replica of it to its
// kind, status and version, and, when deleting is not nil, to the cascade's mark
// (DeletingAttr); none for a kind without replicas. They are written in the same
// transaction as every write of a distributor's node item, so a replica never differs
// from the node once that transaction commits. Each is an update without a
// condition: it makes a missing replica (a distributor written before replicas
// existed) whole, and it never removes a mark the node still carries.
func StatusWrites(it Item, deleting types.AttributeValue) []store.Write {
	if !HasStatusReplicas(it.Kind) {
		return nil
	}
	e := store.Expr{
		Update: "SET #type = :type, #id = :id, #kind = :kind, #status = :status, #version = :version",
		Names:  map[string]string{"#type": "type", "#id": "id", "#kind": "kind", "#status": "status", "#version": "version"},
		Values: map[string]any{":type": StatusType, ":id": it.ID, ":kind": string(it.Kind), ":status": it.Status, ":version": it.Version},
	}
	if deleting != nil {
		e.Update += ", #deleting = :deleting"
		e.Names["#deleting"], e.Values[":deleting"] = DeletingAttr, deleting
	}
	out := make([]store.Write, StatusReplicas)
	for r, k := range StatusKeys(it.ID) {
		out[r] = store.Edit(k, e)
	}
	return out
}

// StatusDeletes are the transaction items that delete every status replica of it,
// for the transaction that deletes its node item; none for a kind without replicas.
// (The node sweeper deletes them too, for a node removed by any other way.)
func StatusDeletes(it Item) []store.Write {
	if !HasStatusReplicas(it.Kind) {
		return nil
	}
	out := make([]store.Write, StatusReplicas)
	for r, k := range StatusKeys(it.ID) {
		out[r] = store.Delete(k, nil)
	}
	return out
}

// LineageKeys are the keys the caller check of a caller at node callerNodeID reads for
// the nodes ids (its lineage below the platform, root first, its own node last): a
// distributor's status replica (StatusKeyFor), every other node's own item.
func LineageKeys(callerNodeID string, ids []string) []store.Item {
	keys := make([]store.Item, len(ids))
	for i, id := range ids {
		if kind, _ := KindOfID(id); HasStatusReplicas(kind) {
			keys[i] = StatusKeyFor(id, callerNodeID)
		} else {
			keys[i] = Key(id)
		}
	}
	return keys
}

// ReadLineage reads, strongly consistent, what tells whether each node of ids blocks
// a caller at node callerNodeID (see LineageKeys), in one BatchGetItem. A replica that
// is missing (a distributor written before replicas existed, or straight to the
// table) is made up for by its node item, in a second BatchGetItem, so that its
// absence neither refuses nor lets through anyone wrongly. The answer holds one raw
// item per id, in the order of ids (Blocking decodes either kind), nil for a node
// that is gone. At most store.MaxBatchGet ids.
func ReadLineage(ctx context.Context, st *store.Store, callerNodeID string, ids []string) ([]store.Item, error) {
	keys := LineageKeys(callerNodeID, ids)
	out, err := readByPK(ctx, st, keys)
	if err != nil {
		return nil, err
	}
	var again []store.Item
	var at []int
	for i, it := range out {
		if it == nil && store.PKOf(keys[i]) != PK(ids[i]) {
			again, at = append(again, Key(ids[i])), append(at, i)
		}
	}
	if len(again) == 0 {
		return out, nil
	}
	got, err := readByPK(ctx, st, again)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = got[j]
	}
	return out, nil
}

// readByPK reads keys (of distinct partitions) in one BatchGetItem and answers the
// items in the order of keys, nil for one missing: BatchGetItem answers in any order.
func readByPK(ctx context.Context, st *store.Store, keys []store.Item) ([]store.Item, error) {
	items, err := st.BatchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	byPK := make(map[string]store.Item, len(items))
	for _, it := range items {
		byPK[store.PKOf(it)] = it
	}
	out := make([]store.Item, len(keys))
	for i, k := range keys {
		out[i] = byPK[store.PKOf(k)]
	}
	return out, nil
}
