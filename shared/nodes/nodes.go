// Package nodes is how tree nodes (the platform, distributors, and later partners,
// organizations and companies) are stored: one item per node, listed under its parent
// by name through GSI1 and by status and name through GSI2, with its name held unique
// among its siblings by a unique-key item written in the same transaction.
package nodes

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Item is a node as stored.
type Item struct {
	PK       string    `dynamodbav:"PK"`
	SK       string    `dynamodbav:"SK"`
	Type     string    `dynamodbav:"type"`
	ID       string    `dynamodbav:"id"`
	Kind     tree.Kind `dynamodbav:"kind"`
	ParentID string    `dynamodbav:"parentId,omitempty"`
	Path     []string  `dynamodbav:"path"`
	Name     string    `dynamodbav:"name"`
	NameKey  string    `dynamodbav:"nameKey"`
	Status   string    `dynamodbav:"status"`
	// Attrs are the level's own fields (contact email, tier, flags), validated by the
	// level that serves the node.
	Attrs   map[string]any `dynamodbav:"attrs,omitempty"`
	Version int            `dynamodbav:"version"`
	// Children counts the node's direct children, kept in the same transactions that
	// create and delete them, so a delete that finds it zero can never orphan a child
	// created at the same moment. (The counts by kind and status, for display, come
	// from the stream; see package counts.)
	Children  int    `dynamodbav:"children"`
	CreatedAt string `dynamodbav:"createdAt"`
	UpdatedAt string `dynamodbav:"updatedAt"`
	GSI1PK    string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK    string `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK    string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK    string `dynamodbav:"GSI2SK,omitempty"`
	// GSI3 … GSI6 list a node across its grandparent's and great-grandparent's branch
	// (organizations across a distributor and across the platform); see BranchKey.
	GSI3PK string `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK string `dynamodbav:"GSI3SK,omitempty"`
	GSI4PK string `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK string `dynamodbav:"GSI4SK,omitempty"`
	GSI5PK string `dynamodbav:"GSI5PK,omitempty"`
	GSI5SK string `dynamodbav:"GSI5SK,omitempty"`
	GSI6PK string `dynamodbav:"GSI6PK,omitempty"`
	GSI6SK string `dynamodbav:"GSI6SK,omitempty"`
}

// PK is the partition key of node id: the node's item and the items kept beside it
// (its counts, its admins, its stream markers) share it.
func PK(id string) string { return "NODE#" + id }

// SK is the sort key of the node's own item.
const SK = "NODE"

// Key is the primary key of node id.
func Key(id string) store.Item { return store.Key(PK(id), SK) }

// DeletingAttr is the node attribute that marks a node being deleted by a cascade
// (shared/cascade): from the moment it is set the node blocks its subtree, like a
// suspension, and takes no new children.
const DeletingAttr = "deleting"

// Blocking decodes a raw node item read for a lineage check and reports whether it
// takes its subtree out of service: being deleted, or in a status that blocks
// (tree.Blocks). The caller check and login-as sessions both ask it.
func Blocking(raw store.Item) (Item, bool, error) {
	var it Item
	if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
		return Item{}, false, err
	}
	_, deleting := raw[DeletingAttr]
	return it, deleting || tree.Blocks(it.Status), nil
}

// CountChild is the write that counts a new child on its parent. Made in the same
// transaction as the child, it proves that the parent still exists and is not being
// deleted (and whatever also adds), and it stops the parent's delete from orphaning
// the child.
func CountChild(parentID string, also ...expression.ConditionBuilder) (store.Write, error) {
	cond := expression.AttributeExists(expression.Name("PK")).
		And(expression.AttributeNotExists(expression.Name(DeletingAttr)))
	for _, c := range also {
		cond = cond.And(c)
	}
	return store.AddIf(Key(parentID), "children", 1, cond)
}

// Childless holds when the node is still at version and has no children: the
// condition of a node's delete, which the children counter makes exact (a child
// created a moment ago counts, whatever the indexes show yet).
func Childless(version int) expression.ConditionBuilder {
	return expression.Name("version").Equal(expression.Value(version)).And(
		expression.Or(expression.AttributeNotExists(expression.Name("children")),
			expression.Name("children").Equal(expression.Value(0))))
}

// InService is the condition check that node id still exists and is not being
// deleted, for a write that hangs something (a console user) below it.
func InService(id string) (store.Write, error) {
	c, err := store.Cond(expression.AttributeExists(expression.Name("PK")).
		And(expression.AttributeNotExists(expression.Name(DeletingAttr))))
	if err != nil {
		return store.Write{}, err
	}
	return store.Check(Key(id), c), nil
}

// Stamp is the form of every stored timestamp (createdAt, updatedAt): RFC 3339, UTC,
// to the second.
func Stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Node is the item as the tree rules see it.
func (it Item) Node() tree.Node { return tree.Node{ID: it.ID, Kind: it.Kind, Path: it.Path} }

// Get reads node id; store.ErrNotFound when there is none.
func Get(ctx context.Context, st *store.Store, id string) (Item, error) {
	var it Item
	err := st.Get(ctx, Key(id), &it)
	return it, err
}

// idPrefix keeps ids of different kinds apart, so an id of the wrong kind is refused
// without a read.
var idPrefix = map[tree.Kind]string{
	tree.KindDistributor:  "dst_",
	tree.KindPartner:      "prt_",
	tree.KindOrganization: "org_",
	tree.KindCompany:      "cmp_",
	tree.KindEndUser:      "eu_",
}

// idBodyLen is the length of an id after its prefix: a lower-case ULID.
const idBodyLen = 26

// validBody reports whether b could be a lower-case ULID (a loop, not a package-level
// regexp, so that it costs nothing at a function's cold start).
func validBody(b string) bool {
	if len(b) != idBodyLen {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// NewPrefixedID makes a new id of the form every id of the API has: prefix, then a
// lower-case ULID (node ids, and the ids of licenses and client services).
func NewPrefixedID(prefix string) string { return prefix + strings.ToLower(ulid.Make().String()) }

// ValidPrefixedID reports whether id could be one NewPrefixedID(prefix) made.
func ValidPrefixedID(prefix, id string) bool {
	b, ok := strings.CutPrefix(id, prefix)
	return ok && validBody(b)
}

// NewID makes a new id for a node of kind.
func NewID(kind tree.Kind) string {
	return NewPrefixedID(idPrefix[kind])
}

// ValidID reports whether id could be the id of a node of kind.
func ValidID(kind tree.Kind, id string) bool {
	p, ok := idPrefix[kind]
	return ok && ValidPrefixedID(p, id)
}

// KindOfID tells the kind of node an id names ("platform" or a prefixed id), or false.
func KindOfID(id string) (tree.Kind, bool) {
	if id == tree.PlatformID {
		return tree.KindPlatform, true
	}
	for k, p := range idPrefix {
		if strings.HasPrefix(id, p) && validBody(id[len(p):]) {
			return k, true
		}
	}
	return "", false
}

// sep joins a name key and an id in sort keys. It sorts before every character a name
// may hold, so "ab" lists before "ab c".
const sep = "\x01"

// NameKey is the case-insensitive form of a name used for search and uniqueness.
func NameKey(name string) string { return strings.ToLower(name) }

// ChildrenKey is the GSI1 partition of parent's children of kind.
func ChildrenKey(parentID string, kind tree.Kind) string {
	return "CHILDREN#" + parentID + "#" + string(kind)
}

// ChildrenByStatusKey is the GSI2 partition of parent's children of kind in status.
func ChildrenByStatusKey(parentID string, kind tree.Kind, status string) string {
	return ChildrenKey(parentID, kind) + "#" + status
}

// BranchKey is the partition, in GSI3 (distributor) or GSI5 (platform), of the nodes of
// kind anywhere below ancestor; with filter (a status), in GSI4 or GSI6. The
// platform's is split into shards (BranchKeys).
func BranchKey(ancestorID string, kind tree.Kind, filter string) string {
	k := "BRANCH#" + ancestorID + "#" + string(kind)
	if filter != "" {
		k += "#" + filter
	}
	return k
}

// LineagePrefix is the start of the subtree sort key of everything below the node
// with lineage (root first, the node last): its ids below the platform, each
// followed by a slash; "" for the platform, whose subtree is the whole partition. Ids
// hold no slash, so one node's prefix never starts another's. The sort key of a thing
// in a subtree index is the prefix of its own lineage, so the things of a node's
// subtree are the key condition begins_with(SK, the node's prefix): licenses, and
// the partners, companies, end users and console users of a branch.
func LineagePrefix(lineage []string) string {
	var b strings.Builder
	for _, id := range lineage {
		if id == tree.PlatformID {
			continue
		}
		b.WriteString(id)
		b.WriteByte('/')
	}
	return b.String()
}

// SubtreeShards is how many partitions each subtree index partition (GSI3, GSI4: every
// partner, company, end user and console user of the platform, by kind) is split into.
// Every change of such a thing writes its kind's partition, which at the stated load
// could take 700 writes a second (docs/scale.md); split in four, a shard takes a
// quarter, and a page reads the four in parallel (store.QueryShards), the lineage
// prefix as the key condition of each. Fixed: changing it moves every such index key.
const SubtreeShards = 4

// SubtreeKeys are the partitions, in GSI3 (all) or GSI4 (with filter, a status or the
// value a level filters on), that together hold the things of kind anywhere in the
// platform, each sorted by lineage (see LineagePrefix) then name.
func SubtreeKeys(kind tree.Kind, filter string) []string {
	k := "SUBTREE#" + string(kind)
	if filter != "" {
		k += "#" + filter
	}
	out := make([]string, SubtreeShards)
	for i := range out {
		out[i] = k + "#s" + strconv.Itoa(i)
	}
	return out
}

// SubtreeKeyOf is the partition of SubtreeKeys(kind, filter) that holds the thing id:
// its shard comes from a hash of the id, so it never moves.
func SubtreeKeyOf(kind tree.Kind, filter, id string) string {
	return shardOf(SubtreeKeys(kind, filter), id)
}

// shardOf picks the one of keys that holds id, by a hash of the id.
func shardOf(keys []string, id string) string {
	return keys[ShardIndex(id, len(keys))]
}

// ShardIndex is the shard, of n, that holds the thing id wherever the project splits
// a hot key (index partitions, audit logs, subtree totals): FNV-1a of the id mod n, so
// a thing never moves shard while n stays the same.
func ShardIndex(id string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// SubtreeSK is the subtree sort key of a thing below lineage (its parent's lineage,
// root first) known by sortKey (a lower-case name or email and its id).
func SubtreeSK(lineage []string, sortKey string) string {
	return LineagePrefix(lineage) + sep + sortKey
}

// SetSubtreeKeys gives the node its places in the subtree indexes (GSI3, and GSI4 by
// filter), for levels listed across any ancestor's branch; call it after
// SetIndexKeys, which clears them.
func (it *Item) SetSubtreeKeys(filter string) {
	sk := SubtreeSK(it.Path, it.NameKey+sep+it.ID)
	it.GSI3PK, it.GSI3SK = SubtreeKeyOf(it.Kind, "", it.ID), sk
	it.GSI4PK, it.GSI4SK = SubtreeKeyOf(it.Kind, filter, it.ID), sk
}

// PlatformShards is how many partitions the platform's branch lists (GSI5, GSI6: every
// organization) are split into. Every organization change writes them, which at a
// thousand changes a second would pass half a partition's write limit (docs/scale.md);
// split in four, a shard takes a quarter, and a page reads the four in parallel
// (store.QueryShards). Fixed: changing it moves every organization's index keys.
const PlatformShards = 4

// BranchKeys are the partitions that together hold BranchKey(ancestorID, kind,
// filter): the PlatformShards shards for the platform, the one key otherwise.
func BranchKeys(ancestorID string, kind tree.Kind, filter string) []string {
	k := BranchKey(ancestorID, kind, filter)
	if ancestorID != tree.PlatformID {
		return []string{k}
	}
	out := make([]string, PlatformShards)
	for i := range out {
		out[i] = k + "#s" + strconv.Itoa(i)
	}
	return out
}

// branchKeyOf is the partition of BranchKeys(ancestorID, kind, filter) that holds node
// id: its shard comes from a hash of the id, so it never moves.
func branchKeyOf(ancestorID string, kind tree.Kind, filter, id string) string {
	return shardOf(BranchKeys(ancestorID, kind, filter), id)
}

// SetIndexKeys derives the index attributes from the node's parent, name and status.
// filter is the value listed by GSI2 (the status, unless the level filters on
// something else); branch adds the GSI3–GSI6 keys of the two ancestors above the
// parent, for levels listed across a branch.
func (it *Item) SetIndexKeys(filter string, branch bool) {
	it.NameKey = NameKey(it.Name)
	sk := it.NameKey + sep + it.ID
	it.GSI1PK, it.GSI1SK = ChildrenKey(it.ParentID, it.Kind), sk
	it.GSI2PK, it.GSI2SK = ChildrenByStatusKey(it.ParentID, it.Kind, filter), sk
	it.GSI3PK, it.GSI3SK, it.GSI4PK, it.GSI4SK = "", "", "", ""
	it.GSI5PK, it.GSI5SK, it.GSI6PK, it.GSI6SK = "", "", "", ""
	if !branch || len(it.Path) < 3 {
		return
	}
	grand, great := it.Path[len(it.Path)-2], it.Path[len(it.Path)-3]
	it.GSI3PK, it.GSI3SK = BranchKey(grand, it.Kind, ""), sk
	it.GSI4PK, it.GSI4SK = BranchKey(grand, it.Kind, filter), sk
	it.GSI5PK, it.GSI5SK = branchKeyOf(great, it.Kind, "", it.ID), sk
	it.GSI6PK, it.GSI6SK = branchKeyOf(great, it.Kind, filter, it.ID), sk
}

// NewChild makes the item of a new node of kind under parent; the caller sets its
// index keys once its fields are complete.
func NewChild(parent tree.Node, kind tree.Kind, name, status string, now time.Time) Item {
	id := NewID(kind)
	ts := Stamp(now)
	it := Item{
		PK: PK(id), SK: SK, Type: "node", ID: id, Kind: kind,
		ParentID: parent.ID, Path: parent.Lineage(), Name: name, Status: status,
		Version: 1, CreatedAt: ts, UpdatedAt: ts,
	}
	return it
}

// UniqueName is the unique-key item that holds a name among a parent's children of
// one kind.
type UniqueName struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	Type    string `dynamodbav:"type"`
	OwnerID string `dynamodbav:"ownerId"`
}

func uniqueNamePK(parentID string, kind tree.Kind, name string) string {
	return "UNIQUE#" + string(kind) + "-name#" + parentID + "#" + NameKey(name)
}

// UniqueNameKey is the key of the unique-key item that holds name among parent's
// children of kind: a GetItem of it tells whether the name is taken, without claiming it.
func UniqueNameKey(parentID string, kind tree.Kind, name string) store.Item {
	return store.Key(uniqueNamePK(parentID, kind, name), UniqueSK)
}

// UniqueSK is the sort key of every unique-key item (names, emails).
const UniqueSK = "UNIQUE"

// Unique is the unique-key item with partition key pk held by ownerID.
func Unique(pk, ownerID string) UniqueName {
	return UniqueName{PK: pk, SK: UniqueSK, Type: "unique", OwnerID: ownerID}
}

// NameOf is the unique-key item that holds the node's name among its siblings.
func NameOf(it Item) UniqueName { return Unique(uniqueNamePK(it.ParentID, it.Kind, it.Name), it.ID) }

// ClaimName is the write that claims the node's name among its siblings; it fails
// with conflict when another sibling holds the name.
func ClaimName(it Item, conflict error) (store.Write, error) {
	put, err := store.Put(NameOf(it), store.NotExists())
	return put.FailsWith(conflict), err
}

// ReleaseName is the write that frees the node's name, if it still holds it.
func ReleaseName(it Item, stale error) store.Write {
	return store.Delete(UniqueNameKey(it.ParentID, it.Kind, it.Name), store.AttrIs("ownerId", it.ID)).FailsWith(stale)
}

// MaxName is the longest node name, in characters.
const MaxName = 100

// CleanName trims a name and checks it: 1 to MaxName characters, no control
// characters. The error names field.
func CleanName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", problem.Invalid("the name is empty", problem.Field(field, "must not be empty"))
	case utf8.RuneCountInString(name) > MaxName:
		return "", problem.Invalid("the name is too long", problem.Field(field, fmt.Sprintf("must be at most %d characters", MaxName)))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", problem.Invalid("the name has a control character", problem.Field(field, "must not contain control characters"))
	}
	return name, nil
}

// SMTPSK is the sort key of a node's or a client service's own mail settings
// (shared/smtpsettings), in the owner's partition.
const SMTPSK = "SMTP"

// SMTPKey is the key of node id's mail settings: here, beside the node's own keys, for
// the sweeper, which removes them with the node without linking KMS.
func SMTPKey(id string) store.Item { return store.Key(PK(id), SMTPSK) }

// SignupKey is the key of organization orgID's self-service signup (shared/signup):
// here, beside the node's own keys, for those that remove it with the node without
// linking signup's mail.
func SignupKey(orgID string) store.Item { return store.Key("SIGNUP#"+orgID, "SIGNUP") }
