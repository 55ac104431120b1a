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

// Query is the DynamoDB Query of the selection over node's log; oldestFirst reads the
// sort key (time) ascending, otherwise newest first as the list does.
func (s Selection) Query(node string, oldestFirst bool) (dynamodb.QueryInput, error) {
	in, _, err := s.q.input(node)
	if err != nil {
		return in, err
	}
	fwd := oldestFirst
	in.ScanIndexForward = &fwd
	return in, nil
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
