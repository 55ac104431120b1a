package audit

import (
	"strconv"
	"strings"

	"opsconsole/shared/nodes"
	"opsconsole/shared/tree"
)

// LogShards is how many partitions the audit log of a node of the top two levels (the
// platform, every distributor) is split into. Every change of the installation is an
// entry in the platform's log: at a thousand changes a second one partition would take
// 1,000 WCU/s, all of DynamoDB's per-partition limit (docs/scale.md, fix 1); in eight,
// a shard takes 125 (12.5%), the biggest distributor's 250 become 31 per shard. Each
// entry's shard comes from its id, so it never moves. Fixed: changing it moves every
// entry of those logs (a migration: write to the new count, read both).
const LogShards = 8

// shardedLog tells whether node's log is split into LogShards partitions.
func shardedLog(node string) bool {
	kind, _ := nodes.KindOfID(node)
	return kind == tree.KindPlatform || kind == tree.KindDistributor
}

// shardOf is the shard of entry id in a sharded log: FNV-1a of the id, mod LogShards.
func shardOf(id string) int { return nodes.ShardIndex(id, LogShards) }

// entryKeyOf is the partition of node's log that holds entry id: AUDIT#<node>#<shard>
// for a sharded log, AUDIT#<node> otherwise.
func entryKeyOf(node, id string) string {
	if !shardedLog(node) {
		return entryKey(node)
	}
	return entryKey(node) + "#" + strconv.Itoa(shardOf(id))
}

// LogPartitions are the partitions that together hold node's log: for a sharded log its
// LogShards shards and, first, the one partition it had before it was sharded, which
// a new installation never writes and an old one stops writing (read so that its
// entries, their exports and their digests stay whole until the retention removes
// them: one more Query of an empty range, half a read unit); AUDIT#<node> alone
// otherwise.
func LogPartitions(node string) []string {
	if !shardedLog(node) {
		return []string{entryKey(node)}
	}
	out := make([]string, 0, LogShards+1)
	out = append(out, entryKey(node))
	for s := range LogShards {
		out = append(out, entryKey(node)+"#"+strconv.Itoa(s))
	}
	return out
}

// lateKeyOf is the late-arrival index partition (GSI1) of the entries of partition pk
// of a node's log: AUDITL#<node>[#<shard>], sharded as the log is.
func lateKeyOf(pk string) string { return lateKey(strings.TrimPrefix(pk, "AUDIT#")) }
