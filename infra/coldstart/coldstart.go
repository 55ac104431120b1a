// Package coldstart measures the cold start of every Lambda function in functions/
// beside floors built alike (infra/coldstart/floors: a hello-world, a DynamoDB-only
// function, and DynamoDB with the Cognito and SES clients), running the built
// binaries under the AWS Lambda Runtime Interface Emulator (RIE, installed by
// `infra/install.sh rie`). BenchmarkColdStart drives it; `make coldstart` runs it
// alone, `make bench` with the other benchmarks. What it measures, and why so, is in
// docs/measurements.md ("Cold starts").
//
// The init time is the duration of RIE's "INIT REPORT" log line: from the start of the
// init phase (RIE forks the bootstrap) until the runtime asks for its first event, so
// it holds the process start, the Go runtime, package initializers and the function's
// Builder. RIE's REPORT line's "Init Duration" times only the hand-off of the init
// request, and is not used.
package coldstart

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// GoFlags are the flags every binary is built with: the Makefile's SAM_ENV, which is
// what sam build uses (TestFlagsMatchMakefile keeps the two equal).
const GoFlags = "-tags=lambda.norpc -trimpath -ldflags=-s"

// ZipArch is the architecture whose zips are sized: template.yaml's Architectures. The
// binaries that run under RIE are built for the host instead, with the same flags.
const ZipArch = "arm64"

// Target is one binary under measurement: a function or a floor.
type Target struct {
	Name string // folder name: functions/<Name> or infra/coldstart/floors/<Name>
	Pkg  string // import path
	// Floor is the floor it is judged against (empty for a floor itself); Clients the
	// AWS service clients it links beyond what the SDK's config links.
	Floor   string
	Clients []string
	IsFloor bool
	// Deps are every package it links (go list -deps), for telling what a function
	// links beyond its floor.
	Deps map[string]bool

	HostBin string // host build, run under RIE
	ZipSize int64  // the ZipArch bootstrap, zipped

	Warm, Evicted []float64 // INIT REPORT durations, ms
	// FloorWarm and FloorEvicted are the starts of a function's floor made right
	// beside its own (see Run): what its ratios are computed from.
	FloorWarm, FloorEvicted []float64
}

// Harness builds the targets and starts them under RIE.
type Harness struct {
	Root   string         // the repository root
	RIE    string         // the aws-lambda-rie binary
	Out    string         // where the builds go (persistent, so that a second run relinks nothing)
	Log    io.Writer      // progress and the go command's errors
	Filter *regexp.Regexp // functions to measure (floors always); nil for all

	Targets []*Target

	aws       *httptest.Server // the only endpoint the functions are given
	awsCalls  atomic.Int64     // requests to it other than the custom resource's answer
	home      string
	maxResInE float64             // the largest fraction of a binary still resident after an eviction
	retries   int                 // starts made again after a failure
	fnEnv     map[string][]string // template.yaml's variables by function, stand-ins (TemplateEnv)
}

// Retries is how many starts failed and were made again (see Run).
func (h *Harness) Retries() int { return h.retries }

// maxAttempts bounds the starts of one target in one slot of a round: a start can
// fail for reasons of the shared machine (another program taking the port chosen
// for RIE between its choice and RIE's listen, for one); a function that fails every
// time fails the run.
const maxAttempts = 3

// floorsDir is where the floors' mains are, relative to the root.
const floorsDir = "infra/coldstart/floors"

// Discover lists the functions and the floors.
func (h *Harness) Discover() error {
	add := func(dir string, floor bool) error {
		entries, err := os.ReadDir(filepath.Join(h.Root, dir))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			if _, err := os.Stat(filepath.Join(h.Root, dir, e.Name(), "main.go")); err != nil {
				continue
			}
			if !floor && h.Filter != nil && !h.Filter.MatchString(e.Name()) {
				continue
			}
			h.Targets = append(h.Targets, &Target{Name: e.Name(), Pkg: "opsconsole/" + dir + "/" + e.Name(), IsFloor: floor})
		}
		return nil
	}
	if err := add(floorsDir, true); err != nil {
		return err
	}
	if err := add("functions", false); err != nil {
		return err
	}
	var err error
	h.fnEnv, err = TemplateEnv(h.Root, h.baseEnv(""))
	return err
}

// goCmd is a go command run at the root with the Makefile's build environment for
// GOARCH arch.
func (h *Harness) goCmd(arch string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = h.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS="+GoFlags)
	cmd.Stderr = h.Log
	return cmd
}

// Build builds every target for the host (to run) and for ZipArch (to size), in one go
// build per architecture into h.Out, where the go command relinks only what changed;
// then it zips each ZipArch binary as sam does and flushes each host binary to disk,
// because posix_fadvise cannot drop dirty pages.
func (h *Harness) Build(hostArch string) error {
	pkgs := make([]string, len(h.Targets))
	for i, t := range h.Targets {
		pkgs[i] = t.Pkg
	}
	for _, arch := range []string{hostArch, ZipArch} {
		dir := filepath.Join(h.Out, arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		t0 := time.Now()
		// -buildvcs=false: otherwise every commit changes the stamped revision and
		// so every binary, and each run would relink all of them (a few hundred bytes
		// of build information, nothing that runs at init).
		if err := h.goCmd(arch, append([]string{"build", "-buildvcs=false", "-o", dir + "/"}, pkgs...)...).Run(); err != nil {
			return fmt.Errorf("go build (%s): %w", arch, err)
		}
		fmt.Fprintf(h.Log, "coldstart: built %d binaries for linux/%s in %.1f s\n", len(pkgs), arch, time.Since(t0).Seconds())
	}
	for _, t := range h.Targets {
		t.HostBin = filepath.Join(h.Out, hostArch, t.Name)
		size, err := zipSize(filepath.Join(h.Out, ZipArch, t.Name))
		if err != nil {
			return err
		}
		t.ZipSize = size
		if err := syncFile(t.HostBin); err != nil {
			return err
		}
	}
	return nil
}

// zipSize is the size of the deployment package of bin: one file named bootstrap,
// executable, deflated (sam build zips with Python's zipfile, ZIP_DEFLATED).
func zipSize(bin string) (int64, error) {
	f, err := os.Open(bin)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var n countWriter
	zw := zip.NewWriter(&n)
	hdr, err := zip.FileInfoHeader(info)
	if err != nil {
		return 0, err
	}
	hdr.Name, hdr.Method = "bootstrap", zip.Deflate
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(n), nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// configPkg is the SDK's config module: the service packages it links on its own
// (STS, SSO and the like, for its credential providers) are in every function, so
// they tell nothing about the function's clients and are left out of Target.Clients.
const configPkg = "github.com/aws/aws-sdk-go-v2/config"

const servicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// services are the AWS service client packages among deps.
func services(deps []string) map[string]bool {
	s := map[string]bool{}
	for _, d := range deps {
		if rest, ok := strings.CutPrefix(d, servicePrefix); ok && !strings.Contains(rest, "/") {
			s[rest] = true
		}
	}
	return s
}

// AssignFloors reads what each target links (go list -deps, for ZipArch as it ships)
// and judges each function against the floor whose clients are its own plus DynamoDB:
// the target is the DynamoDB-only floor for every function but those that also link
// the Cognito or SES clients, which get a floor with the same clients.
func (h *Harness) AssignFloors() error {
	args := []string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", configPkg}
	for _, t := range h.Targets {
		args = append(args, t.Pkg)
	}
	out, err := h.goCmd(ZipArch, args...).Output()
	if err != nil {
		return fmt.Errorf("go list: %w", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		deps[f[0]] = f[1:]
	}
	base := services(deps[configPkg])
	clientsOf := func(pkg string) []string {
		var c []string
		for s := range services(deps[pkg]) {
			if !base[s] {
				c = append(c, s)
			}
		}
		sort.Strings(c)
		return c
	}
	floors := map[string]string{} // client set -> floor name
	for _, t := range h.Targets {
		t.Clients = clientsOf(t.Pkg)
		t.Deps = map[string]bool{}
		for _, d := range deps[t.Pkg] {
			t.Deps[d] = true
		}
		if t.IsFloor {
			floors[strings.Join(t.Clients, "+")] = t.Name
		}
	}
	for _, t := range h.Targets {
		if t.IsFloor {
			continue
		}
		want := t.Clients
		if !contains(want, "dynamodb") {
			want = append([]string{"dynamodb"}, want...)
			sort.Strings(want)
		}
		fl, ok := floors[strings.Join(want, "+")]
		if !ok {
			return fmt.Errorf("%s links the clients %v and no floor in %s has exactly those: add one", t.Name, want, floorsDir)
		}
		t.Floor = fl
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// cfnResponsePath is where the custom resource function (first-admin) answers
// CloudFormation: its own loopback request, not an AWS call.
const cfnResponsePath = "/cloudformation-response"

// Event is the one event every function is invoked with. Go's JSON decoding ignores
// the fields a handler's event type lacks (and matches names case-insensitively), so
// each kind of function finds in it a request that needs no network:
//   - an HTTP API (payload 2.0) GET of a route no function serves: a 404 before any
//     middleware;
//   - "Records": an empty DynamoDB stream batch (audit-writer, tree-counter, tree-deleter);
//   - "request.userNotFound": a Cognito pre-authentication trigger for an unknown
//     user, which reads nothing (auth-pre-authentication);
//   - "RequestType": Delete: a CloudFormation custom resource deletion, which does
//     nothing but answer at ResponseURL, the harness's server (first-admin).
//
// Init is what is measured; the invocation is there because RIE inits on the first one.
func (h *Harness) Event() string {
	return `{"version":"2.0","routeKey":"$default","rawPath":"/coldstart/no-such-route",` +
		`"headers":{"host":"localhost"},` +
		`"requestContext":{"requestId":"coldstart","http":{"method":"GET","path":"/coldstart/no-such-route","sourceIp":"127.0.0.1"}},` +
		`"Records":[],` +
		`"triggerSource":"PreAuthentication_Authentication","userName":"coldstart","request":{"userNotFound":true},` +
		`"RequestType":"Delete","RequestId":"coldstart","StackId":"arn:aws:cloudformation:us-east-1:000000000000:stack/coldstart/1",` +
		`"LogicalResourceId":"FirstAdmin","PhysicalResourceId":"coldstart","ResponseURL":"` + h.aws.URL + cfnResponsePath + `"}`
}

// Start starts the loopback server that stands for AWS: every function's
// AWS_ENDPOINT_URL points at it, and it answers 500 to anything, so that no function
// under measurement can reach AWS. Requests to it are counted (AWSCalls): a function
// that calls AWS at init or for the benchmark's event shows there.
func (h *Harness) Start() error {
	// RIE gives the runtime a process group of its own, and stop kills the runtime
	// before RIE, which then cannot reap it: as the subreaper of its descendants this
	// process inherits the orphan and reaps it (stop), rather than leaving a zombie
	// for init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	h.aws = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != cfnResponsePath {
			h.awsCalls.Add(1)
		}
		if r.URL.Path == cfnResponsePath {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "coldstart: no AWS here", http.StatusInternalServerError)
	}))
	home, err := os.MkdirTemp("", "coldstart-home-")
	if err != nil {
		return err
	}
	h.home = home
	return nil
}

// Close stops the loopback server.
func (h *Harness) Close() {
	if h.aws != nil {
		h.aws.Close()
	}
	if h.home != "" {
		os.RemoveAll(h.home)
	}
}

// AWSCalls is how many requests the functions sent to the AWS stand-in.
func (h *Harness) AWSCalls() int64 { return h.awsCalls.Load() }

// MaxResidentAfterEviction is the largest fraction of a binary's pages found still in
// the page cache right after an eviction (mincore), to show that evicting worked.
func (h *Harness) MaxResidentAfterEviction() float64 { return h.maxResInE }

// env is the whole environment RIE runs with, and so what the function sees besides
// what RIE adds (AWS_LAMBDA_RUNTIME_API and the like): template.yaml's variables with
// stand-in values (baseEnv's, then the rest of the function's from TemplateEnv: the
// stream router's queue URLs, the exports' bucket, the keys' ids, …), fake
// credentials, and the SDK pointed at the loopback server. It is built from nothing
// rather than from os.Environ: an AWS_CA_BUNDLE, for one, would make every SDK config
// parse a certificate file at init (3.5 ms), and a developer's AWS_PROFILE or ~/.aws
// would send the SDK reading files; HOME is an empty directory.
func (h *Harness) env(name string) []string {
	return append(h.baseEnv(name), h.fnEnv[name]...)
}

func (h *Harness) baseEnv(name string) []string {
	endpoint := "" // before Start, only the names are read (Discover)
	if h.aws != nil {
		endpoint = h.aws.URL
	}
	return []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + h.home,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDCOLDSTARTBENCH00",
		"AWS_SECRET_ACCESS_KEY=coldstart-benchmark-not-a-secret",
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=10",
		"TABLE_NAME=coldstart",
		"USER_POOL_ID=us-east-1_coldstart",
		"USER_POOL_CLIENT_ID=coldstart",
		"CURSOR_SECRET=coldstart-cursor-secret-of-32-bytes-at-least",
		"CONSOLE_URL=https://console.example.com",
		"LOG_LEVEL=INFO",
		"MAIL_TRANSPORT=ses",
		"MAIL_FROM=no-reply@example.com",
	}
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// ParseInitReport returns the duration of RIE's INIT REPORT line in log, in ms.
func ParseInitReport(log []byte) (float64, error) {
	m := initReport.FindSubmatch(log)
	if m == nil {
		return 0, errors.New("no INIT REPORT line")
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// Evict drops path from the page cache with posix_fadvise(POSIX_FADV_DONTNEED), which
// needs no privilege but drops only clean pages (Build flushed them), and returns the
// fraction of its pages that mincore still finds resident.
func Evict(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, fmt.Errorf("fadvise %s: %w", path, err)
	}
	return resident(f)
}

// resident is the fraction of f's pages in the page cache.
func resident(f *os.File) (float64, error) {
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return 0, err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(info.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(mem)
	page := os.Getpagesize()
	vec := make([]byte, (len(mem)+page-1)/page)
	// x/sys/unix at the version this module has no Mincore yet.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore: %w", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec)), nil
}

// freeAddrs are n distinct loopback addresses no one listens on now (the listeners
// are held until all are chosen, so that the kernel cannot hand out one port twice).
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// Once is one cold start of t under a new RIE: RIE starts (not timed), the event is
// invoked, RIE's INIT REPORT is read, and RIE and the runtime are killed.
func (h *Harness) Once(t *Target, evict bool) (float64, error) {
	if evict {
		res, err := Evict(t.HostBin)
		if err != nil {
			return 0, err
		}
		h.maxResInE = max(h.maxResInE, res)
	}
	addrs, err := freeAddrs(2)
	if err != nil {
		return 0, err
	}
	rieAddr, apiAddr := addrs[0], addrs[1]
	var out bytes.Buffer
	cmd := exec.Command(h.RIE, "--log-level", "info",
		"--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, t.HostBin)
	cmd.Dir = filepath.Dir(t.HostBin)
	cmd.Env = h.env(t.Name)
	cmd.Stdout, cmd.Stderr = &out, &out // one writer: exec copies both with one goroutine
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer stop(cmd)
	if err := waitListening(rieAddr, 10*time.Second); err != nil {
		return 0, fmt.Errorf("%s: RIE: %w", t.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+rieAddr+"/2015-03-31/functions/function/invocations", strings.NewReader(h.Event()))
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		stop(cmd)
		return 0, fmt.Errorf("%s: invoke: %w; RIE's log:\n%s", t.Name, err, tail(out.Bytes(), 3000))
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stop(cmd)
	log := out.Bytes()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(log, []byte("INIT RTDONE(status: success)")) {
		return 0, fmt.Errorf("%s: invoke answered %d %s; RIE's log:\n%s", t.Name, resp.StatusCode, body, tail(log, 3000))
	}
	d, err := ParseInitReport(log)
	if err != nil {
		return 0, fmt.Errorf("%s: %w; RIE's log:\n%s", t.Name, err, tail(log, 3000))
	}
	return d, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// stop kills the runtime and then RIE, and reaps both. RIE starts the runtime in a
// process group of its own (Setpgid), so killing RIE's group would leave it: the
// runtime's pid is read from /proc as RIE's child, and its group killed first. Both
// are processes this harness started; nothing else is signalled. Safe to call twice.
func stop(cmd *exec.Cmd) {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	pid := cmd.Process.Pid
	var runtimes []int
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, f := range strings.Fields(string(kids)) {
			if k, err := strconv.Atoi(f); err == nil && k > 0 {
				_ = syscall.Kill(-k, syscall.SIGKILL)
				runtimes = append(runtimes, k)
			}
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = cmd.Wait()
	for _, k := range runtimes {
		// Reaped here if RIE died first (Start made this process the subreaper);
		// ECHILD if RIE had reaped it.
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(k, &ws, 0, nil); err != unix.EINTR {
				break // the Go runtime's preemption signals interrupt the wait
			}
		}
	}
}

// Run makes rounds of cold starts. A round starts every function twice, once with a
// warm page cache and once after evicting its binary, each time right beside a start
// of its floor (before it in one round, after it in the next), in an order shuffled
// per round with a fixed seed; the hello-world floor starts once per pass at a random
// place. The machine is shared: a function and the floor it is compared with are so
// measured at the same moments, and a change in the load weighs on both alike. It
// stops early, saying so, when the deadline comes.
func (h *Harness) Run(rounds int, deadline time.Time) (done int, err error) {
	rng := rand.New(rand.NewPCG(11, 2))
	byName := map[string]*Target{}
	var units []*Target // the functions, and the floors no function is judged against
	used := map[string]bool{}
	for _, t := range h.Targets {
		byName[t.Name] = t
		used[t.Floor] = true
	}
	for _, t := range h.Targets {
		if !t.IsFloor || !used[t.Name] {
			units = append(units, t)
		}
	}
	start := func(t *Target, evict bool) (float64, error) {
		d, err := h.Once(t, evict)
		for a := 1; err != nil && a < maxAttempts; a++ {
			fmt.Fprintf(h.Log, "coldstart: retrying after: %v\n", err)
			h.retries++
			d, err = h.Once(t, evict)
		}
		if err != nil {
			return 0, err
		}
		if evict {
			t.Evicted = append(t.Evicted, d)
		} else {
			t.Warm = append(t.Warm, d)
		}
		return d, nil
	}
	for r := 0; r < rounds; r++ {
		if !deadline.IsZero() && time.Now().After(deadline) {
			fmt.Fprintf(h.Log, "coldstart: stopped after %d of %d rounds: the time is up\n", r, rounds)
			return r, nil
		}
		t0, n := time.Now(), 0
		for _, evict := range []bool{false, true} {
			rng.Shuffle(len(units), func(i, j int) { units[i], units[j] = units[j], units[i] })
			for i, t := range units {
				fl := byName[t.Floor]
				pair := []*Target{t}
				if fl != nil {
					pair = []*Target{fl, t}
					if (r+i)%2 == 1 {
						pair = []*Target{t, fl}
					}
				}
				var fd float64
				for _, p := range pair {
					d, err := start(p, evict)
					if err != nil {
						return r, err
					}
					if p == fl {
						fd = d
					}
					n++
				}
				if fl == nil {
					continue
				}
				if evict {
					t.FloorEvicted = append(t.FloorEvicted, fd)
				} else {
					t.FloorWarm = append(t.FloorWarm, fd)
				}
			}
		}
		fmt.Fprintf(h.Log, "coldstart: round %d/%d: %d starts in %.1f s\n", r+1, rounds, n, time.Since(t0).Seconds())
	}
	return rounds, nil
}

// Quantile is the nearest-rank q-quantile of xs (q=0.5 the median, 0.9 the p90).
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(q*float64(len(s))+0.999999) - 1 // ceil(q·n) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Targets of the issue (#11): a function's median init within InitTarget × its floor's,
// its zip within ZipTarget × its floor's.
const (
	InitTarget = 1.15
	ZipTarget  = 1.3
)

// Row is one line of the report.
type Row struct {
	T *Target
	// Warm page cache: min, median, p90; evicted: median (ms).
	Min, Median, P90, EvMedian float64
	// Ratios to the floor (for a floor, to the DynamoDB-only floor): warm median,
	// evicted median, zip size.
	InitRatio, EvRatio, ZipRatio float64
	Pass                         bool // both targets met
	Extra                        int  // packages linked that the floor does not link
}

// Rows computes the report, floors first, then the functions by init ratio, worst first.
func (h *Harness) Rows() []Row {
	byName := map[string]*Target{}
	for _, t := range h.Targets {
		byName[t.Name] = t
	}
	var floors, fns []Row
	for _, t := range h.Targets {
		r := Row{T: t, Min: Quantile(t.Warm, 0), Median: Quantile(t.Warm, 0.5), P90: Quantile(t.Warm, 0.9), EvMedian: Quantile(t.Evicted, 0.5)}
		// A function is compared with the starts of its floor made beside its own; a
		// floor with all the starts of the DynamoDB-only floor.
		ref, refWarm, refEvicted := byName[t.Floor], t.FloorWarm, t.FloorEvicted
		if t.IsFloor {
			ref = byName["floor-dynamodb"]
			if ref != nil {
				refWarm, refEvicted = ref.Warm, ref.Evicted
			}
		}
		if ref != nil && ref != t {
			r.InitRatio = r.Median / Quantile(refWarm, 0.5)
			r.EvRatio = r.EvMedian / Quantile(refEvicted, 0.5)
			r.ZipRatio = float64(t.ZipSize) / float64(ref.ZipSize)
			for d := range t.Deps {
				if !ref.Deps[d] {
					r.Extra++
				}
			}
		}
		r.Pass = r.InitRatio <= InitTarget && r.ZipRatio <= ZipTarget
		if t.IsFloor {
			floors = append(floors, r)
		} else {
			fns = append(fns, r)
		}
	}
	sort.Slice(floors, func(i, j int) bool { return floors[i].Median < floors[j].Median })
	sort.SliceStable(fns, func(i, j int) bool { return fns[i].InitRatio > fns[j].InitRatio })
	return append(floors, fns...)
}

// Markdown writes the report as the table docs/measurements.md holds.
func Markdown(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| function | floor | zip kB | init min | median | p90 | median, evicted | init ratio | evicted ratio | zip ratio | packages beyond the floor | target |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range rows {
		floor, verdict := r.T.Floor, "meets"
		if !r.Pass {
			verdict = "**misses**"
		}
		if r.T.IsFloor {
			floor, verdict = "(floor)", ""
		}
		ratio := func(x float64) string {
			if x == 0 {
				return ""
			}
			return fmt.Sprintf("%.2f", x)
		}
		extra := ""
		if r.InitRatio != 0 {
			extra = strconv.Itoa(r.Extra)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %s | %s | %s | %s | %s |\n",
			r.T.Name, floor, (r.T.ZipSize+500)/1000, r.Min, r.Median, r.P90, r.EvMedian,
			ratio(r.InitRatio), ratio(r.EvRatio), ratio(r.ZipRatio), extra, verdict)
	}
}
