package template

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"opsconsole/shared/consumers"
)

// maxStreamReaders is AWS's advice for a DynamoDB stream: at most two functions
// reading one shard at a time (more are throttled). The router is one.
const maxStreamReaders = 2

// TestAtMostTwoStreamReaders fails on a third event source mapping of the table's
// stream, whatever form it takes: a function's DynamoDB event, a Kinesis event (the
// table's Kinesis Data Streams destination), an AWS::Lambda::EventSourceMapping or an
// EventBridge pipe on it. A new consumer goes behind the router (shared/consumers).
func TestAtMostTwoStreamReaders(t *testing.T) {
	readers := streamReaders(t, load(t))
	if len(readers) == 0 {
		t.Fatal("nothing reads the table's stream: the test would pass for nothing")
	}
	if len(readers) > maxStreamReaders {
		t.Errorf("%d readers of the table's stream, AWS advises at most %d: %v; add a consumer to shared/consumers.Table instead",
			len(readers), maxStreamReaders, readers)
	}
}

// TestStreamReadersCountsEveryForm: the count above sees each way of reading the
// stream.
func TestStreamReadersCountsEveryForm(t *testing.T) {
	tpl := load(t)
	base := len(streamReaders(t, tpl))
	extra := map[string]Resource{
		"ExtraFunction": {LogicalID: "ExtraFunction", Type: "AWS::Serverless::Function", Properties: map[string]any{
			"CodeUri": "functions/extra/",
			"Events": map[string]any{
				"A": map[string]any{"Type": "DynamoDB", "Properties": map[string]any{"Stream": GetAtt{"Table", "StreamArn"}, "StartingPosition": "LATEST"}},
				"B": map[string]any{"Type": "Kinesis", "Properties": map[string]any{"Stream": GetAtt{"TableKinesis", "Arn"}, "StartingPosition": "LATEST"}},
			},
		}},
		"ExtraMapping": {LogicalID: "ExtraMapping", Type: "AWS::Lambda::EventSourceMapping", Properties: map[string]any{
			"EventSourceArn": GetAtt{"Table", "StreamArn"}, "FunctionName": Ref{"X"},
		}},
		"ExtraPipe": {LogicalID: "ExtraPipe", Type: "AWS::Pipes::Pipe", Properties: map[string]any{"Source": GetAtt{"Table", "StreamArn"}}},
		"ExtraQueueMapping": {LogicalID: "ExtraQueueMapping", Type: "AWS::Lambda::EventSourceMapping", Properties: map[string]any{
			"EventSourceArn": GetAtt{"AuditWriterQueue", "Arn"}, "FunctionName": Ref{"X"},
		}},
	}
	for id, r := range extra {
		tpl.Resources[id] = r
	}
	if got := len(streamReaders(t, tpl)); got != base+4 {
		t.Errorf("with a DynamoDB event, a Kinesis event, a mapping and a pipe added: %d readers, want %d", got, base+4)
	}
}

// streamReaders lists what reads the table's stream.
func streamReaders(t *testing.T, tpl *Template) []string {
	t.Helper()
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fns {
		for _, e := range f.Events {
			if e.Type == "DynamoDB" || e.Type == "Kinesis" {
				out = append(out, f.LogicalID+"."+e.Name)
			}
		}
	}
	streamish := func(v any) bool {
		if g, ok := v.(GetAtt); ok {
			return g.Attribute == "StreamArn" || tpl.Resources[g.Resource].Type == "AWS::Kinesis::Stream"
		}
		return strings.Contains(fmt.Sprint(v), "StreamArn") || strings.Contains(fmt.Sprint(v), ":kinesis:")
	}
	for _, r := range tpl.ResourcesOfType("AWS::Lambda::EventSourceMapping") {
		if streamish(r.Properties["EventSourceArn"]) {
			out = append(out, r.LogicalID)
		}
	}
	for _, r := range tpl.ResourcesOfType("AWS::Pipes::Pipe") {
		if streamish(r.Properties["Source"]) {
			out = append(out, r.LogicalID)
		}
	}
	return out
}

// TestConsumersInTemplate: every consumer of shared/consumers.Table has in the
// template what the recipe (its package doc) lists: its function, fed by its own
// queue only, with partial batch responses; the queue FIFO exactly when the consumer
// is ordered, with a visibility timeout of six times the function's timeout and a
// redrive to a dead-letter queue of the same kind; and the router's environment
// variable and sqs:SendMessage grant for the queue, and no other.
func TestConsumersInTemplate(t *testing.T) {
	tpl := load(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Function{}
	for _, f := range fns {
		byName[f.Name] = f
	}
	router, ok := byName["stream-router"]
	if !ok {
		t.Fatal("no stream-router function")
	}
	granted := sendGrants(router)
	var queues []string
	for _, c := range consumers.Table {
		t.Run(c.Name, func(t *testing.T) {
			f, ok := byName[c.Name]
			if !ok {
				t.Fatalf("no function with CodeUri functions/%s/", c.Name)
			}
			if len(f.Events) != 1 || f.Events[0].Type != "SQS" {
				t.Fatalf("%s: events %v, want one SQS event on its queue", f.LogicalID, f.Events)
			}
			e := f.Events[0]
			g, ok := e.Properties["Queue"].(GetAtt)
			if !ok || g.Attribute != "Arn" {
				t.Fatalf("%s: Queue %v is not a GetAtt of a queue's Arn", f.LogicalID, e.Properties["Queue"])
			}
			queues = append(queues, g.Resource)
			if !slices.Contains(AsSlice(e.Properties["FunctionResponseTypes"]), any("ReportBatchItemFailures")) {
				t.Errorf("%s: no FunctionResponseTypes [ReportBatchItemFailures]", f.LogicalID)
			}
			q, ok := tpl.Resources[g.Resource]
			if !ok || q.Type != "AWS::SQS::Queue" {
				t.Fatalf("%s: queue %s is not an AWS::SQS::Queue", f.LogicalID, g.Resource)
			}
			fifo := q.Properties["FifoQueue"] == true
			if fifo != c.Ordered {
				t.Errorf("%s: FifoQueue %v, but the consumer's Ordered is %v", g.Resource, fifo, c.Ordered)
			}
			if vt, _ := toInt("VisibilityTimeout", q.Properties["VisibilityTimeout"]); vt < 6*f.Timeout {
				t.Errorf("%s: VisibilityTimeout %v, want six times %s's timeout (%d s): Lambda's advice for an SQS source",
					g.Resource, q.Properties["VisibilityTimeout"], f.LogicalID, 6*f.Timeout)
			}
			rp := AsMap(q.Properties["RedrivePolicy"])
			dlq, ok := rp["deadLetterTargetArn"].(GetAtt)
			if n, _ := toInt("maxReceiveCount", rp["maxReceiveCount"]); !ok || n < 1 {
				t.Fatalf("%s: RedrivePolicy %v, want a deadLetterTargetArn GetAtt and a maxReceiveCount", g.Resource, rp)
			}
			d, ok := tpl.Resources[dlq.Resource]
			if !ok || d.Type != "AWS::SQS::Queue" {
				t.Fatalf("%s: dead-letter queue %s is not an AWS::SQS::Queue", g.Resource, dlq.Resource)
			}
			if (d.Properties["FifoQueue"] == true) != fifo {
				t.Errorf("%s: the dead-letter queue of a FIFO queue is FIFO, of a standard queue standard", dlq.Resource)
			}
			if ref, ok := router.Env[consumers.QueueEnv(c.Name)].(Ref); !ok || ref.Name != g.Resource {
				t.Errorf("StreamRouterFunction: %s = %v, want !Ref %s", consumers.QueueEnv(c.Name), router.Env[consumers.QueueEnv(c.Name)], g.Resource)
			}
			if !slices.Contains(granted, g.Resource) {
				t.Errorf("StreamRouterFunction: no sqs:SendMessage on %s", g.Resource)
			}
		})
	}
	for _, q := range granted {
		if !slices.Contains(queues, q) {
			t.Errorf("StreamRouterFunction may send to %s, which is no consumer's queue", q)
		}
	}
	for k := range router.Env {
		if !strings.HasPrefix(k, "QUEUE_URL_") {
			continue
		}
		if !slices.ContainsFunc(consumers.Table, func(c consumers.Consumer) bool { return consumers.QueueEnv(c.Name) == k }) {
			t.Errorf("StreamRouterFunction: %s names no consumer of shared/consumers.Table", k)
		}
	}
}

// sendGrants are the queues a function's policies allow sqs:SendMessage on.
func sendGrants(f Function) []string {
	var out []string
	for _, p := range AsSlice(f.Properties["Policies"]) {
		for _, st := range AsSlice(AsMap(p)["Statement"]) {
			s := AsMap(st)
			acts := AsSlice(s["Action"])
			if a, ok := s["Action"].(string); ok {
				acts = []any{a}
			}
			if !slices.Contains(acts, any("sqs:SendMessage")) {
				continue
			}
			out = append(out, References(s["Resource"])...)
		}
	}
	return out
}
