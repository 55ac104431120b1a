package template

import (
	"slices"
	"testing"
)

// The alarms are written out by hand, one metric per queue and per stream consumer
// inside a few metric-math alarms (so that they cost few resources). These tests keep
// them complete as queues and consumers are added.
func TestAlarmsCoverEveryQueueAndConsumer(t *testing.T) {
	tpl := load(t)
	refsOf := func(t *testing.T, alarm string) []string {
		t.Helper()
		r, ok := tpl.Resources[alarm]
		if !ok || r.Type != "AWS::CloudWatch::Alarm" {
			t.Fatalf("no alarm %s", alarm)
		}
		return References(r.Properties["Metrics"])
	}

	t.Run("every queue has its depth in the dead-letter alarm", func(t *testing.T) {
		refs := refsOf(t, "DeadLetterDepthAlarm")
		queues := tpl.ResourcesOfType("AWS::SQS::Queue")
		if len(queues) == 0 {
			t.Fatal("the template has no queue")
		}
		for _, q := range queues {
			if !slices.Contains(refs, q.LogicalID) {
				t.Errorf("queue %s has no metric in DeadLetterDepthAlarm", q.LogicalID)
			}
		}
	})

	t.Run("every stream consumer has its iterator age alarmed", func(t *testing.T) {
		refs := refsOf(t, "StreamIteratorAgeAlarm")
		fns, err := tpl.Functions()
		if err != nil {
			t.Fatal(err)
		}
		consumers := 0
		for _, f := range fns {
			for _, e := range f.Events {
				if e.Type != "DynamoDB" && e.Type != "Kinesis" {
					continue
				}
				consumers++
				if !slices.Contains(refs, f.LogicalID) {
					t.Errorf("stream consumer %s has no IteratorAge metric in StreamIteratorAgeAlarm", f.LogicalID)
				}
			}
		}
		if consumers == 0 {
			t.Fatal("no stream consumer found: the test would pass for nothing")
		}
	})

	t.Run("every alarm notifies the alarm topic", func(t *testing.T) {
		alarms := tpl.ResourcesOfType("AWS::CloudWatch::Alarm")
		if len(alarms) == 0 {
			t.Fatal("the template has no alarm")
		}
		for _, a := range alarms {
			if !slices.Contains(References(a.Properties["AlarmActions"]), "AlarmTopic") {
				t.Errorf("alarm %s does not notify AlarmTopic", a.LogicalID)
			}
		}
	})

	t.Run("the dashboard shows every alarm", func(t *testing.T) {
		d, ok := tpl.Resources["OperationsDashboard"]
		if !ok {
			t.Fatal("no OperationsDashboard")
		}
		refs := References(d.Properties["DashboardBody"])
		for _, a := range tpl.ResourcesOfType("AWS::CloudWatch::Alarm") {
			if !slices.Contains(refs, a.LogicalID) {
				t.Errorf("alarm %s is not on the dashboard", a.LogicalID)
			}
		}
	})

	t.Run("every function logs JSON to the one log group", func(t *testing.T) {
		lc := AsMap(tpl.Globals.Function["LoggingConfig"])
		if lc["LogFormat"] != "JSON" || !slices.Contains(References(lc["LogGroup"]), "FunctionsLogGroup") {
			t.Fatalf("Globals.Function.LoggingConfig = %v, want JSON to FunctionsLogGroup", lc)
		}
		if tpl.Resources["FunctionsLogGroup"].Properties["RetentionInDays"] == nil {
			t.Error("FunctionsLogGroup has no retention")
		}
		fns, err := tpl.Functions()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fns {
			if _, own := tpl.Resources[f.LogicalID].Properties["LoggingConfig"]; own {
				t.Errorf("%s sets its own LoggingConfig", f.LogicalID)
			}
		}
	})
}

// The stream consumers keep concurrency of their own, so that API traffic cannot
// starve them (OWASP API4).
func TestStreamConsumersReserveConcurrency(t *testing.T) {
	tpl := load(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		for _, e := range f.Events {
			if e.Type != "DynamoDB" && e.Type != "SQS" && e.Type != "Kinesis" {
				continue
			}
			got := tpl.Resources[f.LogicalID].Properties["ReservedConcurrentExecutions"]
			if !slices.Contains(References(got), "ConsumerReservedConcurrency") {
				t.Errorf("consumer %s: ReservedConcurrentExecutions = %v, want the ConsumerReservedConcurrency parameter", f.LogicalID, got)
			}
		}
	}
}
