// Package e2e tests the whole local system through its HTTP API: the real handlers
// behind the local API Gateway, DynamoDB Local, moto's Cognito, and the stream
// consumer. Every response is checked against the OpenAPI document.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"opsconsole/infra/local"
	"opsconsole/infra/local/localtest"
	"opsconsole/shared/api"
	"opsconsole/shared/apidocs/conformance"
	"opsconsole/shared/store"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "Admin-Passw0rd-Test"
)

var (
	// sysLog is the local system's logger; a function a test invokes directly logs
	// there too when given invokeCtx().
	sysLog  *slog.Logger
	sys     *local.System
	checker *conformance.Checker
	client  *http.Client
	st      *store.Store
	cognito *cip.Client
	poolID  string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if msg := localtest.Missing(); msg != "" {
		fmt.Fprintln(os.Stderr, "e2e:", msg)
		if os.Getenv("CI") != "" {
			return 1
		}
		fmt.Fprintln(os.Stderr, "e2e: skipped")
		return 0
	}
	ctx := context.Background()
	var err error
	checker, err = conformance.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: load OpenAPI document:", err)
		return 1
	}
	client = &http.Client{Transport: checker.Transport(http.DefaultTransport), Timeout: 30 * time.Second}
	// The functions' and the gateway's JSON logs go to a file, read when a test fails.
	logFile, err := os.Create(filepath.Join(os.TempDir(), "opsconsole-e2e.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: log file:", err)
		return 1
	}
	defer logFile.Close()
	fmt.Fprintln(os.Stderr, "e2e: logs in", logFile.Name())
	logger := slog.New(slog.NewMultiHandler(slog.NewJSONHandler(logFile, nil), benchLogs))
	sysLog = logger
	startIAMRecording()
	ls, err := localtest.StartSystem(ctx, logger, adminEmail, adminPassword)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start the local system:", err)
		return 1
	}
	defer ls.Stop()
	sys, st, cognito, poolID = ls.System, ls.Store, ls.Cognito, ls.PoolID
	code := m.Run()
	if v := checker.Violations(); len(v) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: %d responses do not conform to the OpenAPI document:\n  %s\n", len(v), strings.Join(v, "\n  "))
		return 1
	}
	if code == 0 && iamCheckApplies() {
		if err := checkIAM(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	return code
}

var (
	adminOnce  sync.Once
	adminToken string
)

// invokeCtx is the context of a function a test invokes itself (a trigger, a custom
// resource): it logs through the system's logger, as the functions behind the gateway do.
func invokeCtx() context.Context { return api.WithLogger(context.Background(), sysLog) }
