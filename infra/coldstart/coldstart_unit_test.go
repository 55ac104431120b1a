package coldstart

import (
	"os"
	"strings"
	"testing"
)

// The benchmark builds with the flags sam build uses; the Makefile is where those are.
func TestFlagsMatchMakefile(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "GOFLAGS='"+GoFlags+"'") {
		t.Errorf("the Makefile's SAM_ENV no longer has GOFLAGS='%s': update GoFlags", GoFlags)
	}
}

func TestParseInitReport(t *testing.T) {
	log := "01 Dec 2026 23:42:06,581 [INFO] (rapid) INIT RTDONE(status: success)\n" +
		"01 Dec 2026 23:42:06,581 [INFO] (rapid) INIT REPORT(durationMs: 21.052000)\n" +
		"REPORT RequestId: x\tInit Duration: 0.49 ms\tDuration: 26.00 ms\n"
	d, err := ParseInitReport([]byte(log))
	if err != nil || d != 21.052 {
		t.Errorf("got %v, %v; want 21.052", d, err)
	}
	if _, err := ParseInitReport([]byte("REPORT RequestId: x\tInit Duration: 0.49 ms")); err == nil {
		t.Error("a log without INIT REPORT parsed")
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for q, want := range map[float64]float64{0: 1, 0.5: 5, 0.9: 9, 1: 10} {
		if got := Quantile(xs, q); got != want {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
}

// TestEveryFunctionHasAFloor: every function links a client set some floor has (go
// list only, nothing is built or started), so that `make coldstart` can judge it.
func TestEveryFunctionHasAFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over every function")
	}
	h := &Harness{Root: "../..", Log: os.Stderr}
	if err := h.Discover(); err != nil {
		t.Fatal(err)
	}
	if err := h.AssignFloors(); err != nil {
		t.Fatal(err)
	}
	for _, tg := range h.Targets {
		if tg.Name == "smtp-settings-test" && tg.Floor != "floor-dynamodb-kms-ses" || tg.Name == "users-invite" && tg.Floor != "floor-dynamodb-cognito-kms-ses" {
			t.Errorf("%s is judged against %s", tg.Name, tg.Floor)
		}
	}
}
