package local

// Schedules: what EventBridge does for a function with a Schedule or ScheduleV2 event,
// played in-process. Each enabled rate(…) schedule invokes its function every
// interval with a "Scheduled Event" (events.EventBridgeEvent), the function's timeout
// as deadline, the first time one interval after the start. A function whose
// Metadata.LocalRateFrom names an environment variable is played at that variable's
// duration instead (AUDIT_DIGEST_PERIOD: an hour in AWS, seconds locally). Not played:
// cron(…) expressions (logged), retries of a failed invocation (EventBridge retries an
// asynchronous invocation twice; the next tick comes soon enough locally), and
// overlapping runs: a tick that comes while the last run still works is skipped.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/oklog/ulid/v2"

	"opsconsole/infra/template"
	"opsconsole/shared/lambdas"
)

// scheduleInterval is how often m is played with env as the functions' environment;
// 0 when it is not played.
func scheduleInterval(m template.ScheduleMapping, env map[string]string) (time.Duration, error) {
	if m.LocalRateFrom != "" {
		if v, ok := env[m.LocalRateFrom]; ok {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return 0, fmt.Errorf("local: %s %s: LocalRateFrom %s=%q is not a positive duration", m.FunctionLogicalID, m.Event, m.LocalRateFrom, v)
			}
			return d, nil
		}
	}
	return m.Rate, nil
}

// ScheduledEvent is the event EventBridge sends a scheduled function.
func ScheduledEvent(m template.ScheduleMapping, at time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version: "0", ID: ulid.Make().String(), DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: AccountID, Time: at.UTC(), Region: Region,
		Resources: []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s-%s", Region, AccountID, m.FunctionLogicalID, m.Event)},
		Detail:    json.RawMessage("{}"),
	}
}

// playSchedule invokes handler every interval until ctx ends.
func playSchedule(ctx context.Context, m template.ScheduleMapping, every time.Duration, handler lambdas.ScheduleHandler, log *slog.Logger) {
	timeout := time.Duration(m.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case at := <-t.C:
			hctx, cancel := context.WithTimeout(ctx, timeout)
			if err := handler(hctx, ScheduledEvent(m, at)); err != nil && ctx.Err() == nil {
				log.Warn("scheduled function failed", "function", m.Function, "event", m.Event, "error", err)
			}
			cancel()
		}
	}
}
