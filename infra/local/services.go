package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServiceOptions says where the services listen. A port of 0 picks a free one.
type ServiceOptions struct {
	// Root is the repo root; "" finds it from the working directory.
	Root string
	// DynamoDBPort serves DynamoDB and DynamoDB Streams (DynamoDB Local).
	DynamoDBPort int
	// MotoPort serves Cognito IdP, SQS, KMS and SES (moto server).
	MotoPort int
	// SMTPPort and MailPort are maildev's SMTP server and its web UI / REST API.
	SMTPPort int
	MailPort int
	// StartTimeout bounds the wait for each service to answer; 0 means 60 s.
	StartTimeout time.Duration
	// LogDir receives one log file per service; "" means .cache/logs under Root.
	LogDir string
}

// Services are the running emulators.
type Services struct {
	// DynamoDBURL is DynamoDB Local's endpoint (DynamoDB and DynamoDB Streams).
	DynamoDBURL string
	// MotoURL is moto server's endpoint (Cognito IdP, SQS, KMS, SES).
	MotoURL string
	// SMTPHost and SMTPPort are maildev's SMTP server.
	SMTPHost string
	SMTPPort int
	// MailURL is maildev's web UI; its REST API is under MailURL+"/api" (GET
	// /api/email lists the messages, DELETE /api/email/all empties the box).
	MailURL string
	// Logs are the services' log files by service name.
	Logs map[string]string
	// StartTimes are how long each service took to answer, by service name.
	StartTimes map[string]time.Duration

	ports    []int
	procs    []*process
	proxy    *crcProxy
	stopOnce sync.Once
	stopErr  error
}

// Ports are the TCP ports the services listen on.
func (s *Services) Ports() []int { return append([]int(nil), s.ports...) }

// Endpoints are the services' endpoints, as Bootstrap takes them.
func (s *Services) Endpoints() Endpoints {
	return Endpoints{DynamoDB: s.DynamoDBURL, Moto: s.MotoURL, SMTPHost: s.SMTPHost, SMTPPort: s.SMTPPort, MailURL: s.MailURL}
}

const (
	loopback          = "127.0.0.1"
	defaultStartLimit = 60 * time.Second
	stopGrace         = 3 * time.Second
	startAttempts     = 3 // for a picked port another process took in the meantime
)

// StartServices starts DynamoDB Local, moto server and maildev, each in its own
// process group, and returns once each one answers. On error nothing is left
// running. Stop ends them.
func StartServices(ctx context.Context, opts ServiceOptions) (_ *Services, err error) {
	root := opts.Root
	if root == "" {
		if root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	if missing := Missing(root); len(missing) > 0 {
		return nil, fmt.Errorf("local: not installed: %s; run `%s`", strings.Join(missing, ", "), InstallHint)
	}
	logDir := opts.LogDir
	if logDir == "" {
		logDir = filepath.Join(root, logsDir)
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	pruneLogs(logDir, 24*time.Hour)
	limit := opts.StartTimeout
	if limit <= 0 {
		limit = defaultStartLimit
	}
	// Fixed ports must be free now: a clear error beats a service dying at start.
	for _, p := range []struct {
		name string
		port int
	}{{"DynamoDB", opts.DynamoDBPort}, {"moto", opts.MotoPort}, {"SMTP", opts.SMTPPort}, {"mail web", opts.MailPort}} {
		if p.port != 0 && !portFree(p.port) {
			return nil, fmt.Errorf("local: port %d for %s is in use by another process", p.port, p.name)
		}
	}

	s := &Services{SMTPHost: loopback, Logs: map[string]string{}, StartTimes: map[string]time.Duration{}}
	began := time.Now()
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	// The three start in parallel; DynamoDB Local (a JVM) is the slowest.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	launch := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	add := func(p *process, ports ...int) {
		mu.Lock()
		defer mu.Unlock()
		s.procs = append(s.procs, p)
		s.ports = append(s.ports, ports...)
		s.Logs[p.name] = p.logPath
		s.StartTimes[p.name] = time.Since(began)
	}

	launch(func() error {
		// DynamoDB Local listens on a port of its own (on every interface: it has no
		// bind option); clients use the proxy in front of it (crcproxy.go).
		proxy, err := startCRCProxy(net.JoinHostPort(loopback, strconv.Itoa(opts.DynamoDBPort)))
		if err != nil {
			return fmt.Errorf("local: DynamoDB port: %w", err)
		}
		mu.Lock()
		s.proxy = proxy
		s.ports = append(s.ports, proxy.port())
		mu.Unlock()
		dir := filepath.Join(root, dynamoDBLocalDir)
		p, ports, err := startWithRetry(ctx, limit, []int{0}, func(ports []int) (*process, error) {
			return startProcess("dynamodb-local", logDir, ports[0], dir, nil, "java",
				"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.library.path="+dir, "-cp", filepath.Join(dir, "*"), dynamoDBMainClass,
				"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(ports[0]))
		}, func(ctx context.Context, ports []int) error {
			return httpAnswers(ctx, fmt.Sprintf("http://%s:%d/", loopback, ports[0]))
		})
		if err != nil {
			return err
		}
		add(p, ports...)
		proxy.target(fmt.Sprintf("http://%s:%d", loopback, ports[0]))
		s.DynamoDBURL = fmt.Sprintf("http://%s:%d", loopback, proxy.port())
		return nil
	})
	launch(func() error {
		dir := filepath.Join(root, motoDir)
		env := []string{"MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true"}
		p, ports, err := startWithRetry(ctx, limit, []int{opts.MotoPort}, func(ports []int) (*process, error) {
			return startProcess("moto", logDir, ports[0], dir, env, filepath.Join(dir, motoServerBin),
				"-H", loopback, "-p", strconv.Itoa(ports[0]))
		}, func(ctx context.Context, ports []int) error {
			return httpAnswers(ctx, fmt.Sprintf("http://%s:%d/moto-api/", loopback, ports[0]))
		})
		if err != nil {
			return err
		}
		add(p, ports...)
		s.MotoURL = fmt.Sprintf("http://%s:%d", loopback, ports[0])
		return nil
	})
	launch(func() error {
		dir := filepath.Join(root, maildevDir)
		p, ports, err := startWithRetry(ctx, limit, []int{opts.SMTPPort, opts.MailPort}, func(ports []int) (*process, error) {
			// maildev keeps each message in a file too, by default in /tmp/maildev shared
			// by every instance and never emptied: give each its own, removed at stop.
			mailDir := filepath.Join(logDir, fmt.Sprintf("maildev-%d.mail", ports[0]))
			if err := os.RemoveAll(mailDir); err != nil {
				return nil, err
			}
			if err := os.MkdirAll(mailDir, 0o755); err != nil {
				return nil, err
			}
			// No --outgoing-*/--auto-relay: maildev keeps every message, relays none.
			p, err := startProcess("maildev", logDir, ports[0], dir, nil, "node", filepath.Join(dir, maildevScript),
				"--ip", loopback, "--smtp", strconv.Itoa(ports[0]),
				"--web-ip", loopback, "--web", strconv.Itoa(ports[1]),
				"--mail-directory", mailDir)
			if err != nil {
				os.RemoveAll(mailDir)
				return nil, err
			}
			p.tmpDir = mailDir
			return p, nil
		}, func(ctx context.Context, ports []int) error {
			if err := httpOK(ctx, fmt.Sprintf("http://%s:%d/api/healthz", loopback, ports[1])); err != nil {
				return err
			}
			return smtpAnswers(ctx, fmt.Sprintf("%s:%d", loopback, ports[0]))
		})
		if err != nil {
			return err
		}
		add(p, ports...)
		s.SMTPPort = ports[0]
		s.MailURL = fmt.Sprintf("http://%s:%d", loopback, ports[1])
		return nil
	})
	wg.Wait()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// SetFaults makes the DynamoDB proxy inject f from now on (Faults{} stops injecting)
// and restarts its draws and FaultStats.
func (s *Services) SetFaults(f Faults) {
	if s.proxy != nil {
		s.proxy.faults.set(f)
	}
}

// FaultStats counts the data-plane requests and the faults injected since the last
// SetFaults.
func (s *Services) FaultStats() FaultStats {
	if s.proxy == nil {
		return FaultStats{Injected: map[string]int{}}
	}
	return s.proxy.faults.snapshot()
}

// Stop ends every service (SIGTERM to its process group, SIGKILL after a grace
// period) and waits for them to exit, which frees their ports. It is safe to call
// more than once.
func (s *Services) Stop() error {
	s.stopOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(s.procs))
		for i, p := range s.procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = p.stop()
			}()
		}
		wg.Wait()
		if s.proxy != nil {
			errs = append(errs, s.proxy.close())
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// startWithRetry starts a service on the given ports (0 = pick one) and waits until
// ready answers. When it picked a port and the process died (another process may
// have taken the port since), it tries again with new ports.
func startWithRetry(ctx context.Context, limit time.Duration, want []int, start func(ports []int) (*process, error), ready func(ctx context.Context, ports []int) error) (*process, []int, error) {
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		ports := make([]int, len(want))
		picked := false
		for i, p := range want {
			if p == 0 {
				fp, err := freePort()
				if err != nil {
					return nil, nil, err
				}
				p, picked = fp, true
			}
			ports[i] = p
		}
		proc, err := start(ports)
		if err != nil {
			return nil, nil, err
		}
		if err = proc.waitReady(ctx, limit, func(ctx context.Context) error { return ready(ctx, ports) }); err == nil {
			return proc, ports, nil
		}
		proc.stop()
		lastErr = err
		if !picked || !proc.exited() || ctx.Err() != nil {
			break
		}
	}
	return nil, nil, lastErr
}

// process is one service's child process, leader of its own process group.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
	waitErr error
	tmpDir  string // removed once the process has exited
}

func startProcess(name, logDir string, port int, dir string, extraEnv []string, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d.log", name, port))
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(childEnv(), extraEnv...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("local: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// childEnv is this process's environment without the variables that would change
// how the services behave (maildev reads MAILDEV_*, moto MOTO_*).
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MAILDEV_") || strings.HasPrefix(kv, "MOTO_") || strings.HasPrefix(kv, "JAVA_TOOL_OPTIONS=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls ready until it succeeds, the process exits, or the limit passes.
func (p *process) waitReady(ctx context.Context, limit time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	var lastErr error
	for {
		if p.exited() {
			return fmt.Errorf("local: %s exited before it answered (%v); log %s:\n%s", p.name, p.waitErr, p.logPath, p.logTail())
		}
		attemptCtx, cancel := context.WithTimeout(ctx, time.Second)
		lastErr = ready(attemptCtx)
		cancel()
		if lastErr == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("local: %s: %w", p.name, ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("local: %s did not answer within %s (%v); log %s:\n%s", p.name, limit, lastErr, p.logPath, p.logTail())
		}
		select {
		case <-ctx.Done():
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *process) stop() error {
	defer func() {
		if p.tmpDir != "" && p.exited() {
			os.RemoveAll(p.tmpDir)
		}
	}()
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			return fmt.Errorf("local: %s (pid %d) did not exit", p.name, pgid)
		}
	}
	// A member of the group may outlive the leader; make sure none does.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return nil
}

// logTail is the end of the process's log, for error messages.
func (p *process) logTail() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 4096
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// pruneLogs removes the services' logs (and maildev's mail directories a killed run
// left behind) last written more than maxAge ago: tests on free ports leave a log per
// port.
func pruneLogs(dir string, maxAge time.Duration) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") && !strings.HasSuffix(e.Name(), ".mail") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > maxAge {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// freePort returns a TCP port nobody listens on, on any address.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// httpAnswers succeeds on any HTTP answer.
func httpAnswers(ctx context.Context, url string) error {
	_, err := probe(ctx, url)
	return err
}

// httpOK succeeds on a 200 answer.
func httpOK(ctx context.Context, url string) error {
	res, err := probe(ctx, url)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return err
}

// probe GETs url and discards the body.
func probe(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := probeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res, nil
}

// smtpAnswers succeeds when the server greets with 220.
func smtpAnswers(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("SMTP greeting %q", strings.TrimSpace(line))
	}
	_, _ = c.Write([]byte("QUIT\r\n"))
	return nil
}
