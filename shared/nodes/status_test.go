package nodes

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

const (
	dist    = "dst_01jh4m3k9v2c8x7r6t5y4w3q2p"
	partner = "prt_01jh4m5q7n3d9z8s6u4v2x1y0w"
	org     = "org_01jh4m7b2k5n8q1t4w7z0c3f6h"
)

func pk(it store.Item) string { return it["PK"].(*types.AttributeValueMemberS).Value }

func pks(items []store.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		if it != nil {
			out[i] = pk(it)
		}
	}
	return out
}

// TestStatusReplicaChoice is which keys the caller check reads: a distributor's
// replica picked by the caller's node, every other node's own item.
func TestStatusReplicaChoice(t *testing.T) {
	replica := func(id, caller string) string {
		return fmt.Sprintf("NODESTATUS#%s#%d", id, ShardIndex(caller, StatusReplicas))
	}
	for _, c := range []struct {
		name   string
		caller string
		ids    []string
		want   []string
	}{
		{"a distributor admin reads the replica its own node picks", dist, []string{dist}, []string{replica(dist, dist)}},
		{"a partner's user reads a replica and the partner's item", partner, []string{dist, partner}, []string{replica(dist, partner), "NODE#" + partner}},
		{"an organization's user: the replica its organization picks", org, []string{dist, partner, org}, []string{replica(dist, org), "NODE#" + partner, "NODE#" + org}},
		{"an id of no known kind is read as a node", "x", []string{"x"}, []string{"NODE#x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := pks(LineageKeys(c.caller, c.ids)); strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("keys %v, want %v", got, c.want)
			}
		})
	}

	t.Run("the replica keys", func(t *testing.T) {
		keys := StatusKeys(dist)
		if len(keys) != StatusReplicas {
			t.Fatalf("%d keys, want %d", len(keys), StatusReplicas)
		}
		for r, k := range keys {
			if pk(k) != fmt.Sprintf("NODESTATUS#%s#%d", dist, r) || k["SK"].(*types.AttributeValueMemberS).Value != StatusSK {
				t.Errorf("replica %d: %v", r, k)
			}
		}
		// Not the node's sort key: the stream's consumers of node items never see one.
		if StatusSK == SK {
			t.Errorf("StatusSK is the node's SK")
		}
	})
	t.Run("callers spread over every replica, each always on the same", func(t *testing.T) {
		seen := map[int]bool{}
		for range 64 {
			id := NewID(tree.KindOrganization)
			r := ShardIndex(id, StatusReplicas)
			if r < 0 || r >= StatusReplicas || pk(StatusKeyFor(dist, id)) != pk(StatusKey(dist, r)) {
				t.Fatalf("%s: replica %d, key %v", id, r, StatusKeyFor(dist, id))
			}
			seen[r] = true
		}
		if len(seen) != StatusReplicas {
			t.Errorf("64 organizations read %d replicas, want all %d", len(seen), StatusReplicas)
		}
	})
	t.Run("one shard or none is shard 0", func(t *testing.T) {
		for _, n := range []int{-1, 0, 1} {
			if got := ShardIndex(org, n); got != 0 {
				t.Errorf("ShardIndex(_, %d) = %d", n, got)
			}
		}
	})
}

// table is a fake of the table for the lineage reads: it answers BatchGetItem from its
// items and applies the transactions StatusWrites and StatusDeletes build (SET of
// values, deletes), counting the batch reads.
type table struct {
	store.Client
	items      map[string]store.Item
	batchReads int
}

func (f *table) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.batchReads++
	var out []map[string]types.AttributeValue
	for _, ka := range in.RequestItems {
		if !aws.ToBool(ka.ConsistentRead) {
			return nil, fmt.Errorf("a lineage read that is not strongly consistent")
		}
		for _, k := range ka.Keys {
			if it, ok := f.items[pk(k)]; ok {
				out = append(out, it)
			}
		}
	}
	return &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{"tbl": out}}, nil
}

func (f *table) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, w := range in.TransactItems {
		switch {
		case w.Update != nil:
			it := maps.Clone(f.items[pk(w.Update.Key)])
			if it == nil {
				it = maps.Clone(w.Update.Key)
			}
			set, ok := strings.CutPrefix(aws.ToString(w.Update.UpdateExpression), "SET ")
			if !ok || w.Update.ConditionExpression != nil {
				return nil, fmt.Errorf("unexpected update %q (condition %v)", aws.ToString(w.Update.UpdateExpression), w.Update.ConditionExpression)
			}
			for _, a := range strings.Split(set, ", ") {
				name, value, _ := strings.Cut(a, " = ")
				it[w.Update.ExpressionAttributeNames[name]] = w.Update.ExpressionAttributeValues[value]
			}
			f.items[pk(w.Update.Key)] = it
		case w.Delete != nil:
			delete(f.items, pk(w.Delete.Key))
		default:
			return nil, fmt.Errorf("unexpected write %+v", w)
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// TestStatusReplicasDecideAsTheNode writes a distributor's replicas as the writers do
// and reads its lineage as the caller check does: the replicas say what the node says,
// in one batch read; a missing replica is made up for by the node, in a second.
func TestStatusReplicasDecideAsTheNode(t *testing.T) {
	ctx := context.Background()
	nodeOf := func(t *testing.T, id string, kind tree.Kind, status string) store.Item {
		av, err := attributevalue.MarshalMap(Item{PK: PK(id), SK: SK, Type: "node", ID: id, Kind: kind, Status: status, Version: 3})
		if err != nil {
			t.Fatal(err)
		}
		return av
	}
	mark := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"jobId": &types.AttributeValueMemberS{Value: "j"}}}
	for _, c := range []struct {
		name string
		// node is the distributor's status in its node item ("" for none), replicas
		// its status in the replicas ("" for none written).
		node, replicas string
		deleting       bool
		// deleted deletes the replicas again, as the distributor's delete does.
		deleted     bool
		wantBlocked bool
		wantGone    bool
		wantReads   int
	}{
		{name: "active", node: "active", replicas: "active", wantReads: 1},
		{name: "suspended", node: "suspended", replicas: "suspended", wantBlocked: true, wantReads: 1},
		{name: "being deleted", node: "active", replicas: "active", deleting: true, wantBlocked: true, wantReads: 1},
		{name: "replicas missing, the node active", node: "active", wantReads: 2},
		{name: "replicas missing, the node suspended", node: "suspended", wantBlocked: true, wantReads: 2},
		{name: "replicas and node gone", node: "active", replicas: "active", deleted: true, wantGone: true, wantReads: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &table{items: map[string]store.Item{PK(partner): nodeOf(t, partner, tree.KindPartner, "active")}}
			st := &store.Store{DB: f, Table: "tbl"}
			d := Item{ID: dist, Kind: tree.KindDistributor, Status: c.replicas, Version: 3}
			if c.replicas != "" {
				var deleting types.AttributeValue
				if c.deleting {
					deleting = mark
				}
				if err := st.Transact(ctx, StatusWrites(d, deleting)...); err != nil {
					t.Fatal(err)
				}
				if len(f.items) != 1+StatusReplicas {
					t.Fatalf("%d items after the writes, want the partner and %d replicas", len(f.items), StatusReplicas)
				}
			}
			if c.node != "" {
				f.items[PK(dist)] = nodeOf(t, dist, tree.KindDistributor, c.node)
			}
			if c.deleted {
				if err := st.Transact(ctx, StatusDeletes(d)...); err != nil {
					t.Fatal(err)
				}
				delete(f.items, PK(dist))
			}
			got, err := ReadLineage(ctx, st, partner, []string{dist, partner})
			if err != nil {
				t.Fatal(err)
			}
			if f.batchReads != c.wantReads {
				t.Errorf("%d batch reads, want %d", f.batchReads, c.wantReads)
			}
			if len(got) != 2 || got[1] == nil || pk(got[1]) != PK(partner) {
				t.Fatalf("read %v", pks(got))
			}
			if c.wantGone {
				if got[0] != nil {
					t.Errorf("a deleted distributor read as %v", got[0])
				}
				return
			}
			if got[0] == nil {
				t.Fatal("the distributor read as gone")
			}
			n, blocked, err := Blocking(got[0])
			if err != nil {
				t.Fatal(err)
			}
			if blocked != c.wantBlocked || n.ID != dist || n.Kind != tree.KindDistributor || n.Version != 3 {
				t.Errorf("blocked %v, want %v; read %+v", blocked, c.wantBlocked, n)
			}
		})
	}
}

// TestStatusWritesOnlyForDistributors: other kinds have no replicas to keep.
func TestStatusWritesOnlyForDistributors(t *testing.T) {
	for _, c := range []struct {
		kind tree.Kind
		want int
	}{
		{tree.KindPlatform, 0},
		{tree.KindDistributor, StatusReplicas},
		{tree.KindPartner, 0},
		{tree.KindOrganization, 0},
		{tree.KindCompany, 0},
		{tree.KindEndUser, 0},
	} {
		t.Run(string(c.kind), func(t *testing.T) {
			it := Item{ID: NewID(c.kind), Kind: c.kind, Status: "active", Version: 1}
			if got := len(StatusWrites(it, nil)); got != c.want {
				t.Errorf("%d writes, want %d", got, c.want)
			}
			if got := len(StatusDeletes(it)); got != c.want {
				t.Errorf("%d deletes, want %d", got, c.want)
			}
		})
	}
}
