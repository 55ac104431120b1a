// Command local runs the whole backend on this machine (`make run`): DynamoDB Local,
// moto and maildev, the template's table, user pool, client, queues and key, a
// platform admin, the HTTP API and the table stream's consumer. Ctrl-C stops it all.
//
// Ports and the admin come from the environment: LOCAL_API_PORT (8080),
// LOCAL_DYNAMODB_PORT (8000), LOCAL_MOTO_PORT (5000), LOCAL_SMTP_PORT (1025),
// LOCAL_MAIL_PORT (8025), LOCAL_ADMIN_EMAIL (admin@example.com),
// LOCAL_ADMIN_PASSWORD (Admin-Passw0rd-Local). A port of 0 picks a free one.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"opsconsole/infra/local"
	"opsconsole/shared/signin"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	began := time.Now()
	root, err := local.FindRoot()
	if err != nil {
		return err
	}
	if missing := local.Missing(root); len(missing) > 0 {
		return fmt.Errorf("not installed: %s; run `%s` (make run does)", strings.Join(missing, ", "), local.InstallHint)
	}
	ports := map[string]int{}
	for _, p := range []struct {
		name string
		def  int
	}{{"LOCAL_API_PORT", 8080}, {"LOCAL_DYNAMODB_PORT", 8000}, {"LOCAL_MOTO_PORT", 5000}, {"LOCAL_SMTP_PORT", 1025}, {"LOCAL_MAIL_PORT", 8025}} {
		ports[p.name] = p.def
		if v := os.Getenv(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return fmt.Errorf("%s=%q is not a port", p.name, v)
			}
			ports[p.name] = n
		}
	}
	email := envOr("LOCAL_ADMIN_EMAIL", "admin@example.com")
	password := envOr("LOCAL_ADMIN_PASSWORD", "Admin-Passw0rd-Local")

	// Ctrl-C or SIGTERM while starting aborts the start (which stops what it began);
	// afterwards it stops the system.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fmt.Fprintln(os.Stderr, "starting DynamoDB Local, moto and maildev ...")
	sys, err := local.Start(ctx, local.Options{
		Root:    root,
		APIPort: ports["LOCAL_API_PORT"], DynamoDBPort: ports["LOCAL_DYNAMODB_PORT"], MotoPort: ports["LOCAL_MOTO_PORT"],
		SMTPPort: ports["LOCAL_SMTP_PORT"], MailPort: ports["LOCAL_MAIL_PORT"],
		Seed: func(ctx context.Context, _ map[string]string) error {
			return signin.SeedPlatformAdmin(ctx, email, password)
		},
		Logger:     logger,
		Parameters: local.ParametersFromEnv(),
		Env:        localEnv(),
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting
		}
		if strings.Contains(err.Error(), "in use") {
			return fmt.Errorf("%w\n(choose other ports with LOCAL_API_PORT, LOCAL_DYNAMODB_PORT, LOCAL_MOTO_PORT, LOCAL_SMTP_PORT, LOCAL_MAIL_PORT; 0 picks a free one)", err)
		}
		return err
	}
	envFile := filepath.Join(root, ".cache", "local.env")
	if err := writeEnv(envFile, sys.Resources.Env); err != nil {
		logger.Warn("cannot write the environment file", "file", envFile, "error", err)
	}
	banner(sys, email, password, envFile, time.Since(began))

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "\nstopping ...")
	stopErr := sys.Stop()
	os.Remove(envFile)
	if stopErr != nil {
		fmt.Fprintln(os.Stderr, "local: while stopping:", stopErr)
	}
	fmt.Fprintln(os.Stderr, "stopped")
	return nil
}

func banner(sys *local.System, email, password, envFile string, took time.Duration) {
	r := sys.Resources
	body, _ := jsonString(map[string]string{"email": email, "password": password})
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "  %-16s %s\n", k, v) }
	fmt.Fprintf(&b, "\nopsconsole is running locally (started in %s)\n\n", took.Round(100*time.Millisecond))
	line("API", sys.APIURL)
	line("API docs", sys.DocsURL)
	line("OpenAPI", sys.OpenAPIURL)
	line("Mail (maildev)", sys.MailURL)
	line("DynamoDB", sys.Services.DynamoDBURL+"  table "+r.TableName)
	line("moto", sys.Services.MotoURL+"  (Cognito, SQS, KMS, SES)")
	line("User pool", r.UserPoolID+"  client "+r.UserPoolClientID)
	line("SMTP", fmt.Sprintf("%s:%d", sys.Services.SMTPHost, sys.Services.SMTPPort))
	line("Admin", email+"  password "+password)
	line("Environment", envFile+"  (source it to point the AWS CLI/SDK here)")
	line("Logs", filepath.Dir(firstLog(sys.Services.Logs)))
	fmt.Fprintf(&b, "\nSign in:\n  curl -s -X POST %s/v1/auth/login -H 'content-type: application/json' -d '%s'\n", sys.APIURL, body)
	fmt.Fprintf(&b, "\nPress Ctrl-C to stop.\n")
	fmt.Fprint(os.Stdout, b.String())
}

func firstLog(logs map[string]string) string {
	for _, p := range logs {
		return p
	}
	return ""
}

func jsonString(m map[string]string) (string, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, strconv.Quote(k)+":"+strconv.Quote(m[k]))
	}
	return "{" + strings.Join(parts, ",") + "}", nil
}

// writeEnv writes the functions' environment as a shell file to source.
func writeEnv(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by `make run` for as long as it runs: the local system's environment.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// localEnv is what the local system takes from this process's environment in place
// of the template's: AUDIT_DIGEST_PERIOD (`AUDIT_DIGEST_PERIOD=30s make run` makes a
// digest every 30 s instead of every hour).
func localEnv() map[string]string {
	env := map[string]string{}
	if v := os.Getenv("AUDIT_DIGEST_PERIOD"); v != "" {
		env["AUDIT_DIGEST_PERIOD"] = v
	}
	return env
}
