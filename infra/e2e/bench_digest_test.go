package e2e

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/oklog/ulid/v2"

	"opsconsole/shared/audit"
	"opsconsole/shared/auditsign"
	"opsconsole/shared/config"
	"opsconsole/shared/store"
)

// countingSigner counts the maker's KMS calls.
type countingSigner struct {
	auditsign.Signer
	n atomic.Int64
}

func (c *countingSigner) Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error) {
	c.n.Add(1)
	return c.Signer.Sign(ctx, in, opts...)
}

// TestAuditDigestMakerCost measures what making digests costs (docs/measurements.md):
// n changes to one organization, written by the real audit writer (each lands in the
// partitions of platform, distributor, partner and organization), arrive in one period
// of 2020 (far before what the running maker closes); the maker then closes that
// period: four digests. It reports the DynamoDB round trips and capacity, and the KMS
// calls, per node-period and per entry.
func TestAuditDigestMakerCost(t *testing.T) {
	cfg, err := config.Load(t0())
	if err != nil {
		t.Fatal(err)
	}
	period := time.Hour
	signer := &countingSigner{Signer: kms.NewFromConfig(cfg.AWS)}
	maker := &auditsign.Maker{Store: st, KMS: signer, KeyID: os.Getenv(auditsign.EnvKeyID), Period: period}
	for i, n := range []int{1, 100, 1000} {
		start := time.Date(2020, 1, 1, i, 0, 0, 0, time.UTC)
		scope := []string{"platform", "dst_" + ulid.Make().String(), "prt_" + ulid.Make().String(), "org_" + ulid.Make().String()}
		var ev events.DynamoDBEvent
		for k := range n {
			e := audit.Entry{
				ID: ulid.Make().String(), At: start.Add(time.Duration(k) * time.Second).Format(audit.TimeFormat),
				Actor:  audit.Actor{UserID: "usr-bench", Role: "partner_admin"},
				Action: "organization.updated", Target: audit.Target{Type: "organization", ID: scope[3], Name: "Bench"},
				Changes: []audit.FieldChange{{Field: "name", Before: "Old name", After: "New name"}}, RequestID: "req-bench",
			}
			img, err := attributevalue.MarshalMap(struct {
				Type        string `dynamodbav:"type"`
				audit.Entry `dynamodbav:",inline"`
				Scope       []string `dynamodbav:"scope"`
			}{audit.ChangeType, e, scope})
			if err != nil {
				t.Fatal(err)
			}
			ev.Records = append(ev.Records, events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
				SequenceNumber: strconv.Itoa(k), NewImage: toStreamImage(t, img)}})
		}
		writer := &audit.Consumer{Store: st, Backoff: 50 * time.Millisecond, Period: period, Now: func() time.Time { return start.Add(59 * time.Minute) }}
		for from := 0; from < len(ev.Records); from += 100 {
			batch := events.DynamoDBEvent{Records: ev.Records[from:min(from+100, len(ev.Records))]}
			if resp, err := writer.Handle(t0(), batch); err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatalf("writer: %v %v", err, resp)
			}
		}
		ctx, m := store.WithMeter(t0())
		before := signer.n.Load()
		made, err := maker.Close(ctx, start)
		if err != nil || made != len(scope) {
			t.Fatalf("%d entries: made %d digests, %v", n, made, err)
		}
		read, write := m.Units()
		kmsCalls := signer.n.Load() - before
		nodes := float64(len(scope))
		t.Logf("%5d entries per node-period: per node-period %.2f DynamoDB calls (%.2f in sequence: a sharded log's partitions are read in parallel), %.2f RCU, %.2f WCU, %.0f KMS Sign; per entry %.4f RCU",
			n, float64(m.RoundTrips())/nodes, float64(m.Sequential())/nodes, read/nodes, write/nodes, float64(kmsCalls)/nodes, read/nodes/float64(n))
		if kmsCalls != int64(len(scope)) {
			t.Errorf("%d KMS calls for %d digests", kmsCalls, len(scope))
		}
	}
}

// toStreamImage is item as a stream record's image (the strings, numbers, lists, maps,
// booleans and nulls an entry holds).
func toStreamImage(t *testing.T, item store.Item) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	out := map[string]events.DynamoDBAttributeValue{}
	for k, v := range item {
		out[k] = streamValue(t, v)
	}
	return out
}

func streamValue(t *testing.T, v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamValue(t, e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(toStreamImage(t, x.Value))
	}
	t.Fatalf("attribute %T", v)
	return events.DynamoDBAttributeValue{}
}
