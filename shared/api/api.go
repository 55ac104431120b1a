// Package api is the HTTP plumbing every operation shares: one middleware that logs,
// meters, authenticates and authorizes; strict JSON bodies; ETags; list queries. An
// operation is a plain http.Handler; Lambda wraps it with the API proxy adapter.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"opsconsole/shared/meter"
	"opsconsole/shared/problem"
	"opsconsole/shared/tree"
)

// defaultLogger writes JSON lines to stdout, where Lambda sends them to CloudWatch.
var defaultLogger = slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: logLevel()}))

type loggerKey struct{}

// WithLogger returns ctx carrying l, the logger of everything logged while serving
// ctx: the local runtime passes its own (to a file, to a test's meter), so that no
// test reassigns a global. A Lambda function passes none and logs to stdout.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	if l == nil {
		return ctx
	}
	return context.WithValue(ctx, loggerKey{}, l)
}

// Log is the logger ctx carries (WithLogger), or the default one: JSON lines to
// stdout, at the level LOG_LEVEL names (Info when unset).
func Log(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return defaultLogger
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Lambda adapts an http.Handler to an HTTP API function. ProxyWithContext (never
// Proxy) takes the request context from the Lambda event, where a client cannot forge
// it through a header.
//
// Two repairs come before the adapter sees the event:
//   - HTTP APIs deliver rawPath (and requestContext.http.path) percent-decoded: a
//     request for /v1/end-users/%01/deactivate arrives as a path holding the byte 0x01.
//     The adapter pastes rawPath into a URL and parses it, which fails on a control
//     character ("invalid control character in URL"), and misreads a decoded '%', '?'
//     or '#'. Escaping the path first gives the handler exactly the decoded path
//     again, so its routes answer 404 or 400 like for any other unknown id.
//   - The adapter splits every header on commas into several values; the handler
//     would then read only the first (If-Match: ",x" looked absent). Each header is put
//     back as the one comma-joined value API Gateway sent (see restoreHeaders).
func Lambda(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	proxy := httpadapter.NewV2(restoreHeaders(h)).ProxyWithContext
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		path := ev.RawPath
		if path == "" {
			path = ev.RequestContext.HTTP.Path
		}
		ev.RawPath = EscapeDecodedPath(path)
		return proxy(context.WithValue(ctx, rawHeadersKey{}, ev.Headers), ev)
	}
}

// EscapeDecodedPath percent-encodes a decoded request path so that parsing it as a URL
// gives back the same path: every byte that may not stand literally in a path segment
// (controls, space, '%', '?', '#', non-ASCII, ...) is escaped; '/' separates segments.
func EscapeDecodedPath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

type rawHeadersKey struct{}

// restoreHeaders gives each request header the single value of the event's headers
// map (API Gateway joins repeated headers with commas), undoing the adapter's split.
func restoreHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if raw, ok := r.Context().Value(rawHeadersKey{}).(map[string]string); ok {
			for k, v := range raw {
				ck := textproto.CanonicalMIMEHeaderKey(k)
				if _, present := r.Header[ck]; present {
					r.Header[ck] = []string{v}
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Meta is what API Gateway tells about a request.
type Meta struct {
	RequestID string
	SourceIP  string
	UserAgent string
	Claims    map[string]string
}

// MetaOf reads the API Gateway request context attached by the proxy adapter.
func MetaOf(r *http.Request) Meta {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok {
		return Meta{UserAgent: r.UserAgent()}
	}
	m := Meta{RequestID: rc.RequestID, SourceIP: rc.HTTP.SourceIP, UserAgent: rc.HTTP.UserAgent}
	if rc.Authorizer != nil && rc.Authorizer.JWT != nil {
		m.Claims = rc.Authorizer.JWT.Claims
	}
	return m
}

// Handler is an operation's body: it writes its answer, or returns an error that the
// middleware answers as problem+json.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Target loads the node an operation acts on, with the thing itself, from the request.
// It returns a NotFound problem when there is no such thing.
type Target func(r *http.Request) (node tree.Node, thing any, err error)

// Callers loads the signed-in console user from the token's subject.
type Callers interface {
	Caller(ctx context.Context, userID string) (tree.Caller, error)
}

// HeaderImpersonation names the login-as session (shared/impersonation) a request acts
// through: the signed-in user keeps their own token and adds this header.
const HeaderImpersonation = "X-Impersonation-Id"

// ActingCallers are Callers that also resolve login-as sessions. CallerActingAs loads
// the signed-in user (as Caller does) and the session sessionID, and returns the
// effective caller: the session's target, with Impersonator set to the real user.
// A session that is not the user's, has ended or expired, or whose target left the
// user's subtree is a *problem.Problem (impersonation-ended); the real caller's own
// refusals are ErrNoCaller and ErrBranchSuspended, as from Caller. It also returns the
// real caller, whose sign-out and MFA state the guard checks.
type ActingCallers interface {
	Callers
	CallerActingAs(ctx context.Context, userID, sessionID string) (real, acting tree.Caller, err error)
}

// ValidSessionID tells whether a login-as session id is well formed ("imp_" and 26
// lower-case ULID characters); anything else in X-Impersonation-Id is a 400 without a read.
func ValidSessionID(id string) bool {
	if len(id) != 30 || !strings.HasPrefix(id, "imp_") {
		return false
	}
	for _, c := range id[4:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// ErrNoCaller is what Callers returns for a subject with no active console account.
var ErrNoCaller = errors.New("no active console user")

// ErrBranchSuspended is what Callers returns for a user below a suspended or
// deactivated node.
var ErrBranchSuspended = errors.New("the caller's branch is suspended")

// Operation is one route's handler with what the middleware needs to guard it.
type Operation struct {
	// ID names the operation in the policy table. Empty for public operations.
	ID tree.Operation
	// Method and Path are the route as template.yaml writes it (/v1/things/{id}).
	Method, Path string
	// Kind names the resource in 404 answers.
	Kind string
	// Target loads the node acted on; nil for operations on no particular node,
	// whose role check then happens before Handle.
	Target  Target
	Callers Callers
	Handle  Handler
	// BeforeMFAEnrolment opens the operation to a user whose organization requires
	// MFA and who has not enrolled yet (their profile and the enrolment itself); every
	// other protected operation answers them 403 mfa-enrolment-required.
	BeforeMFAEnrolment bool
	// TokenOnly operations need a token that API Gateway accepted, and nothing more:
	// no console account is loaded and no policy applies (sign-out, which must work
	// for a blocked or removed user too). The handler reads the subject from the claims.
	TokenOnly bool
	// AsSignedInUser operations ignore X-Impersonation-Id and always act for the signed-in user
	// (their own profile and MFA, login-as's own routes); every other protected
	// operation, when the header is present, acts as the login-as session's target.
	AsSignedInUser bool
	// NodeLimit, for an expensive operation, is its allowance per node, counted once
	// the guard has passed (see NodeLimit); nil for every other operation.
	NodeLimit *NodeLimit
}

type ctxKey int

const (
	callerKey ctxKey = iota
	targetKey
	targetNodeKey
)

// CallerOf returns the authenticated caller of a protected operation.
func CallerOf(ctx context.Context) tree.Caller {
	c, _ := ctx.Value(callerKey).(tree.Caller)
	return c
}

// WithCaller returns ctx acting as c: what the middleware does for a signed-in
// request, for work that starts outside the HTTP API (the first admin's invitation
// made by the CloudFormation custom resource, shared/firstadmin).
func WithCaller(ctx context.Context, c tree.Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

// TargetOf returns what the operation's Target loaded.
func TargetOf(ctx context.Context) any { return ctx.Value(targetKey) }

// Serve builds the http.Handler of one or more operations (normally one per function).
func Serve(ops ...Operation) http.Handler {
	mux := http.NewServeMux()
	for _, op := range ops {
		mux.Handle(pattern(op.Method, op.Path), op)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.NotFound("route"))
	})
	return mux
}

// pattern turns a template route into a ServeMux pattern: {proxy+} becomes {proxy...}.
func pattern(method, path string) string {
	return method + " " + strings.ReplaceAll(path, "+}", "...}")
}

// ServeHTTP runs the operation inside the middleware.
func (op Operation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	meta := MetaOf(r)
	ctx, cost := meter.With(r.Context())
	rec := &statusRecorder{ResponseWriter: w}
	var actor string
	defer func() {
		if v := recover(); v != nil {
			Log(ctx).ErrorContext(ctx, "panic", "panic", v, "requestId", meta.RequestID)
			if rec.status == 0 {
				problem.Write(rec, r, problem.Internal())
			}
		}
		read, write := cost.Units()
		Log(ctx).InfoContext(ctx, "request",
			"requestId", meta.RequestID, "route", op.Method+" "+op.Path, "operation", string(op.ID),
			"actor", actor, "status", rec.status, "latencyMs", time.Since(start).Milliseconds(),
			"dynamodbCalls", cost.RoundTrips(), "dynamodbSequential", cost.Sequential(), "readUnits", read, "writeUnits", write)
	}()
	r = r.WithContext(ctx)
	if err := op.guard(r, &actor); err != nil {
		fail(rec, r, meta, err)
		return
	}
	if err := op.NodeLimit.Charge(rec, r); err != nil {
		fail(rec, r, meta, err)
		return
	}
	if err := op.Handle(rec, r); err != nil {
		fail(rec, r, meta, err)
	}
}

// fail answers err unless an answer was already written, logging any error that is
// not a Problem: its text is for us, never for the client. Transient errors (DynamoDB
// throttling or failing past the SDK's retries) are answered 503 with Retry-After by
// problem.Write and logged as warnings: they are expected now and then, not bugs.
func fail(rec *statusRecorder, r *http.Request, meta Meta, err error) {
	var p *problem.Problem
	switch {
	case errors.As(err, &p):
	case problem.Transient(err):
		Log(r.Context()).WarnContext(r.Context(), "dependency unavailable", "requestId", meta.RequestID, "error", err.Error())
	default:
		Log(r.Context()).ErrorContext(r.Context(), "unexpected error", "requestId", meta.RequestID, "error", err.Error())
	}
	if rec.status == 0 {
		problem.Write(rec, r, err)
	}
}

// guard authenticates and authorizes; on success it leaves the caller and the target
// in r's context.
func (op *Operation) guard(r *http.Request, actor *string) error {
	if op.ID == "" {
		return nil
	}
	claims := MetaOf(r).Claims
	sub := claims["sub"]
	if op.TokenOnly && sub != "" {
		*actor = sub
		return nil
	}
	if sub == "" || op.Callers == nil {
		return problem.Unauthenticated("the token carries no subject")
	}
	// With X-Impersonation-Id, the caller is the login-as session's target, found by one more
	// strongly consistent GetItem (and one BatchGetItem of the target's nodes below
	// the real user's), in parallel with the real user's reads (shared/impersonation).
	var caller, acting tree.Caller
	var err error
	actAs := r.Header.Get(HeaderImpersonation)
	if _, present := r.Header[http.CanonicalHeaderKey(HeaderImpersonation)]; present && !op.AsSignedInUser {
		ac, ok := op.Callers.(ActingCallers)
		if !ValidSessionID(actAs) || !ok {
			return problem.Invalid("the X-Impersonation-Id header is invalid",
				problem.Field(HeaderImpersonation, "must be the id of a login-as session (imp_…), as POST /v1/impersonations answered"))
		}
		caller, acting, err = ac.CallerActingAs(r.Context(), sub, actAs)
	} else {
		caller, err = op.Callers.Caller(r.Context(), sub)
	}
	if errors.Is(err, ErrNoCaller) {
		return problem.NoConsoleAccess()
	}
	if errors.Is(err, ErrBranchSuspended) {
		return problem.BranchSuspended()
	}
	if err != nil {
		return err
	}
	if caller.SignedOutAt > 0 && issuedAt(claims) < caller.SignedOutAt {
		// API Gateway checks tokens offline, so a token revoked by a sign-out still
		// reaches us until it expires; its user item remembers the sign-out.
		return problem.Unauthenticated("the token was revoked by a sign-out; sign in again")
	}
	if caller.MFARequired && !caller.MFAEnrolled && !op.BeforeMFAEnrolment {
		return problem.MFAEnrolmentRequired()
	}
	*actor = caller.UserID
	if acting.Impersonator != nil {
		caller = acting
	}
	ctx := context.WithValue(r.Context(), callerKey, caller)
	var node *tree.Node
	if op.Target != nil {
		// A target may be named in the body (the parent of a new thing), so the body is
		// buffered: the target loader and the handler each read a full copy.
		raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
		if err != nil {
			return problem.MalformedJSON("the body could not be read")
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		tr := r.WithContext(ctx)
		tr.Body = io.NopCloser(bytes.NewReader(raw))
		n, thing, err := op.Target(tr)
		if err != nil {
			return err
		}
		node = &n
		ctx = context.WithValue(ctx, targetKey, thing)
		ctx = context.WithValue(ctx, targetNodeKey, n)
	}
	switch err := tree.Allow(op.ID, caller, node); {
	case errors.Is(err, tree.ErrOutsideBranch):
		// Named after the node refused (the parent, for a create or a list), so that
		// the answer reads exactly like the one for a missing node of that kind.
		return problem.NotFound(string(node.Kind))
	case errors.Is(err, tree.ErrRoleTooLow):
		return problem.Forbidden("your role may not " + string(op.ID))
	case err != nil:
		return err
	}
	*r = *r.WithContext(ctx)
	return nil
}

// issuedAt is the token's iat claim (Unix seconds); 0 when absent or unreadable,
// which counts as issued before any sign-out.
func issuedAt(claims map[string]string) int64 {
	iat, err := strconv.ParseFloat(claims["iat"], 64)
	if err != nil {
		return 0
	}
	return int64(iat)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
