package audit

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/store"
)

// Selection is a validated audit log query (the list's filters: nodeId, targetId,
// from, to, action, targetType, actorId), for work that reads the log outside the
// list itself: the exports (shared/auditexport). It reads exactly the entries that
// paging through GET /v1/audit-logs with the same filters returns.
type Selection struct{ q query }

// ParseSelection validates filters as the list does, with the list's messages.
func ParseSelection(filters map[string]string) (Selection, error) {
	q, err := parseQuery(filters)
	return Selection{q: q}, err
}

// NodeID is the nodeId filter ("" when absent: the caller's own node).
func (s Selection) NodeID() string { return s.q.nodeID }

// Stream reads the selection over node's log from every partition that holds it
// (one, or a sharded log's shards) as one sequence: oldestFirst reads the sort key
// (time) ascending, otherwise newest first as the list does. Read it with each items
// per partition a Read.
func (s Selection) Stream(st *store.Store, node string, oldestFirst bool) (*store.Stream, error) {
	ins, pks, err := s.Queries(node, oldestFirst)
	if err != nil {
		return nil, err
	}
	return st.NewStream(ins, pks, "PK", "SK"), nil
}

// Queries are the DynamoDB Queries of the selection over node's log, one per
// partition, with the partitions (see Stream).
func (s Selection) Queries(node string, oldestFirst bool) ([]dynamodb.QueryInput, []string, error) {
	ins, pks, _, err := s.q.inputs(node)
	if err != nil {
		return nil, nil, err
	}
	for i := range ins {
		fwd := oldestFirst
		ins[i].ScanIndexForward = &fwd
	}
	return ins, pks, nil
}

// DecodeEntry is the entry of an audit item as the list shows it (changes never null).
func DecodeEntry(it store.Item) (Entry, error) {
	var e entryItem
	if err := attributevalue.UnmarshalMap(it, &e); err != nil {
		return Entry{}, err
	}
	if e.Changes == nil {
		e.Changes = []FieldChange{}
	}
	return e.Entry, nil
}
