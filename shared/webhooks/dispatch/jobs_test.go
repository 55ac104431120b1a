package dispatch

import (
	"testing"
	"time"
)

func TestDelaySeconds(t *testing.T) {
	if delaySeconds(5*time.Second) != 5 || delaySeconds(time.Hour) != 900 || delaySeconds(-time.Second) != 0 {
		t.Error("delaySeconds")
	}
}
