package local

import (
	"context"
	"errors"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// faultProxy is a proxy in front of a fake DynamoDB that answers every call with an
// empty success, and a client of it with at most attempts attempts per call.
func faultProxy(t *testing.T, attempts int) (*crcProxy, *dynamodb.Client, *int) {
	t.Helper()
	forwarded := 0
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded++
		body := []byte(`{}`)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		_, _ = w.Write(body)
	}))
	t.Cleanup(backend.Close)
	p, err := startCRCProxy("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.close() })
	p.target(backend.URL)
	c := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:" + strconv.Itoa(p.port())),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		// The standard retryer of every function, without its backoff (up to seconds
		// per retry), which would only slow the test.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	return p, c, &forwarded
}

func getItem(c *dynamodb.Client) error {
	_, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String("t"),
		Key:       map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "x"}},
	})
	return err
}

// Every fault reads, through the real SDK, as the error DynamoDB would give, and
// never reaches the table.
func TestFaultsAnswerAsDynamoDB(t *testing.T) {
	p, c, forwarded := faultProxy(t, 1)
	p.faults.set(Faults{Rate: 1, Seed: 7})
	seen := map[string]bool{}
	for range 30 {
		err := getItem(c)
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error %v is not an API error", err)
		}
		seen[ae.ErrorCode()] = true
		var pte *types.ProvisionedThroughputExceededException
		var ise *types.InternalServerError
		switch ae.ErrorCode() {
		case "ProvisionedThroughputExceededException":
			if !errors.As(err, &pte) {
				t.Errorf("%v is not the SDK's ProvisionedThroughputExceededException", err)
			}
		case "InternalServerError":
			if !errors.As(err, &ise) {
				t.Errorf("%v is not the SDK's InternalServerError", err)
			}
		case "ThrottlingException":
		default:
			t.Errorf("unexpected code %s", ae.ErrorCode())
		}
	}
	if len(seen) != 3 {
		t.Errorf("codes seen: %v, want all three", seen)
	}
	if *forwarded != 0 {
		t.Errorf("%d faulted requests reached the table", *forwarded)
	}
	st := p.faults.snapshot()
	if st.Requests != 30 || st.Total() != 30 || st.LastAttempt != 30 {
		t.Errorf("stats %+v, want 30 requests, all faulted on their last attempt", st)
	}
	// Control-plane calls pass.
	if _, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("t")}); err != nil {
		t.Errorf("DescribeTable: %v", err)
	}
}

// At a low rate the SDK's own retries absorb the faults, and a seed gives the same
// sequence again.
func TestFaultsRetriedAndReplayable(t *testing.T) {
	p, c, _ := faultProxy(t, 3)
	run := func() (FaultStats, int) {
		p.faults.set(Faults{Rate: 0.1, Seed: 42})
		failed := 0
		for range 200 {
			if err := getItem(c); err != nil {
				failed++
			}
		}
		return p.faults.snapshot(), failed
	}
	a, failedA := run()
	b, failedB := run()
	if a.Total() == 0 || a.Retries == 0 {
		t.Fatalf("stats %+v: no faults or retries at 10%%", a)
	}
	if a.Total() != b.Total() || a.Requests != b.Requests || failedA != failedB {
		t.Errorf("same seed, different runs: %+v (%d failed) and %+v (%d failed)", a, failedA, b, failedB)
	}
	if failedA != a.LastAttempt {
		t.Errorf("%d calls failed, but %d faults hit a last attempt", failedA, a.LastAttempt)
	}
	p.faults.set(Faults{})
	if err := getItem(c); err != nil {
		t.Errorf("faults off: %v", err)
	}
}

func TestSDKAttempt(t *testing.T) {
	if a, m := sdkAttempt("attempt=2; max=3"); a != 2 || m != 3 {
		t.Errorf("got %d, %d", a, m)
	}
	if a, m := sdkAttempt(""); a != 0 || m != 0 {
		t.Errorf("got %d, %d", a, m)
	}
}

// Ops limits the faults to the operations named.
func TestFaultsOnlyOnOps(t *testing.T) {
	p, c, _ := faultProxy(t, 1)
	p.faults.set(Faults{Rate: 1, Seed: 1, Ops: []string{"PutItem"}})
	if err := getItem(c); err != nil {
		t.Errorf("GetItem faulted: %v", err)
	}
	_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"),
		Item: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "x"}}})
	if err == nil {
		t.Error("PutItem not faulted")
	}
}
