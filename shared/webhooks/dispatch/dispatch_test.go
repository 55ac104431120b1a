package dispatch

import (
	"encoding/json"
	"reflect"
	"testing"

	"opsconsole/shared/audit"
)

// TestDataOf: an event's data is the change record's state as the resource (with
// its event type, id and name), its version, the changes and the actor; a record
// without a version gives data without one.
func TestDataOf(t *testing.T) {
	actor := audit.Actor{UserID: "usr_1", Email: "a@example.com", Role: "partner_admin",
		Impersonator: &audit.Impersonator{UserID: "usr_0", Role: "platform_admin", SessionID: "imp_1"}}
	rec := audit.ChangeRecord{
		Entry: audit.Entry{
			ID: "01JEXAMPLE0000000000000000", Action: "client-service.updated", Actor: actor,
			Target:  audit.Target{Type: "client-service", ID: "cls_1", Name: "shop"},
			Changes: []audit.FieldChange{{Field: "alias", Before: "old", After: "shop"}},
		},
		Scope:   []string{"platform", "dst_1", "prt_1", "org_1"},
		State:   map[string]any{"alias": "shop", "status": "active"},
		Version: 7,
	}
	got := DataOf(rec)
	want := EventData{
		Resource: map[string]any{"alias": "shop", "status": "active", "type": "client_service", "id": "cls_1", "name": "shop"},
		Version:  7,
		Changes:  rec.Changes,
		Actor:    actor,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DataOf:\n got %#v\nwant %#v", got, want)
	}
	if rec.State["type"] != nil {
		t.Error("DataOf changed the record's state")
	}
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["version"] != 7.0 {
		t.Errorf("data.version = %v in %s, want 7", m["version"], raw)
	}

	t.Run("a deletion shows the last state and version", func(t *testing.T) {
		del := audit.ChangeRecord{
			Entry: audit.Entry{Action: "organization.deleted", Actor: actor,
				Target: audit.Target{Type: "organization", ID: "org_1", Name: "Acme"}},
			State:   map[string]any{"status": "approved"},
			Version: 3,
		}
		d := DataOf(del)
		if d.Version != 3 || d.Resource["status"] != "approved" || d.Resource["type"] != "organization" {
			t.Errorf("data %+v", d)
		}
		if d.Changes == nil {
			t.Error("changes is nil: it would encode as null, not []")
		}
	})
	t.Run("a record without a version has no data.version", func(t *testing.T) {
		old := rec
		old.Version = 0
		raw, err := json.Marshal(DataOf(old))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if _, has := m["version"]; has {
			t.Errorf("version present in %s", raw)
		}
	})
}
