package audit

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"opsconsole/shared/api"
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
		Scope: []string{"platform", "dst_1"}, Version: 3, ExpiresAt: 1700000000,
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

// TestChangeRecordVersion: the change record carries the target's version from the
// Change to the stream's reader, and none when the target has no versions.
func TestChangeRecordVersion(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		version int
	}{{"a versioned target", 4}, {"a target without versions", 0}} {
		t.Run(c.name, func(t *testing.T) {
			it := newChangeItem(Actor{UserID: "u", Role: "platform_admin"}, api.Meta{}, Change{
				Action: "organization.updated", Target: Target{Type: "organization", ID: "org_1", Name: "Acme"},
				Scope:  []string{"platform", "org_1"},
				Before: map[string]any{"name": "Old"}, After: map[string]any{"name": "Acme"},
				Version: c.version,
			}, now)
			av, err := attributevalue.MarshalMap(it)
			if err != nil {
				t.Fatal(err)
			}
			if _, has := av["version"]; has != (c.version != 0) {
				t.Errorf("version attribute present %v, want %v", has, c.version != 0)
			}
			got, err := DecodeChangeRecord(av)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != c.version || got.State["name"] != "Acme" || got.Target.ID != "org_1" {
				t.Errorf("decoded %+v, want version %d", got, c.version)
			}
		})
	}
}

func TestItemsExpireAfterTheRetention(t *testing.T) {
	e := Entry{ID: "01J0000000000000000000000A", At: "2026-01-02T03:04:05.000Z", Action: "distributor.updated",
		Target: Target{Type: "distributor", ID: "dst_1"}}
	at, _ := time.Parse(TimeFormat, e.At)
	cases := []struct {
		name      string
		retention time.Duration
		want      int64 // 0: no expiresAt
	}{
		{"400 days after the entry's own time", DefaultEntryRetention, at.Add(400 * 24 * time.Hour).Unix()},
		{"one day", 24 * time.Hour, at.Add(24 * time.Hour).Unix()},
		{"no retention keeps them", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, err := Items(e, []string{"platform", "dst_1"}, c.retention)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 3 {
				t.Fatalf("%d items, want 2 node partitions and the target's history", len(items))
			}
			for _, it := range items {
				var got struct {
					ExpiresAt int64 `dynamodbav:"expiresAt"`
				}
				if err := attributevalue.UnmarshalMap(it, &got); err != nil {
					t.Fatal(err)
				}
				if got.ExpiresAt != c.want {
					t.Errorf("%v: expiresAt %d, want %d", it["PK"], got.ExpiresAt, c.want)
				}
			}
		})
	}
}

func TestEntryRetentionFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  string
		want time.Duration
	}{{"", DefaultEntryRetention}, {"30", 30 * 24 * time.Hour}, {"0", DefaultEntryRetention}, {"x", DefaultEntryRetention}} {
		t.Run("AUDIT_RETENTION_DAYS="+c.env, func(t *testing.T) {
			t.Setenv("AUDIT_RETENTION_DAYS", c.env)
			if got := EntryRetentionFromEnv(); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
