package webhooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
)

// The statuses of a delivery.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// DeliveryStatuses lists them, which the log filters on.
var DeliveryStatuses = []string{DeliveryPending, DeliverySucceeded, DeliveryFailed}

// Attempt is one POST of a delivery.
type Attempt struct {
	At              string `dynamodbav:"at" json:"at"`
	StatusCode      int    `dynamodbav:"statusCode,omitempty" json:"statusCode,omitempty"`
	LatencyMs       int64  `dynamodbav:"latencyMs" json:"latencyMs"`
	ResponseExcerpt string `dynamodbav:"responseExcerpt,omitempty" json:"responseExcerpt,omitempty"`
	Error           string `dynamodbav:"error,omitempty" json:"error,omitempty"`
}

// Delivery is one event's delivery to one endpoint, as stored under the endpoint.
type Delivery struct {
	PK            string    `dynamodbav:"PK"`
	SK            string    `dynamodbav:"SK"`
	Type          string    `dynamodbav:"type"`
	ID            string    `dynamodbav:"id"`
	EndpointID    string    `dynamodbav:"endpointId"`
	EventID       string    `dynamodbav:"eventId"`
	EventType     string    `dynamodbav:"eventType"`
	Status        string    `dynamodbav:"status"`
	Attempts      []Attempt `dynamodbav:"attempts"`
	NextAttemptAt string    `dynamodbav:"nextAttemptAt,omitempty"`
	// Payload is the body every attempt sends, byte for byte (its signature covers it).
	Payload   string `dynamodbav:"payload"`
	CreatedAt string `dynamodbav:"createdAt"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

// DeliveryKey is the key of endpoint endpointID's delivery of the event eventULID.
func DeliveryKey(endpointID, eventULID string) store.Item {
	return store.Key(PK(endpointID), DeliveryPrefix+eventULID)
}

// eventULID reads the ULID back from an event or delivery id (evt_…, dlv_…).
func EventULID(id, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != 26 {
		return "", false
	}
	u, err := ulid.ParseStrict(strings.ToUpper(rest))
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// EventID and DeliveryID are the API's ids of an event ULID.
func EventID(eventULID string) string    { return "evt_" + strings.ToLower(eventULID) }
func DeliveryID(eventULID string) string { return "dlv_" + strings.ToLower(eventULID) }

// DeliveryView is a delivery as the log shows it.
type DeliveryView struct {
	ID            string    `json:"id"`
	EventID       string    `json:"eventId"`
	EventType     string    `json:"eventType"`
	Status        string    `json:"status"`
	Attempts      []Attempt `json:"attempts"`
	NextAttemptAt *string   `json:"nextAttemptAt"`
	CreatedAt     string    `json:"createdAt"`
}

// View is the delivery as shown.
func (d Delivery) View() DeliveryView {
	v := DeliveryView{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, Attempts: d.Attempts, CreatedAt: d.CreatedAt}
	if v.Attempts == nil {
		v.Attempts = []Attempt{}
	}
	if d.NextAttemptAt != "" && d.Status == DeliveryPending {
		n := d.NextAttemptAt
		v.NextAttemptAt = &n
	}
	return v
}

// Envelope is the body of every delivery.
type Envelope struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// NewDelivery is the pending delivery of event (its ULID, type, time and data) to
// endpoint endpointID.
func NewDelivery(endpointID, eventULIDs, eventType string, at time.Time, data any) (Delivery, error) {
	body, err := json.Marshal(Envelope{ID: EventID(eventULIDs), Type: eventType, Timestamp: at.UTC().Format(time.RFC3339), Data: data})
	if err != nil {
		return Delivery{}, err
	}
	return Delivery{
		PK: PK(endpointID), SK: DeliveryPrefix + eventULIDs, Type: DeliveryType, ID: DeliveryID(eventULIDs),
		EndpointID: endpointID, EventID: EventID(eventULIDs), EventType: eventType, Status: DeliveryPending,
		Attempts: []Attempt{}, Payload: string(body), CreatedAt: nodes.Stamp(at),
		ExpiresAt: at.Add(DeliveryRetention).Unix(),
	}, nil
}

// oldestKept is the sort key below which deliveries are past their retention: the
// reads stop there, whether or not the TTL has removed them yet.
func OldestKept(now time.Time) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(now.Add(-DeliveryRetention)))
	return DeliveryPrefix + u.String()
}

// DeliveryPage is a page of the log.
type DeliveryPage struct {
	Items      []DeliveryView `json:"items"`
	NextCursor *string        `json:"nextCursor"`
}

// deliveries lists the endpoint's deliveries, newest first, with one Query of its
// partition; a status or event type filter is a filter expression on it, so a page
// may hold fewer than limit with a cursor to more.
func (s *Service) deliveries(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	q, err := api.ParseList(r, "status", "eventType")
	if err != nil {
		return err
	}
	var errs []problem.FieldError
	if v, ok := q.Filters["status"]; ok && !slices.Contains(DeliveryStatuses, v) {
		errs = append(errs, problem.Field("status", "must be one of "+strings.Join(DeliveryStatuses, ", ")))
	}
	if v, ok := q.Filters["eventType"]; ok && !Known(v) {
		errs = append(errs, problem.Field("eventType", "must be a type of the catalog (GET /v1/webhook-event-types)"))
	}
	if len(errs) > 0 {
		return problem.Invalid("the query string is invalid", errs...)
	}
	caller := api.CallerOf(r.Context())
	binding := q.Binding(caller.UserID, "GET "+Resource+"/deliveries\n"+it.ID)
	var start store.Item
	if q.Cursor != "" {
		if start, err = s.Cursors.Decode(binding, q.Cursor); err != nil {
			return problem.InvalidCursor()
		}
	}
	key := expression.Key("PK").Equal(expression.Value(PK(it.ID))).
		And(expression.Key("SK").Between(expression.Value(OldestKept(s.now())), expression.Value(DeliveryPrefix+"\U0010FFFF")))
	b := expression.NewBuilder().WithKeyCondition(key)
	var filter *expression.ConditionBuilder
	add := func(c expression.ConditionBuilder) {
		if filter == nil {
			filter = &c
		} else {
			f := filter.And(c)
			filter = &f
		}
	}
	if v, ok := q.Filters["status"]; ok {
		add(expression.Name("status").Equal(expression.Value(v)))
	}
	if v, ok := q.Filters["eventType"]; ok {
		add(expression.Name("eventType").Equal(expression.Value(v)))
	}
	if filter != nil {
		b = b.WithFilter(*filter)
	}
	// The payload stays in the table: the log shows the attempts, not the bodies.
	b = b.WithProjection(expression.NamesList(expression.Name("PK"), expression.Name("SK"), expression.Name("id"), expression.Name("eventId"),
		expression.Name("eventType"), expression.Name("status"), expression.Name("attempts"), expression.Name("nextAttemptAt"), expression.Name("createdAt")))
	expr, err := b.Build()
	if err != nil {
		return err
	}
	in := dynamodb.QueryInput{
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: new(bool), ExclusiveStartKey: start,
	}
	page, err := s.Store.QueryPage(r.Context(), in, q.Limit, []string{"PK", "SK"})
	if err != nil {
		return err
	}
	out := DeliveryPage{Items: []DeliveryView{}}
	for _, av := range page.Items {
		var d Delivery
		if err := attributevalue.UnmarshalMap(av, &d); err != nil {
			return err
		}
		out.Items = append(out.Items, d.View())
	}
	if page.Next != nil {
		c, err := s.Cursors.Encode(binding, page.Next)
		if err != nil {
			return err
		}
		out.NextCursor = &c
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// replayed writes the change record of a replay (a redelivery, a recovery, a test)
// of endpoint it: the endpoint itself is unchanged, the record names what was sent.
func (s *Service) replayed(r *http.Request, it Item, verb string, extra map[string]any) error {
	rec, err := audit.Record(r, Change(verb, &it, &it, extra))
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(), rec)
}

func (s *Service) redeliver(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	if err := noQuery(r); err != nil {
		return err
	}
	u, ok := EventULID(r.PathValue("deliveryId"), "dlv_")
	if !ok {
		return problem.NotFound("delivery")
	}
	var d Delivery
	err := s.Store.Get(r.Context(), DeliveryKey(it.ID, u), &d)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.SK < OldestKept(s.now())) {
		return problem.NotFound("delivery")
	}
	if err != nil {
		return err
	}
	if it.Status != StatusActive {
		return problem.Conflict("invalid-transition", "the endpoint is "+it.Status+"; only an active one receives deliveries", problem.Field("status", "is "+it.Status))
	}
	if err := s.replayed(r, it, "redelivered", map[string]any{"redelivered": d.ID}); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusAccepted, Accepted{EndpointID: it.ID, DeliveryID: d.ID, Status: it.Status})
}

// RecoverRequest is the body of POST …/recover.
type RecoverRequest struct {
	Since *string `json:"since"`
	Until *string `json:"until"`
}

// recover re-sends every failed delivery of a span, oldest first, in one job that
// carries on from where it stopped (no cap on the count).
func (s *Service) recover(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	var b RecoverRequest
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	now := s.now()
	var errs []problem.FieldError
	parse := func(field string, v *string, def time.Time) time.Time {
		if v == nil {
			if def.IsZero() {
				errs = append(errs, problem.Field(field, "is required (RFC 3339)"))
			}
			return def
		}
		t, err := time.Parse(time.RFC3339, *v)
		if err != nil {
			errs = append(errs, problem.Field(field, "must be an RFC 3339 time"))
		}
		return t
	}
	since := parse("since", b.Since, time.Time{})
	until := parse("until", b.Until, now)
	if len(errs) == 0 && !until.After(since) {
		errs = append(errs, problem.Field("until", "must be after since"))
	}
	if len(errs) > 0 {
		return problem.Invalid("the span is invalid", errs...)
	}
	if it.Status != StatusActive {
		return problem.Conflict("invalid-transition", "the endpoint is "+it.Status+"; only an active one receives deliveries", problem.Field("status", "is "+it.Status))
	}
	if err := s.replayed(r, it, "recovered", map[string]any{"recoveredSince": since.UTC().Format(time.RFC3339Nano), "recoveredUntil": until.UTC().Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusAccepted, Accepted{EndpointID: it.ID, Status: it.Status})
}

// TestData is the data of a webhook.test event.
type TestData struct {
	EndpointID string `json:"endpointId"`
	Message    string `json:"message"`
}

// test sends a webhook.test event now, through the same log and queue as any event.
func (s *Service) test(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	if err := noQuery(r); err != nil {
		return err
	}
	if it.Status != StatusActive {
		return problem.Conflict("invalid-transition", "the endpoint is "+it.Status+"; only an active one receives deliveries", problem.Field("status", "is "+it.Status))
	}
	now := s.now()
	u := ulid.Make().String()
	d, err := NewDelivery(it.ID, u, TypeTest, now, TestData{EndpointID: it.ID, Message: "a test event from the operations console"})
	if err != nil {
		return err
	}
	put, err := store.Put(d, store.NotExists())
	if err != nil {
		return err
	}
	rec, err := audit.Record(r, Change("tested", &it, &it, map[string]any{"tested": d.ID}))
	if err != nil {
		return err
	}
	if err := s.Store.Transact(r.Context(), put, rec); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusAccepted, Accepted{EndpointID: it.ID, DeliveryID: d.ID, Status: it.Status})
}
