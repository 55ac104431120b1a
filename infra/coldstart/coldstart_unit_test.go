package coldstart

import (
	"os"
	"strings"
	"testing"

	"opsconsole/shared/consumers"
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

// TestTemplateEnv: every function starts with its template.yaml variables, stand-ins
// in place of the resources (the stream router panics without a queue per consumer).
func TestTemplateEnv(t *testing.T) {
	h := &Harness{Root: "../..", Log: os.Stderr}
	if err := h.Discover(); err != nil {
		t.Fatal(err)
	}
	for _, tg := range h.Targets {
		if !tg.IsFloor && h.fnEnv[tg.Name] == nil {
			t.Errorf("%s: not in template.yaml", tg.Name)
		}
	}
	env := strings.Join(h.env("stream-router"), "\n")
	for _, c := range consumers.Table {
		if !strings.Contains(env, "\n"+consumers.QueueEnv(c.Name)+"=https://sqs.") {
			t.Errorf("stream-router has no %s", consumers.QueueEnv(c.Name))
		}
	}
	if strings.Count(env, "TABLE_NAME=") != 1 || !strings.Contains(env, "\nTABLE_NAME=coldstart\n") {
		t.Errorf("TABLE_NAME is not the harness's alone:\n%s", env)
	}
}
