package local

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"opsconsole/infra/template"
)

func TestScheduleInterval(t *testing.T) {
	m := template.ScheduleMapping{FunctionLogicalID: "F", Event: "E", Rate: time.Hour, LocalRateFrom: "PERIOD"}
	for _, c := range []struct {
		env  map[string]string
		want time.Duration
		err  bool
	}{
		{nil, time.Hour, false},
		{map[string]string{"PERIOD": "2s"}, 2 * time.Second, false},
		{map[string]string{"PERIOD": "soon"}, 0, true},
	} {
		got, err := scheduleInterval(m, c.env)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("env %v: %v, %v; want %v (error %v)", c.env, got, err, c.want, c.err)
		}
	}
	if got, _ := scheduleInterval(template.ScheduleMapping{Expression: "cron(0 * * * ? *)"}, nil); got != 0 {
		t.Errorf("a cron schedule is played every %v", got)
	}
}

// The player invokes the function once per interval with a scheduled event, never
// two runs at once, and stops with its context.
func TestPlaySchedule(t *testing.T) {
	m := template.ScheduleMapping{Function: "f", FunctionLogicalID: "FFunction", Event: "Tick", Timeout: 1}
	var runs, running, overlapped atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		playSchedule(ctx, m, 20*time.Millisecond, func(ctx context.Context, ev events.EventBridgeEvent) error {
			if running.Add(1) > 1 {
				overlapped.Add(1)
			}
			defer running.Add(-1)
			if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || len(ev.Resources) != 1 {
				t.Errorf("event %+v", ev)
			}
			if _, ok := ctx.Deadline(); !ok {
				t.Error("no deadline")
			}
			runs.Add(1)
			time.Sleep(30 * time.Millisecond) // longer than the interval
			return nil
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	time.Sleep(250 * time.Millisecond)
	cancel()
	<-done
	if n := runs.Load(); n < 3 || n > 12 {
		t.Errorf("%d runs in 250 ms at 20 ms", n)
	}
	if overlapped.Load() > 0 {
		t.Error("two runs overlapped")
	}
}
