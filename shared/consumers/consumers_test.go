package consumers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/audit"
	"opsconsole/shared/cascade"
	"opsconsole/shared/nodes"
)

func s(v string) events.DynamoDBAttributeValue { return events.NewStringAttribute(v) }

// rec is a stream record of the item pk/sk.
func rec(name, pk, sk string, newImg, oldImg map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	keys := map[string]events.DynamoDBAttributeValue{"PK": s(pk), "SK": s(sk)}
	withKeys := func(img map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
		if img == nil {
			return nil
		}
		out := map[string]events.DynamoDBAttributeValue{"PK": s(pk), "SK": s(sk)}
		for k, v := range img {
			out[k] = v
		}
		return out
	}
	return events.DynamoDBEventRecord{
		EventID: "ev-" + name + pk, EventName: name, EventSource: "aws:dynamodb",
		Change: events.DynamoDBStreamRecord{Keys: keys, NewImage: withKeys(newImg), OldImage: withKeys(oldImg),
			SequenceNumber: "seq-" + name + pk, StreamViewType: "NEW_AND_OLD_IMAGES"},
	}
}

func node(status string) map[string]events.DynamoDBAttributeValue {
	return map[string]events.DynamoDBAttributeValue{"type": s("node"), "id": s("org_1"), "kind": s("organization"),
		"parentId": s("ptn_1"), "status": s(status), "version": events.NewNumberAttribute("2"), "name": s("Acme"),
		"GSI1PK": s("CHILDREN#ptn_1#organization")}
}

// TestMatch is the consumers' filters over the table's kinds of records: which
// consumers each record goes to.
func TestMatch(t *testing.T) {
	change := map[string]events.DynamoDBAttributeValue{"type": s("change"), "action": s("organization.created")}
	job := map[string]events.DynamoDBAttributeValue{"type": s("cascade"), "rootId": s("dst_1")}
	cases := []struct {
		name string
		rec  events.DynamoDBEventRecord
		want []string
	}{
		{"change record put", rec("INSERT", "CHANGE#01", "CHANGE", change, nil), []string{"audit-writer", "webhook-dispatcher"}},
		{"change record expired", rec("REMOVE", "CHANGE#01", "CHANGE", nil, change), nil},
		{"change record changed (never happens)", rec("MODIFY", "CHANGE#01", "CHANGE", change, change), nil},
		{"an item typed change but not inserted", rec("MODIFY", "X#1", "Y", change, nil), nil},
		{"node created", rec("INSERT", "NODE#org_1", "NODE", node("active"), nil), []string{"tree-counter"}},
		{"node updated", rec("MODIFY", "NODE#org_1", "NODE", node("inactive"), node("active")), []string{"tree-counter"}},
		{"node deleted", rec("REMOVE", "NODE#org_1", "NODE", nil, node("active")), []string{"tree-counter", "node-sweeper"}},
		{"counts written by the counter", rec("MODIFY", "NODE#ptn_1", "COUNTS", map[string]events.DynamoDBAttributeValue{"n": s("1")}, nil), nil},
		{"counter's marker", rec("INSERT", "NODE#org_1", "COUNTED", map[string]events.DynamoDBAttributeValue{"v": s("1")}, nil), nil},
		{"cascade job made", rec("INSERT", "CASCADE#dst_1", "CASCADE", job, nil), []string{"tree-deleter"}},
		{"cascade job progress", rec("MODIFY", "CASCADE#dst_1", "CASCADE", job, job), []string{"tree-deleter"}},
		{"cascade job finished", rec("REMOVE", "CASCADE#dst_1", "CASCADE", nil, job), nil},
		{"a console user", rec("INSERT", "USER#u1", "USER", map[string]events.DynamoDBAttributeValue{"type": s("user")}, nil), []string{"tree-counter"}},
		{"a license", rec("MODIFY", "LICENSE#l1", "LICENSE", map[string]events.DynamoDBAttributeValue{"type": s("license")}, nil), []string{"tree-counter"}},
		{"the totals written by the counter", rec("MODIFY", "NODE#ptn_1", "TOTALS", map[string]events.DynamoDBAttributeValue{"n": s("1")}, nil), nil},
		{"a shard of a distributor's totals", rec("MODIFY", "NODE#dst_1", "TOTALS#3", map[string]events.DynamoDBAttributeValue{"n": s("1")}, nil), nil},
		{"an expiry trie item", rec("INSERT", "NODE#ptn_1", "UNTIL#2026", map[string]events.DynamoDBAttributeValue{"n": s("1")}, nil), nil},
		// A distributor's status replicas (shared/nodes, status.go) are copies of its
		// node's status: counting or sweeping them would count or sweep it again.
		{"status replica written", rec("INSERT", "NODESTATUS#dst_1#0", "STATUS", map[string]events.DynamoDBAttributeValue{"type": s("nodestatus"), "kind": s("distributor"), "status": s("active")}, nil), nil},
		{"status replica changed", rec("MODIFY", "NODESTATUS#dst_1#3", "STATUS", map[string]events.DynamoDBAttributeValue{"type": s("nodestatus"), "status": s("suspended")}, map[string]events.DynamoDBAttributeValue{"type": s("nodestatus"), "status": s("active")}), nil},
		{"status replica deleted", rec("REMOVE", "NODESTATUS#dst_1#2", "STATUS", nil, map[string]events.DynamoDBAttributeValue{"type": s("nodestatus")}), nil},
		{"numeric SK", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
			Keys: map[string]events.DynamoDBAttributeValue{"PK": s("NODE#x"), "SK": events.NewNumberAttribute("1")}}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, con := range Table {
				if con.Match(c.rec) {
					got = append(got, con.Name)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("goes to %v, want %v", got, c.want)
			}
		})
	}
}

// TestFactsAgreeWithTheirPackages: the filters' literals are the domain packages'.
func TestFactsAgreeWithTheirPackages(t *testing.T) {
	if nodeSK != nodes.SK {
		t.Errorf("nodeSK %q, nodes.SK %q", nodeSK, nodes.SK)
	}
	// licenses.SK ("LICENSE") and the user item's SK ("USER") cannot be imported here
	// (licenses links deps, which links this package); shared/counts's read() keeps
	// the same three and its tests use them.
	if licenseSK != "LICENSE" || userSK != "USER" {
		t.Errorf("licenseSK %q, userSK %q", licenseSK, userSK)
	}
	if sk, ok := cascade.JobKey("x")["SK"].(*types.AttributeValueMemberS); !ok || sk.Value != cascadeSK {
		t.Errorf("cascadeSK %q, cascade.JobKey's SK %v", cascadeSK, cascade.JobKey("x")["SK"])
	}
	if nodes.StatusSK == nodeSK || nodes.StatusType == changeType {
		t.Errorf("a status replica (SK %q, type %q) would read as a node or a change record", nodes.StatusSK, nodes.StatusType)
	}
	if changeType != audit.ChangeType {
		t.Errorf("changeType %q, audit.ChangeType %q", changeType, audit.ChangeType)
	}
	names := map[string]bool{}
	for _, c := range Table {
		if names[c.Name] {
			t.Errorf("consumer %s twice", c.Name)
		}
		names[c.Name] = true
		if c.Match == nil {
			t.Errorf("consumer %s has no Match", c.Name)
		}
	}
	if QueueEnv("tree-counter") != "QUEUE_URL_TREE_COUNTER" {
		t.Errorf("QueueEnv(tree-counter) = %s", QueueEnv("tree-counter"))
	}
}

// TestTreeCounterNeverGetsALicenseKey: of a license's attrs the counter is sent what
// it counts by, not the key (a credential of the holder).
func TestTreeCounterNeverGetsALicenseKey(t *testing.T) {
	img := map[string]events.DynamoDBAttributeValue{"type": s("license"), "id": s("lic_1"), "status": s("active"),
		"path": events.NewListAttribute([]events.DynamoDBAttributeValue{s("platform"), s("dst_1")}),
		"attrs": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
			"type": s("agent"), "validUntil": s("2030-01-01T00:00:00Z"), "key": s("SECRET"), "seats": events.NewNumberAttribute("3"),
		})}
	c, _ := Named("tree-counter")
	m, err := c.Encode(rec("INSERT", "LICENSE#lic_1", "LICENSE", img, nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	attrs := got.Change.NewImage["attrs"].Map()
	if len(attrs) != 2 || attrs["type"].String() != "agent" || attrs["validUntil"].String() != "2030-01-01T00:00:00Z" {
		t.Errorf("attrs sent %v", attrs)
	}
	if strings.Contains(m.Body, "SECRET") || len(got.Change.NewImage["path"].List()) != 2 {
		t.Errorf("message %s", m.Body)
	}
}

// TestEncode: what each kind of consumer is sent, and that it reads back.
func TestEncode(t *testing.T) {
	r := rec("MODIFY", "NODE#org_1", "NODE", node("inactive"), node("active"))
	t.Run("attributes only, FIFO group and deduplication", func(t *testing.T) {
		c, _ := Named("tree-counter")
		m, err := c.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if m.Omitted || m.GroupID != "NODE#org_1|NODE" || m.DeduplicationID != r.EventID {
			t.Errorf("message %+v", m)
		}
		got, err := Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Change.NewImage) != 6 || got.Change.NewImage["status"].String() != "inactive" || got.Change.OldImage["status"].String() != "active" ||
			got.Change.NewImage["version"].Number() != "2" {
			t.Errorf("images %v / %v", got.Change.NewImage, got.Change.OldImage)
		}
		if _, ok := got.Change.NewImage["name"]; ok {
			t.Error("an attribute the counter does not read was sent")
		}
		if got.Change.SequenceNumber != r.Change.SequenceNumber || got.EventID != r.EventID || got.Change.Keys["PK"].String() != "NODE#org_1" {
			t.Errorf("record %+v", got)
		}
	})
	t.Run("keys only, standard queue", func(t *testing.T) {
		c, _ := Named("node-sweeper")
		m, err := c.Encode(rec("REMOVE", "NODE#org_1", "NODE", nil, node("active")))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := Decode(m.Body)
		if got.Change.NewImage != nil || got.Change.OldImage != nil || m.GroupID != "" || got.Change.Keys["SK"].String() != "NODE" {
			t.Errorf("message %+v", m)
		}
	})
	t.Run("whole images", func(t *testing.T) {
		c, _ := Named("audit-writer")
		m, _ := c.Encode(r)
		got, _ := Decode(m.Body)
		if len(got.Change.NewImage) != len(r.Change.NewImage) {
			t.Errorf("NewImage %v", got.Change.NewImage)
		}
	})
	t.Run("over SQS's limit: keys only, marked", func(t *testing.T) {
		// Two 400 KB images, what a stream record of NEW_AND_OLD_IMAGES may carry:
		// binary, so base64 in the JSON (533 KB each).
		big := func() map[string]events.DynamoDBAttributeValue {
			return map[string]events.DynamoDBAttributeValue{"type": s("change"), "blob": events.NewBinaryAttribute(make([]byte, 399_000))}
		}
		c, _ := Named("audit-writer")
		m, err := c.Encode(rec("MODIFY", "CHANGE#1", "CHANGE", big(), big()))
		if err != nil {
			t.Fatal(err)
		}
		if !m.Omitted || len(m.Body) > 1000 {
			t.Fatalf("omitted %v, body of %d bytes", m.Omitted, len(m.Body))
		}
		got, _ := Decode(m.Body)
		if got.Change.NewImage != nil || got.Change.Keys["PK"].String() != "CHANGE#1" {
			t.Errorf("record %+v", got)
		}
		// Under the limit, the same consumer is sent the whole image.
		m, _ = c.Encode(rec("INSERT", "CHANGE#1", "CHANGE", big(), nil))
		if m.Omitted || len(m.Body) < 530_000 || len(m.Body) > maxBody {
			t.Errorf("one 400 KB image: omitted %v, %d bytes", m.Omitted, len(m.Body))
		}
	})
	t.Run("long keys make a hashed group", func(t *testing.T) {
		id := GroupID(rec("INSERT", strings.Repeat("k", 200), "NODE", nil, nil))
		if len(id) != 64 {
			t.Errorf("group %q", id)
		}
	})
	if _, err := Decode(`{"eventID":"x"}`); err == nil {
		t.Error("a body without a sequence number decoded")
	}
}

// batch is an SQS event of the routed records, message ids m0, m1, ...
func batch(t *testing.T, c Consumer, recs ...events.DynamoDBEventRecord) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for i, r := range recs {
		m, err := c.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		msg := events.SQSMessage{MessageId: "m" + string(rune('0'+i)), Body: m.Body}
		if m.Omitted {
			v := "true"
			msg.MessageAttributes = map[string]events.SQSMessageAttribute{OmittedAttr: {StringValue: &v, DataType: "String"}}
		}
		ev.Records = append(ev.Records, msg)
	}
	return ev
}

func ids(r events.SQSEventResponse) []string {
	var out []string
	for _, f := range r.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// TestAdapter: what a stream handler's answers become for its queue.
func TestAdapter(t *testing.T) {
	c, _ := Named("tree-counter")
	recs := []events.DynamoDBEventRecord{
		rec("INSERT", "NODE#a", "NODE", node("active"), nil),
		rec("INSERT", "NODE#b", "NODE", node("active"), nil),
		rec("MODIFY", "NODE#a", "NODE", node("inactive"), node("active")),
		rec("INSERT", "NODE#c", "NODE", node("active"), nil),
	}
	noPause := func(int) time.Duration { return 0 }
	failAt := func(seq string, times *int) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			for _, r := range ev.Records {
				if r.Change.SequenceNumber == seq && *times > 0 {
					*times--
					return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq}}}, nil
				}
			}
			return events.DynamoDBEventResponse{}, nil
		}
	}
	t.Run("all done", func(t *testing.T) {
		var got []string
		a := Adapter{Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			for _, r := range ev.Records {
				got = append(got, r.Change.SequenceNumber)
			}
			return events.DynamoDBEventResponse{}, nil
		}}
		resp, err := a.Handle(context.Background(), batch(t, c, recs...))
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%v %v", err, resp)
		}
		if len(got) != 4 || got[2] != recs[2].Change.SequenceNumber {
			t.Errorf("handler saw %v", got)
		}
	})
	t.Run("a failure reports it and every later message, after the retries", func(t *testing.T) {
		times := 100
		var runs int
		h := failAt(recs[2].Change.SequenceNumber, &times)
		a := Adapter{Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			runs++
			return h(ctx, ev)
		}, Attempts: 3, Pause: noPause}
		resp, err := a.Handle(context.Background(), batch(t, c, recs...))
		if err != nil {
			t.Fatal(err)
		}
		// m3 is another item's (another FIFO group), but the handler stopped at m2.
		if !slices.Equal(ids(resp), []string{"m2", "m3"}) || runs != 3 {
			t.Errorf("failures %v after %d runs, want [m2 m3] after 3", ids(resp), runs)
		}
	})
	t.Run("a failure that passes on retry is no failure", func(t *testing.T) {
		times := 2
		var seen [][]string
		h := failAt(recs[1].Change.SequenceNumber, &times)
		a := Adapter{Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			var s []string
			for _, r := range ev.Records {
				s = append(s, r.Change.Keys["PK"].String())
			}
			seen = append(seen, s)
			return h(ctx, ev)
		}, Attempts: 3, Pause: noPause}
		resp, _ := a.Handle(context.Background(), batch(t, c, recs...))
		if len(resp.BatchItemFailures) != 0 {
			t.Errorf("failures %v", ids(resp))
		}
		// Runs 2 and 3 start from the failed record, not from the first.
		if len(seen) != 3 || len(seen[1]) != 3 || seen[1][0] != "NODE#b" {
			t.Errorf("runs %v", seen)
		}
	})
	t.Run("a handler error fails the batch", func(t *testing.T) {
		a := Adapter{Handler: func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, errors.New("boom")
		}, Attempts: 2, Pause: noPause}
		resp, err := a.Handle(context.Background(), batch(t, c, recs...))
		if err != nil || !slices.Equal(ids(resp), []string{"m0", "m1", "m2", "m3"}) {
			t.Errorf("%v %v", err, ids(resp))
		}
	})
	t.Run("an unknown failure id fails the batch", func(t *testing.T) {
		a := Adapter{Handler: func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "nope"}}}, nil
		}, Attempts: 1}
		resp, _ := a.Handle(context.Background(), batch(t, c, recs...))
		if len(resp.BatchItemFailures) != 4 {
			t.Errorf("failures %v", ids(resp))
		}
	})
	t.Run("no retry past the deadline", func(t *testing.T) {
		runs := 0
		a := Adapter{Handler: func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			runs++
			return events.DynamoDBEventResponse{}, errors.New("boom")
		}, Attempts: 3, Pause: func(int) time.Duration { return time.Minute }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Handle(ctx, batch(t, c, recs...))
		if runs != 1 {
			t.Errorf("%d runs with a minute's pause in 10 s", runs)
		}
	})
	t.Run("a message that is no record is dead-lettered, the rest done", func(t *testing.T) {
		ev := batch(t, c, recs[:2]...)
		ev.Records = append([]events.SQSMessage{{MessageId: "junk", Body: "{"}}, ev.Records...)
		n := 0
		a := Adapter{Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			n += len(ev.Records)
			return events.DynamoDBEventResponse{}, nil
		}}
		resp, _ := a.Handle(context.Background(), ev)
		if !slices.Equal(ids(resp), []string{"junk"}) || n != 2 {
			t.Errorf("failures %v, %d records handled", ids(resp), n)
		}
	})
	t.Run("a record without its images gets the item read again", func(t *testing.T) {
		aw, _ := Named("audit-writer")
		// More than DynamoDB's item allows, for the sake of the test: over 1 MiB alone.
		big := map[string]events.DynamoDBAttributeValue{"type": s("change"), "blob": s(strings.Repeat("x", 1_100_000))}
		ev := batch(t, aw, rec("INSERT", "CHANGE#1", "CHANGE", big, nil), rec("INSERT", "CHANGE#2", "CHANGE", map[string]events.DynamoDBAttributeValue{"type": s("change")}, nil))
		if ev.Records[0].MessageAttributes[OmittedAttr].StringValue == nil {
			t.Fatal("the record was not sent without its image")
		}
		var reread []string
		var gotImg map[string]events.DynamoDBAttributeValue
		a := Adapter{Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			gotImg = ev.Records[0].Change.NewImage
			return events.DynamoDBEventResponse{}, nil
		}, Reread: func(_ context.Context, keys map[string]events.DynamoDBAttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
			reread = append(reread, keys["PK"].String())
			return map[string]events.DynamoDBAttributeValue{"type": s("change"), "blob": s("as read")}, nil
		}}
		resp, _ := a.Handle(context.Background(), ev)
		if len(resp.BatchItemFailures) != 0 || !slices.Equal(reread, []string{"CHANGE#1"}) || gotImg["blob"].String() != "as read" {
			t.Errorf("failures %v, reread %v, image %v", ids(resp), reread, gotImg)
		}
		a.Reread = func(context.Context, map[string]events.DynamoDBAttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
			return nil, errors.New("throttled")
		}
		resp, _ = a.Handle(context.Background(), ev)
		if !slices.Equal(ids(resp), []string{"m0"}) {
			t.Errorf("a failed read again: failures %v, want [m0]", ids(resp))
		}
	})
}
