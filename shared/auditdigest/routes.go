package auditdigest

import (
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/cursor"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Page is a page of digests, oldest first (the chain's order).
type Page struct {
	Items      []Digest `json:"items"`
	NextCursor *string  `json:"nextCursor"`
}

// Lister serves GET /v1/audit-logs/digests: a node's digests (the caller's own by
// default, any node in their branch with nodeId) whose periods meet [from, to].
type Lister struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
	Period  time.Duration
}

// Operation is the route's operation.
func (l *Lister) Operation() api.Operation {
	return api.Operation{
		ID: tree.OpAuditDigestsList, Method: http.MethodGet, Path: "/v1/audit-logs/digests", Kind: "audit digests",
		Callers: l.Callers, Handle: l.list,
	}
}

func (l *Lister) list(w http.ResponseWriter, r *http.Request) error {
	lq, err := api.ParseList(r, "nodeId", "from", "to")
	if err != nil {
		return err
	}
	// The audit log's own rules for nodeId, from and to, with its messages.
	if _, err := audit.ParseSelection(lq.Filters); err != nil {
		return err
	}
	caller := api.CallerOf(r.Context())
	node := caller.Node.ID
	if id, ok := lq.Filters["nodeId"]; ok && id != node {
		it, err := nodes.Get(r.Context(), l.Store, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return problem.NotFound("node")
		case err != nil:
			return err
		}
		if !caller.Node.Contains(it.Node()) {
			return problem.NotFound("node")
		}
		node = it.ID
	}
	// A digest's sort key is its period's start: from reaches back to the start of
	// its own period, so the digest covering from is listed.
	sk := expression.Key("SK")
	key := expression.Key("PK").Equal(expression.Value(digestKey(node)))
	from, to := "", ""
	if v, ok := lq.Filters["from"]; ok {
		t, _ := time.Parse(time.RFC3339, v)
		from = audit.PeriodStart(t.UTC(), l.Period).Format(audit.TimeFormat)
	}
	if v, ok := lq.Filters["to"]; ok {
		t, _ := time.Parse(time.RFC3339, v)
		to = t.UTC().Format(audit.TimeFormat)
	}
	switch {
	case from != "" && to != "":
		key = key.And(sk.Between(expression.Value(from), expression.Value(to)))
	case from != "":
		key = key.And(sk.GreaterThanEqual(expression.Value(from)))
	case to != "":
		key = key.And(sk.LessThanEqual(expression.Value(to)))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return err
	}
	in := dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), Limit: aws.Int32(int32(lq.Limit)),
	}
	binding := lq.Binding(caller.UserID, "GET /v1/audit-logs/digests")
	if lq.Cursor != "" {
		if in.ExclusiveStartKey, err = l.Cursors.Decode(binding, lq.Cursor); err != nil {
			return problem.InvalidCursor()
		}
	}
	res, err := l.Store.QueryOnce(r.Context(), in)
	if err != nil {
		return err
	}
	out := Page{Items: make([]Digest, 0, len(res.Items))}
	for _, it := range res.Items {
		var d digestItem
		if err := attributevalue.UnmarshalMap(it, &d); err != nil {
			return err
		}
		out.Items = append(out.Items, d.Digest)
	}
	if res.Next != nil {
		c, err := l.Cursors.Encode(binding, res.Next)
		if err != nil {
			return err
		}
		out.NextCursor = &c
	}
	return api.WriteJSON(w, http.StatusOK, out)
}
