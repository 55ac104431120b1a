package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"opsconsole/infra/gateway"
	"opsconsole/infra/streams"
	"opsconsole/infra/template"
	"opsconsole/shared/api"
	"opsconsole/shared/lambdas"
)

// Options configure Start. The zero value runs the default stack on free ports.
type Options struct {
	// Root is the repo root; "" finds it from the working directory.
	Root string
	// Template is the SAM template; "" means template.yaml under Root.
	Template string
	// StackName names the resources (<stack>-<LogicalId>); "" means DefaultStackName.
	StackName string
	// Parameters override the template parameters' defaults.
	Parameters map[string]string

	// Ports; 0 picks a free one.
	APIPort      int
	DynamoDBPort int
	MotoPort     int
	SMTPPort     int
	MailPort     int

	// Seed runs after the resources exist and their environment is set (os.Setenv),
	// before the API serves: it is where the platform admin is created. env is
	// Resources.Env.
	Seed func(ctx context.Context, env map[string]string) error

	// Logger receives the gateway's access log, the stream pollers' and the
	// bootstrap's messages; nil logs JSON to stderr at Info.
	Logger *slog.Logger
	// StartTimeout bounds each service's start; 0 means 60 s.
	StartTimeout time.Duration

	// Env replaces template environment variables of every function (locally all
	// share the process environment), such as AUDIT_DIGEST_PERIOD for a period of
	// seconds instead of the template's hour.
	Env map[string]string

	// Faults are the DynamoDB faults injected once the system serves (after Seed);
	// with a zero Rate they come from DDB_FAULT_RATE and DDB_FAULT_SEED
	// (FaultsFromEnv). Services.SetFaults changes them while it runs.
	Faults Faults
}

// System is the running local system.
type System struct {
	// APIURL is the local HTTP API (API Gateway) base URL, DocsURL its Swagger UI
	// and OpenAPIURL its OpenAPI document.
	APIURL     string
	DocsURL    string
	OpenAPIURL string
	// MailURL is the mail web UI (maildev); its REST API is under MailURL+"/api".
	MailURL string

	Services  *Services
	Resources *Resources
	Template  *template.Template
	// Took is how long Start took.
	Took time.Duration

	server   *http.Server
	cancel   context.CancelFunc
	pollers  sync.WaitGroup
	prevEnv  map[string]*string
	stopOnce sync.Once
	stopErr  error
	log      *slog.Logger

	mu       sync.Mutex
	errs     []error
	handlers map[string]lambdas.Function
	// queueStats are the SQS mappings' counters, by queue logical id (set in Start).
	queueStats map[string]*QueueStats
}

// QueueStats are the counters of the SQS mapping of each queue, by the queue's
// logical id: receives, messages, invocations, DeleteMessageBatch calls.
func (s *System) QueueStats() map[string]QueueCounts {
	out := make(map[string]QueueCounts, len(s.queueStats))
	for id, st := range s.queueStats {
		out[id] = st.Counts()
	}
	return out
}

// running guards the process environment: one System at a time per process.
var running sync.Mutex

var errRunning = errors.New("local: a System is already running in this process (the process environment is its configuration)")

// Start starts the services, creates the template's resources, sets the
// functions' environment in this process, runs opts.Seed, then serves the HTTP API
// and polls the table streams for their consumers. Stop ends it all; on error
// nothing is left running.
func Start(ctx context.Context, opts Options) (_ *System, err error) {
	began := time.Now()
	if !running.TryLock() {
		return nil, errRunning
	}
	s := &System{log: opts.Logger, handlers: map[string]lambdas.Function{}, queueStats: map[string]*QueueStats{}}
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	// On error, Stop undoes what was done and releases running.
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	root := opts.Root
	if root == "" {
		if root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	tplPath := opts.Template
	if tplPath == "" {
		tplPath = filepath.Join(root, "template.yaml")
	}
	if s.Template, err = template.Load(tplPath); err != nil {
		return nil, err
	}
	routes, err := s.Template.Routes()
	if err != nil {
		return nil, err
	}
	mappings, err := s.Template.StreamMappings()
	if err != nil {
		return nil, err
	}
	queueMappings, err := s.Template.QueueMappings()
	if err != nil {
		return nil, err
	}
	scheduleMappings, err := s.Template.ScheduleMappings()
	if err != nil {
		return nil, err
	}
	if missing := unbuildable(s.Template); len(missing) > 0 {
		s.log.Warn("template functions with no handler in shared/lambdas; their routes answer 500", "functions", missing)
	}

	s.Services, err = StartServices(ctx, ServiceOptions{
		Root: root, DynamoDBPort: opts.DynamoDBPort, MotoPort: opts.MotoPort,
		SMTPPort: opts.SMTPPort, MailPort: opts.MailPort, StartTimeout: opts.StartTimeout,
	})
	if err != nil {
		return nil, err
	}
	s.MailURL = s.Services.MailURL
	s.Resources, err = Bootstrap(ctx, s.Template, s.Services.Endpoints(), BootstrapOptions{
		StackName: opts.StackName, Parameters: opts.Parameters, Logger: s.log,
	})
	if err != nil {
		return nil, err
	}
	for k, v := range opts.Env {
		s.Resources.Env[k] = v
		for _, env := range s.Resources.FunctionEnv {
			if _, ok := env[k]; ok {
				env[k] = v
			}
		}
	}
	s.setEnv(s.Resources.Env)
	if opts.Seed != nil {
		if err := opts.Seed(ctx, s.Resources.Env); err != nil {
			return nil, fmt.Errorf("local: seed: %w", err)
		}
	}
	// Faults begin after the bootstrap and the seed, which are not under test.
	faults := opts.Faults
	if faults.Rate == 0 {
		if faults, err = FaultsFromEnv(); err != nil {
			return nil, err
		}
	}
	if faults.Rate > 0 {
		s.log.Warn("DynamoDB faults injected", "rate", faults.Rate, "seed", faults.Seed)
	}
	s.Services.SetFaults(faults)

	// HTTP API.
	gwRoutes := make([]gateway.Route, 0, len(routes))
	for _, r := range routes {
		gwRoutes = append(gwRoutes, gateway.Route{
			Method: r.Method, Path: r.Path, Function: r.Function, Public: r.Public,
			Timeout: time.Duration(r.Timeout) * time.Second, AuthorizationScopes: r.AuthorizationScopes,
		})
	}
	handler, err := gateway.New(gwRoutes, gateway.Authorizer{
		Issuer: s.Resources.Issuer, Audience: s.Resources.Audience, JWKSURL: s.Resources.JWKSURL,
	}, s.httpHandler, s.log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(opts.APIPort)))
	if err != nil {
		return nil, fmt.Errorf("local: API port: %w", err)
	}
	s.APIURL = "http://" + ln.Addr().String()
	s.DocsURL = s.APIURL + "/docs"
	s.OpenAPIURL = s.APIURL + "/openapi.json"
	s.server = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("local: API server: %w", err))
		}
	}()

	// Stream pollers.
	pollCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	cfg := AWSConfig()
	streamsClient := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(s.Services.DynamoDBURL)
	})
	sqsClient := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.Services.MotoURL) })
	for _, m := range mappings {
		sm, err := s.streamMapping(m)
		if err != nil {
			return nil, err
		}
		if !m.Enabled {
			s.log.Info("stream mapping disabled in the template", "function", m.Function, "event", m.Event)
			continue
		}
		fn := m.Function
		s.pollers.Add(1)
		go func() {
			defer s.pollers.Done()
			if err := streams.Run(pollCtx, streamsClient, sqsClient, sm, s.streamHandler(fn), s.log); err != nil {
				s.log.Error("stream poller stopped", "function", fn, "error", err)
				s.fail(fmt.Errorf("local: stream poller of %s: %w", fn, err))
			}
		}()
	}
	// SQS event source mappings (queues.go).
	for _, m := range queueMappings {
		q, ok := s.Resources.Queues[m.Queue]
		if !ok {
			return nil, fmt.Errorf("local: %s %s: Queue %s is not an SQS queue of the template", m.FunctionLogicalID, m.Event, m.Queue)
		}
		if !m.Enabled {
			s.log.Info("queue mapping disabled in the template", "function", m.Function, "event", m.Event)
			continue
		}
		stats := &QueueStats{}
		s.queueStats[m.Queue] = stats
		for range pollersPerMapping {
			s.pollers.Add(1)
			go func() {
				defer s.pollers.Done()
				pollQueue(pollCtx, sqsClient, q, m, s.queueHandler(m.Function), stats, s.log)
			}()
		}
	}
	// Schedules (schedules.go).
	for _, m := range scheduleMappings {
		every, err := scheduleInterval(m, s.Resources.Env)
		if err != nil {
			return nil, err
		}
		switch {
		case !m.Enabled:
			s.log.Info("schedule disabled in the template", "function", m.Function, "event", m.Event)
			continue
		case every == 0:
			s.log.Warn("schedule not played locally (cron expression)", "function", m.Function, "event", m.Event, "schedule", m.Expression)
			continue
		}
		s.pollers.Add(1)
		go func() {
			defer s.pollers.Done()
			playSchedule(pollCtx, m, every, s.scheduleHandler(m.Function), s.log)
		}()
	}
	s.Took = time.Since(began)
	return s, nil
}

func (s *System) scheduleHandler(name string) lambdas.ScheduleHandler {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		f, err := s.function(name)
		if err != nil {
			return err
		}
		if f.Schedule == nil {
			return fmt.Errorf("local: function %s is not a scheduled function", name)
		}
		return f.Schedule(api.WithLogger(ctx, s.log), ev)
	}
}

// unbuildable lists the template's functions that lambdas cannot build.
func unbuildable(tpl *template.Template) []string {
	fns, err := tpl.Functions()
	if err != nil {
		return nil
	}
	known := map[string]bool{}
	for _, n := range lambdas.Names() {
		known[n] = true
	}
	var out []string
	for _, f := range fns {
		if !known[f.Name] {
			out = append(out, f.Name)
		}
	}
	return out
}

// streamMapping turns a template stream event into the poller's mapping.
func (s *System) streamMapping(m template.StreamMapping) (streams.Mapping, error) {
	arn := ""
	if t, ok := s.Resources.Tables[m.StreamResource]; ok {
		arn = t.StreamARN
	} else {
		v, err := (template.Resolver{Ref: func(string) (any, error) { return nil, errors.New("unsupported") },
			GetAtt: func(res, att string) (any, error) {
				if t, ok := s.Resources.Tables[res]; ok && att == "StreamArn" {
					return t.StreamARN, nil
				}
				return nil, fmt.Errorf("%s.%s is not a table stream", res, att)
			}}).ResolveString(m.Stream)
		if err != nil {
			return streams.Mapping{}, fmt.Errorf("local: %s %s: Stream: %w", m.FunctionLogicalID, m.Event, err)
		}
		arn = v
	}
	if arn == "" {
		return streams.Mapping{}, fmt.Errorf("local: %s %s: the table has no stream (StreamSpecification)", m.FunctionLogicalID, m.Event)
	}
	out := streams.Mapping{
		Function: m.Function, StreamARN: arn,
		BatchSize:               m.BatchSize,
		MaxBatchingWindow:       time.Duration(m.MaximumBatchingWindowInSeconds) * time.Second,
		ReportBatchItemFailures: m.ReportsBatchItemFailures(),
		BisectOnError:           m.BisectBatchOnFunctionError,
		MaxRetryAttempts:        m.MaximumRetryAttempts,
		StartingPosition:        m.StartingPosition,
		FilterPatterns:          m.FilterPatterns,
		Timeout:                 time.Duration(m.Timeout) * time.Second,
	}
	if m.MaximumRecordAgeInSeconds > 0 {
		out.MaxRecordAge = time.Duration(m.MaximumRecordAgeInSeconds) * time.Second
	}
	if m.OnFailureDestination != "" {
		if m.OnFailureType != "" && m.OnFailureType != "SQS" {
			return out, fmt.Errorf("local: %s %s: on-failure destination type %s is not supported locally", m.FunctionLogicalID, m.Event, m.OnFailureType)
		}
		q, ok := s.Resources.Queues[m.OnFailureDestination]
		if !ok {
			return out, fmt.Errorf("local: %s %s: on-failure destination %s is not an SQS queue of the template", m.FunctionLogicalID, m.Event, m.OnFailureDestination)
		}
		out.OnFailureQueueURL = q.URL
	}
	return out, nil
}

// function builds a function's handler once, on first use (after the environment
// is set); a failed build is tried again on the next use.
func (s *System) function(name string) (lambdas.Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.handlers[name]; ok {
		return f, nil
	}
	f, err := lambdas.Build(context.Background(), name)
	if err != nil {
		return f, err
	}
	s.handlers[name] = f
	return f, nil
}

func (s *System) httpHandler(name string) (lambdas.HTTPHandler, error) {
	f, err := s.function(name)
	if err != nil {
		return nil, err
	}
	if f.HTTP == nil {
		return nil, fmt.Errorf("local: function %s is not an HTTP function", name)
	}
	// The functions log through the system's logger (Options.Logger), as a Lambda
	// function logs to its own stdout.
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return f.HTTP(api.WithLogger(ctx, s.log), ev)
	}, nil
}

func (s *System) streamHandler(name string) lambdas.StreamHandler {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		f, err := s.function(name)
		if err != nil {
			return events.DynamoDBEventResponse{}, err
		}
		if f.Stream == nil {
			return events.DynamoDBEventResponse{}, fmt.Errorf("local: function %s is not a stream consumer", name)
		}
		return f.Stream(api.WithLogger(ctx, s.log), ev)
	}
}

func (s *System) queueHandler(name string) lambdas.SQSHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		f, err := s.function(name)
		if err != nil {
			return events.SQSEventResponse{}, err
		}
		if f.SQS == nil {
			return events.SQSEventResponse{}, fmt.Errorf("local: function %s is not an SQS consumer", name)
		}
		return f.SQS(api.WithLogger(ctx, s.log), ev)
	}
}

func (s *System) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// setEnv sets the functions' environment, remembering what it replaces.
func (s *System) setEnv(env map[string]string) {
	s.prevEnv = map[string]*string{}
	remember := func(k string) {
		if _, done := s.prevEnv[k]; done {
			return
		}
		if v, ok := os.LookupEnv(k); ok {
			s.prevEnv[k] = &v
		} else {
			s.prevEnv[k] = nil
		}
	}
	for _, k := range UnsetEnv {
		remember(k)
		os.Unsetenv(k)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		remember(k)
		os.Setenv(k, env[k])
	}
}

func (s *System) restoreEnv() {
	for k, v := range s.prevEnv {
		if v == nil {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, *v)
		}
	}
	s.prevEnv = nil
}

// Stop stops serving, ends the pollers and the services, and restores the process
// environment. It returns the errors the API server or the pollers met while
// running. It is safe to call more than once.
func (s *System) Stop() error {
	s.stopOnce.Do(func() {
		defer running.Unlock()
		var errs []error
		if s.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.server.Shutdown(ctx); err != nil {
				s.server.Close()
			}
			cancel()
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.pollers.Wait()
		if s.Services != nil {
			errs = append(errs, s.Services.Stop())
		}
		s.restoreEnv()
		s.mu.Lock()
		errs = append(errs, s.errs...)
		s.mu.Unlock()
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
