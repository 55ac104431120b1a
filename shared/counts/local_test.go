package counts_test

// This file is in package counts_test: it starts the local services through
// infra/local, which imports shared/lambdas, which imports counts.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"opsconsole/infra/local"
	"opsconsole/infra/streams"
	"opsconsole/infra/template"
	"opsconsole/shared/store"
)

// The integration tests run against a real DynamoDB Local with the table template.yaml
// declares, created by infra/local. Their stream records are real too: a stream
// mapping of infra/streams, with the tree counter's own filter from the template,
// captures what the tree-counter function would be invoked with, and the tests hand
// those records to the consumer in the orders a Lambda event source mapping can
// deliver them (once, replayed, bisected and retried, concurrently).

type env struct {
	services *local.Services
	db       *dynamodb.Client
	st       *store.Store
	captured *capture
	stop     func()
}

var (
	envOnce sync.Once
	theEnv  *env
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theEnv != nil {
		theEnv.stop()
	}
	os.Exit(code)
}

// needLocal starts the services, the table and the capturing mapping once for the
// package. Without the services installed the test is skipped, or fails under CI.
func needLocal(t *testing.T) *env {
	t.Helper()
	if missing := local.Missing(""); len(missing) > 0 {
		msg := fmt.Sprintf("local services not installed (%s); run `%s`", strings.Join(missing, ", "), local.InstallHint)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	envOnce.Do(func() { theEnv, envErr = startEnv() })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return theEnv
}

func startEnv() (_ *env, err error) {
	ctx := context.Background()
	root, err := local.FindRoot()
	if err != nil {
		return nil, err
	}
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	var mapping *template.StreamMapping
	ms, err := tpl.StreamMappings()
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].Function == "tree-counter" {
			mapping = &ms[i]
		}
	}
	if mapping == nil {
		return nil, errors.New("template.yaml has no stream mapping for tree-counter")
	}
	svc, err := local.StartServices(ctx, local.ServiceOptions{})
	if err != nil {
		return nil, err
	}
	e := &env{services: svc, captured: &capture{byParent: map[string][]events.DynamoDBEventRecord{}}}
	e.stop = func() { svc.Stop() }
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	res, err := local.Bootstrap(ctx, tpl, svc.Endpoints(), local.BootstrapOptions{StackName: "counts-test"})
	if err != nil {
		return nil, err
	}
	// The functions' environment, as infra/local's System sets it, so that
	// lambdas.Build makes the real tree-counter handler against this table.
	for _, k := range local.UnsetEnv {
		os.Unsetenv(k)
	}
	for k, v := range res.Env {
		os.Setenv(k, v)
	}
	cfg := local.AWSConfig()
	e.db = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(svc.DynamoDBURL) })
	e.st = &store.Store{DB: e.db, Table: res.TableName}
	streamsClient := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(svc.DynamoDBURL) })
	pollCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- streams.Run(pollCtx, streamsClient, nil, streams.Mapping{
			Function: mapping.Function, StreamARN: res.StreamARN,
			BatchSize: mapping.BatchSize, StartingPosition: mapping.StartingPosition,
			FilterPatterns: mapping.FilterPatterns, ReportBatchItemFailures: true,
		}, e.captured.handle, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	}()
	e.stop = func() {
		cancel()
		<-done
		svc.Stop()
	}
	return e, nil
}

// capture is the stand-in function of the capturing mapping: it keeps every node
// record it is given under the node's parent.
type capture struct {
	mu       sync.Mutex
	byParent map[string][]events.DynamoDBEventRecord
	// stray are records the template's filter should have kept from the function.
	stray []string
}

func (c *capture) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range ev.Records {
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
