package audit

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
)

func TestDiff(t *testing.T) {
	cases := []struct {
		name          string
		before, after map[string]any
		want          []FieldChange
	}{
		{"creation lists every field", nil, map[string]any{"name": "a", "status": "active"},
			[]FieldChange{{"name", nil, "a"}, {"status", nil, "active"}}},
		{"deletion lists every field", map[string]any{"name": "a"}, nil,
			[]FieldChange{{"name", "a", nil}}},
		{"unchanged fields are left out", map[string]any{"name": "a", "status": "active"}, map[string]any{"name": "b", "status": "active"},
			[]FieldChange{{"name", "a", "b"}}},
		{"secrets are redacted", map[string]any{"smtpPassword": "p1"}, map[string]any{"smtpPassword": "p2"},
			[]FieldChange{{"smtpPassword", Redacted, Redacted}}},
		{"a secret set for the first time stays absent before", nil, map[string]any{"signingSecret": "s"},
			[]FieldChange{{"signingSecret", nil, Redacted}}},
		{"no change gives an empty list", map[string]any{"name": "a"}, map[string]any{"name": "a"}, []FieldChange{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Diff(c.before, c.after); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Diff = %#v, want %#v", got, c.want)
			}
		})
	}
}

// TestStreamImageRoundTrip reads a change record as Lambda delivers it in a stream
// event (DynamoDB JSON) and checks that it unmarshals to what was written.
func TestStreamImageRoundTrip(t *testing.T) {
	want := changeItem{
		PK: "CHANGE#1", SK: "CHANGE", Type: ChangeType,
		Entry: Entry{
			ID: "1", At: "2026-11-22T10:00:00.000Z",
			Actor:   Actor{UserID: "u", Email: "a@example.com", Role: "platform_admin"},
			Action:  "distributor.updated",
			Target:  Target{Type: "distributor", ID: "dst_1", Name: "Acme"},
			Changes: []FieldChange{{Field: "name", Before: "Old", After: "Acme"}, {Field: "limit", Before: 2.0, After: nil}},
		},
		Scope: []string{"platform", "dst_1"}, ExpiresAt: 1700000000,
	}
	av, err := attributevalue.MarshalMap(want)
	if err != nil {
		t.Fatal(err)
	}
	// Render as DynamoDB JSON, the form the stream event carries.
	raw, err := json.Marshal(dynamoJSON(av))
	if err != nil {
		t.Fatal(err)
	}
	var img map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(raw, &img); err != nil {
		t.Fatal(err)
	}
	var got changeItem
	if err := attributevalue.UnmarshalMap(FromStreamImage(img), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
	}
}
