package counts_test

// This file is in package counts_test: it starts the local services through
// infra/local, which imports shared/lambdas, which imports counts.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"opsconsole/infra/local"
	"opsconsole/infra/local/localtest"
	"opsconsole/infra/streams"
	"opsconsole/infra/template"
	"opsconsole/shared/consumers"
	"opsconsole/shared/store"
)

// The integration tests run against a real DynamoDB Local with the table template.yaml
// declares, created by infra/local. Their stream records are real too: a stream
// mapping of infra/streams, the stream router's from the template with the tree
// counter's filter and projection from shared/consumers, captures what the
// tree-counter function would be invoked with, and the tests hand
// those records to the consumer in the orders a Lambda event source mapping can
// deliver them (once, replayed, bisected and retried, concurrently).

type env struct {
	db       *dynamodb.Client
	st       *store.Store
	captured *capture
}

var (
	envOnce sync.Once
	theEnv  *env
	envErr  error
	stopEnv = func() {}
)

func TestMain(m *testing.M) { localtest.Main(m, func() { stopEnv() }) }

// needLocal is the package's table (localtest.Need) with the capturing mapping,
// started once for the package.
func needLocal(t *testing.T) *env {
	t.Helper()
	tbl := localtest.Need(t, "counts-test")
	envOnce.Do(func() { theEnv, envErr = startCapture(tbl) })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return theEnv
}

// startCapture runs the stream router's mapping from the template, whose stand-in
// function captures every record the router would send the tree counter, as its
// queue carries it (the consumer's filter and projection, shared/consumers).
func startCapture(tbl *localtest.Table) (*env, error) {
	var mapping *template.StreamMapping
	ms, err := tbl.Template.StreamMappings()
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].Function == "stream-router" {
			mapping = &ms[i]
		}
	}
	if mapping == nil {
		return nil, errors.New("template.yaml has no stream mapping for stream-router")
	}
	counter, ok := consumers.Named("tree-counter")
	if !ok {
		return nil, errors.New("shared/consumers has no tree-counter")
	}
	e := &env{db: tbl.DB, st: tbl.Store, captured: &capture{byParent: map[string][]events.DynamoDBEventRecord{}, counter: counter}}
	streamsClient := dynamodbstreams.NewFromConfig(local.AWSConfig(), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(tbl.Services.DynamoDBURL)
	})
	pollCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- streams.Run(pollCtx, streamsClient, nil, streams.Mapping{
			Function: mapping.Function, StreamARN: tbl.Resources.StreamARN,
			BatchSize: mapping.BatchSize, StartingPosition: mapping.StartingPosition,
			FilterPatterns: mapping.FilterPatterns, ReportBatchItemFailures: true,
		}, e.captured.handle, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	}()
	stopEnv = func() {
		cancel()
		<-done
	}
	return e, nil
}

// capture is the stand-in function of the capturing mapping: it keeps every node
// record it is given under the node's parent.
type capture struct {
	mu       sync.Mutex
	byParent map[string][]events.DynamoDBEventRecord
	// stray are records the consumer's filter should have kept from the function.
	stray []string
	// counter is the tree counter's entry in the router's table.
	counter consumers.Consumer
}

func (c *capture) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range ev.Records {
		if !c.counter.Match(r) {
			continue
		}
		m, err := c.counter.Encode(r)
		if err == nil {
			r, err = consumers.Decode(m.Body)
		}
		if err != nil {
			return events.DynamoDBEventResponse{}, err
		}
		if sk := r.Change.Keys["SK"]; sk.DataType() != events.DataTypeString || sk.String() != "NODE" {
			c.stray = append(c.stray, fmt.Sprint(r.Change.Keys))
			continue
		}
		img := r.Change.NewImage
		if img == nil {
			img = r.Change.OldImage
		}
		parent := ""
		if p, ok := img["parentId"]; ok {
			parent = p.String()
		}
		c.byParent[parent] = append(c.byParent[parent], r)
	}
	return events.DynamoDBEventResponse{}, nil
}

// records waits for the first n records of parent's children, in stream order.
func (c *capture) records(t *testing.T, parent string, n int) []events.DynamoDBEventRecord {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c.mu.Lock()
		got := append([]events.DynamoDBEventRecord(nil), c.byParent[parent]...)
		stray := append([]string(nil), c.stray...)
		c.mu.Unlock()
		if len(stray) > 0 {
			t.Fatalf("the tree counter's filter let through records of other items: %v", stray)
		}
		if len(got) >= n {
			return got[:n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d stream records of the children of %s within 15 s, want %d", len(got), parent, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
