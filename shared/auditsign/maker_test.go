package auditsign

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestIsScheduled(t *testing.T) {
	tests := []struct {
		name string
		ev   events.EventBridgeEvent
		want bool
	}{
		{"the schedule's event", events.EventBridgeEvent{Source: "aws.events", DetailType: "Scheduled Event"}, true},
		{"an empty payload (a console test invoke)", events.EventBridgeEvent{}, false},
		{"another source's event", events.EventBridgeEvent{Source: "aws.s3", DetailType: "Scheduled Event"}, false},
		{"another event of aws.events", events.EventBridgeEvent{Source: "aws.events", DetailType: "EC2 Instance State-change Notification"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsScheduled(tc.ev); got != tc.want {
				t.Errorf("IsScheduled = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHandleLeavesOtherEvents gives the handler a Maker with no store: were it to
// run, it would panic on the nil store, so passing shows nothing was read.
func TestHandleLeavesOtherEvents(t *testing.T) {
	if err := (&Maker{}).Handle(context.Background(), events.EventBridgeEvent{}); err != nil {
		t.Fatal(err)
	}
}
