package audit

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/shared/api"
	"opsconsole/shared/cursor"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

func logger() *slog.Logger { return api.Logger }

// Page is a page of the audit log.
type Page struct {
	Items      []Entry `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// Lister serves GET /v1/audit-logs: the caller's subtree's log, newest first.
type Lister struct {
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
}

// Operation is the route's operation.
func (l *Lister) Operation() api.Operation {
	return api.Operation{
		ID: tree.OpAuditLogsList, Method: http.MethodGet, Path: "/v1/audit-logs", Kind: "audit log",
		Callers: l.Callers, Handle: l.list,
	}
}

// timeRange validates the from and to filters and turns them into the sort key bounds
// of a time range: from is inclusive, and to covers every entry of its millisecond.
// A range that ends before it starts is refused here: DynamoDB would answer BETWEEN
// with bounds in the wrong order with a validation error, which is the caller's fault,
// not ours.
func timeRange(filters map[string]string) (from, to string, errs []problem.FieldError) {
	var times [2]time.Time
	for i, name := range []string{"from", "to"} {
		v, ok := filters[name]
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
			errs = append(errs, problem.Field(name, "must be an RFC 3339 time between years 0001 and 9999, such as 2026-01-02T15:04:05Z"))
			continue
		}
		times[i] = t.UTC()
		if i == 0 {
			from = times[i].Format(TimeFormat)
		} else {
			to = times[i].Format(TimeFormat) + "~"
		}
	}
	if from != "" && to != "" && times[0].After(times[1]) {
		errs = append(errs, problem.Field("from", "must not be after to"))
		from, to = "", ""
	}
	return from, to, errs
}

func (l *Lister) list(w http.ResponseWriter, r *http.Request) error {
	q, err := api.ParseList(r, "from", "to", "action", "targetType", "actorId")
	if err != nil {
		return err
	}
	caller := api.CallerOf(r.Context())
	from, to, errs := timeRange(q.Filters)
	for _, name := range []string{"action", "targetType", "actorId"} {
		if v, ok := q.Filters[name]; ok && (v == "" || len(v) > 200) {
			errs = append(errs, problem.Field(name, "must be 1 to 200 characters"))
		}
	}
	if len(errs) > 0 {
		return problem.Invalid("the query string is invalid", errs...)
	}

	key := expression.Key("PK").Equal(expression.Value(entryKey(caller.Node.ID)))
	// Sort keys start with the entry's time, so a time range is a key condition.
	switch sk := expression.Key("SK"); {
	case from != "" && to != "":
		key = key.And(sk.Between(expression.Value(from), expression.Value(to)))
	case from != "":
		key = key.And(sk.GreaterThanEqual(expression.Value(from)))
	case to != "":
		key = key.And(sk.LessThanEqual(expression.Value(to)))
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	var filter *expression.ConditionBuilder
	for name, attr := range map[string]string{"action": "action", "targetType": "target.type", "actorId": "actor.userId"} {
		if v, ok := q.Filters[name]; ok {
			c := expression.Name(attr).Equal(expression.Value(v))
			if filter == nil {
				filter = &c
			} else {
				and := filter.And(c)
				filter = &and
			}
		}
	}
	if filter != nil {
		b = b.WithFilter(*filter)
	}
	expr, err := b.Build()
	if err != nil {
		return err
	}
	in := dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: new(bool),
	}
	binding := q.Binding(caller.UserID, "GET /v1/audit-logs")
	if q.Cursor != "" {
		start, err := l.Cursors.Decode(binding, q.Cursor)
		if err != nil {
			return problem.InvalidCursor()
		}
		in.ExclusiveStartKey = start
	}
	page, err := l.Store.QueryPage(r.Context(), in, q.Limit, []string{"PK", "SK"})
	if err != nil {
		return err
	}
	out := Page{Items: make([]Entry, 0, len(page.Items))}
	for _, it := range page.Items {
		var e entryItem
		if err := attributevalue.UnmarshalMap(it, &e); err != nil {
			return err
		}
		if e.Changes == nil {
			e.Changes = []FieldChange{}
		}
		out.Items = append(out.Items, e.Entry)
	}
	if page.Next != nil {
		c, err := l.Cursors.Encode(binding, page.Next)
		if err != nil {
			return errors.Join(errors.New("encode cursor"), err)
		}
		out.NextCursor = &c
	}
	return api.WriteJSON(w, http.StatusOK, out)
}
