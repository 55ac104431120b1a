// Package localtest starts the local system for integration tests, so that every
// package's tests start it the same way: the services and a table bootstrapped from
// template.yaml (Need, for the tests of one package's own code against DynamoDB
// Local), or the whole system with a signed-in platform admin (StartSystem, for the
// end-to-end suite and the fuzzing gate). Without the services installed a test is
// skipped, or fails when CI is set: CI must never pass by skipping.
package localtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"opsconsole/infra/local"
	"opsconsole/infra/template"
	"opsconsole/shared/config"
	"opsconsole/shared/signin"
	"opsconsole/shared/store"
)

// Missing says why the local services cannot run ("" when they can), with the command
// that installs them.
func Missing() string {
	if missing := local.Missing(""); len(missing) > 0 {
		return fmt.Sprintf("local services not installed (%s); run `%s`", strings.Join(missing, ", "), local.InstallHint)
	}
	return ""
}

// Skip skips t when the local services are not installed, or fails it under CI.
func Skip(t testing.TB) {
	t.Helper()
	if msg := Missing(); msg != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Table is the local services with a table (and the rest of the stack's resources)
// bootstrapped from template.yaml, without functions or stream pollers: each test
// decides what runs when.
type Table struct {
	Services  *local.Services
	Template  *template.Template
	Resources *local.Resources
	DB        *dynamodb.Client
	Store     *store.Store
}

var (
	once     sync.Once
	shared   *Table
	startErr error
)

// Need is the test binary's Table, started on first use (stack names its resources);
// it skips t, or fails it under CI, without the services. Call Main from TestMain so
// that the services stop when the tests end.
func Need(t testing.TB, stack string) *Table {
	t.Helper()
	Skip(t)
	once.Do(func() { shared, startErr = StartTable(context.Background(), stack) })
	if startErr != nil {
		t.Fatal("start the local services:", startErr)
	}
	return shared
}

// Main runs the tests, then stop (what the package itself started on the services,
// such as a stream poller: it is called when the tests end, before the services stop),
// then stops what Need started.
func Main(m *testing.M, stop ...func()) {
	code := m.Run()
	for _, f := range stop {
		f()
	}
	if shared != nil {
		shared.Services.Stop()
	}
	os.Exit(code)
}

// StartTable starts the services and bootstraps the stack's resources, and sets the
// functions' environment (as the local System does), so that a function built in the
// test (lambdas.Functions) uses this table.
func StartTable(ctx context.Context, stack string) (_ *Table, err error) {
	root, err := local.FindRoot()
	if err != nil {
		return nil, err
	}
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	svc, err := local.StartServices(ctx, local.ServiceOptions{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			svc.Stop()
		}
	}()
	res, err := local.Bootstrap(ctx, tpl, svc.Endpoints(), local.BootstrapOptions{StackName: stack})
	if err != nil {
		return nil, err
	}
	for _, k := range local.UnsetEnv {
		os.Unsetenv(k)
	}
	for k, v := range res.Env {
		os.Setenv(k, v)
	}
	db := dynamodb.NewFromConfig(local.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(svc.DynamoDBURL) })
	return &Table{Services: svc, Template: tpl, Resources: res, DB: db, Store: &store.Store{DB: db, Table: res.TableName}}, nil
}

// System is the whole local system with a platform admin seeded, and clients of its
// table and user pool for tests that look behind the API.
type System struct {
	*local.System
	Store   *store.Store
	Cognito *cip.Client
	PoolID  string
}

// The webhook schedule of the tests' system: four retries a second apart (about
// 4 s), and an endpoint disabled after failing for 10 s.
const (
	TestRetrySchedule = "1s,1s,1s,1s"
	TestDisableAfter  = "10s"
)

// StartSystem starts the whole local system (local.Start) with logger and the
// platform admin adminEmail / adminPassword; Stop ends it.
func StartSystem(ctx context.Context, logger *slog.Logger, adminEmail, adminPassword string) (_ *System, err error) {
	sys, err := local.Start(ctx, local.Options{
		Logger: logger,
		// The webhook retry schedule compressed to seconds, so that the tests see a
		// delivery retried and given up on, and an endpoint disabled, in a test's time.
		Parameters: map[string]string{"WebhookRetrySchedule": TestRetrySchedule, "WebhookDisableAfter": TestDisableAfter},
		Env:        Env(),
		Seed: func(ctx context.Context, _ map[string]string) error {
			return signin.SeedPlatformAdmin(ctx, adminEmail, adminPassword)
		},
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			sys.Stop()
		}
	}()
	cfg, err := config.Load(ctx)
	if err != nil {
		return nil, err
	}
	return &System{
		System:  sys,
		Store:   store.New(cfg.AWS, cfg.TableName),
		Cognito: cip.NewFromConfig(cfg.AWS),
		PoolID:  cfg.UserPoolID,
	}, nil
}

// DigestPeriod is the audit digest period of the tests' local system: short, so that
// a test sees its entries' digest within seconds (AUDIT_DIGEST_PERIOD overrides it).
const DigestPeriod = "3s"

// Env is the environment the tests' local system replaces the template's with.
func Env() map[string]string {
	p := os.Getenv("AUDIT_DIGEST_PERIOD")
	if p == "" {
		p = DigestPeriod
	}
	return map[string]string{"AUDIT_DIGEST_PERIOD": p}
}
