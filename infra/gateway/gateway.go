// Package gateway plays API Gateway's HTTP API in front of the Lambda handlers when
// running locally: it matches routes like HTTP API, checks the Cognito JWT like the
// HTTP API JWT authorizer, builds the payload format 2.0 event
// (events.APIGatewayV2HTTPRequest) API Gateway would send, invokes the function's
// real handler the way the Lambda runtime does, and turns its response into HTTP like
// API Gateway.
//
// Where it knowingly differs from AWS:
//   - No CORS, throttling, custom domains, stage variables, $default route, Lambda or
//     IAM authorizers, or response parameter mapping.
//   - A handler that overruns its timeout is answered with a 500 at the deadline, but
//     its goroutine cannot be killed as Lambda kills the sandbox; it runs to its end.
//   - Each function runs its invocations concurrently in one process (Lambda would use
//     one sandbox per concurrent request), so package-level state is shared.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"opsconsole/shared/lambdas"
)

// Route is one HttpApi event of a function in template.yaml.
type Route struct {
	Method   string // GET, POST, ... or ANY
	Path     string // like /v1/distributors/{id} or /docs/{proxy+}
	Function string // the function name handed to lookup
	Public   bool   // Auth: { Authorizer: NONE }

	// Timeout is the function's timeout (template Timeout); 0 means 10 s, the
	// template's Globals default.
	Timeout time.Duration
	// AuthorizationScopes, when set, makes the JWT authorizer demand one of them in the
	// token's scope/scp claim (403 otherwise), as the route's AuthorizationScopes do.
	AuthorizationScopes []string
}

// Authorizer is the HTTP API's JWT authorizer configuration. JWKSURL is separate
// from Issuer because locally the keys are not served at "<issuer>/.well-known/jwks.json"
// (moto serves them at its own endpoint while its tokens carry the AWS issuer).
type Authorizer struct {
	Issuer   string
	Audience []string
	JWKSURL  string
}

const (
	// API Gateway's HTTP API payload limit ("Payload size: 10 MB", HTTP API quotas).
	maxRequestBody = 10 << 20
	// Lambda's limit for a synchronous invocation's request and response (6 MB).
	maxInvokePayload = 6 << 20
	defaultTimeout   = 10 * time.Second
	// timeFormat is requestContext.time, e.g. "12/Mar/2020:19:03:58 +0000".
	timeFormat = "02/Jan/2006:15:04:05 -0700"
)

type gateway struct {
	router *router
	auth   *jwtAuthorizer
	lookup func(function string) (lambdas.HTTPHandler, error)
	logger *slog.Logger

	region, account string

	mu        sync.Mutex
	functions map[string]*function
}

// function is one function's handler, built on its first request.
type function struct {
	mu sync.Mutex // held while building, so one function's cold start does not block others
	h  lambdas.HTTPHandler
}

// New returns the HTTP API. lookup builds a function's handler; it is called on the
// first request for that function (a cold start) and its handler reused after, and
// called again on a later request if it failed. A nil logger logs JSON to stderr.
func New(routes []Route, auth Authorizer, lookup func(function string) (lambdas.HTTPHandler, error), logger *slog.Logger) (http.Handler, error) {
	if lookup == nil {
		return nil, errors.New("gateway: nil lookup")
	}
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	rt, err := newRouter(routes)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g := &gateway{
		router:    rt,
		lookup:    lookup,
		logger:    logger,
		region:    firstEnv("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION"),
		account:   firstEnv("123456789012", "AWS_ACCOUNT_ID"),
		functions: map[string]*function{},
	}
	needAuth := false
	for _, r := range rt.routes {
		needAuth = needAuth || !r.Public
	}
	if needAuth {
		if g.auth, err = newJWTAuthorizer(auth, logger); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func firstEnv(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}

// outcome is what the access log line reports.
type outcome struct {
	status   int
	route    string
	function string
	reason   string
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newAPIGWRequestID()
	w.Header().Set("Apigw-Requestid", reqID)
	out := g.serve(w, r, reqID, start)

	attrs := []any{
		"method", r.Method,
		"path", r.URL.Path,
		"route", out.route,
		"function", out.function,
		"status", out.status,
		"latency_ms", float64(time.Since(start).Microseconds()) / 1000,
		"request_id", reqID,
	}
	if out.reason != "" {
		attrs = append(attrs, "reason", out.reason)
	}
	g.logger.Info("http request", attrs...)
}

func (g *gateway) serve(w http.ResponseWriter, r *http.Request, reqID string, start time.Time) outcome {
	// The payload limit applies before anything else looks at the request.
	if r.ContentLength > maxRequestBody {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return outcome{status: http.StatusRequestEntityTooLarge, reason: "body over 10 MB"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return outcome{status: http.StatusBadRequest, reason: "reading body: " + err.Error()}
	}
	if len(body) > maxRequestBody {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return outcome{status: http.StatusRequestEntityTooLarge, reason: "body over 10 MB"}
	}

	route, params := g.router.find(r.Method, r.URL.Path)
	if route == nil {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return outcome{status: http.StatusNotFound, reason: "no route"}
	}
	out := outcome{route: route.routeKey, function: route.Function}

	var authz *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
	if !route.Public {
		jwtDesc, fail := g.auth.authorize(r.Context(), r.Header.Get("Authorization"), route.AuthorizationScopes)
		if fail != nil {
			w.Header().Set("Www-Authenticate", fail.challenge)
			msg := "Unauthorized"
			if fail.status == http.StatusForbidden {
				msg = "Forbidden"
			}
			writeMessage(w, fail.status, msg)
			out.status, out.reason = fail.status, fail.reason
			return out
		}
		authz = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: jwtDesc}
	}

	ev := g.buildEvent(r, body, route, params, reqID, start, authz)

	// The event reaches the handler as JSON decoded by the Lambda runtime, so the
	// handler sees exactly what it would see in AWS (nil vs empty maps and all).
	payload, err := json.Marshal(ev)
	if err == nil && len(payload) > maxInvokePayload {
		err = fmt.Errorf("request payload is %d bytes, over Lambda's 6 MB invocation limit", len(payload))
	}
	if err == nil {
		ev = events.APIGatewayV2HTTPRequest{}
		err = json.Unmarshal(payload, &ev)
	}
	if err != nil {
		return g.internalError(w, out, err)
	}

	handler, err := g.handler(route.Function)
	if err != nil {
		return g.internalError(w, out, fmt.Errorf("building function %s: %w", route.Function, err))
	}
	timeout := route.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	resp, err := g.invoke(handler, route.Function, timeout, ev)
	if err != nil {
		return g.internalError(w, out, err)
	}
	if b, err := json.Marshal(resp); err == nil && len(b) > maxInvokePayload {
		return g.internalError(w, out, fmt.Errorf("response payload is %d bytes, over Lambda's 6 MB limit", len(b)))
	}
	if err := g.writeResponse(w, route, resp); err != nil {
		return g.internalError(w, out, err)
	}
	out.status = resp.StatusCode
	return out
}

func (g *gateway) internalError(w http.ResponseWriter, out outcome, err error) outcome {
	g.logger.Error("integration failed", "route", out.route, "function", out.function, "error", err.Error())
	writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	out.status, out.reason = http.StatusInternalServerError, err.Error()
	return out
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(b)
}

func (g *gateway) handler(name string) (lambdas.HTTPHandler, error) {
	g.mu.Lock()
	fn := g.functions[name]
	if fn == nil {
		fn = &function{}
		g.functions[name] = fn
	}
	g.mu.Unlock()

	fn.mu.Lock()
	defer fn.mu.Unlock()
	if fn.h != nil {
		return fn.h, nil
	}
	h, err := g.lookup(name)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("lookup returned a nil handler")
	}
	fn.h = h
	return h, nil
}

// invoke runs the handler like the Lambda runtime: a context with the invocation's
// LambdaContext and deadline, a panic turned into a function error, and a timeout
// that ends the invocation ("Task timed out").
func (g *gateway) invoke(h lambdas.HTTPHandler, function string, timeout time.Duration, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       newUUID(),
		InvokedFunctionArn: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", g.region, g.account, function),
	})
	type result struct {
		resp events.APIGatewayV2HTTPResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("handler panic: %v\n%s", p, debug.Stack())}
			}
		}()
		resp, err := h(ctx, ev)
		done <- result{resp, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return res.resp, fmt.Errorf("function error: %w", res.err)
		}
		return res.resp, nil
	case <-ctx.Done():
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("Task timed out after %.2f seconds", timeout.Seconds())
	}
}

// writeResponse sends a payload format 2.0 response the way API Gateway does:
//   - statusCode must be a valid HTTP status. aws-lambda-go always serialises
//     statusCode, so a handler that leaves it 0 sends "statusCode":0, which is not the
//     "no statusCode" case API Gateway infers a 200 for; it is answered with 500.
//   - headers are sent; cookies become one Set-Cookie each (before any Set-Cookie in
//     headers). multiValueHeaders is not part of format 2.0 and API Gateway ignores
//     it; so does this, with a warning in the log.
//   - a body with isBase64Encoded is decoded first.
//   - with no content-type, API Gateway's default of application/json is sent.
func (g *gateway) writeResponse(w http.ResponseWriter, route *compiledRoute, resp events.APIGatewayV2HTTPResponse) error {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("malformed Lambda proxy response: statusCode %d", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("malformed Lambda proxy response: isBase64Encoded body: %w", err)
		}
	}
	if len(resp.MultiValueHeaders) > 0 {
		g.logger.Warn("multiValueHeaders ignored: payload format 2.0 has none; use headers (comma-joined) or cookies",
			"route", route.routeKey, "function", route.Function)
	}
	h := w.Header()
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	hasType := false
	for k, v := range resp.Headers {
		switch strings.ToLower(k) {
		case "content-length", "transfer-encoding", "connection":
			continue // framing is the server's business
		case "content-type":
			hasType = true
		case "set-cookie":
			h.Add("Set-Cookie", v)
			continue
		}
		h.Set(k, v)
	}
	if !hasType {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}

func (g *gateway) buildEvent(r *http.Request, body []byte, route *compiledRoute, params map[string]string, reqID string, start time.Time, authz *events.APIGatewayV2HTTPRequestContextAuthorizerDescription) events.APIGatewayV2HTTPRequest {
	clientIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		clientIP = host
	}

	// Header names are lower-cased, repeated headers joined with commas; Cookie
	// headers go to cookies instead. API Gateway adds host and the x-forwarded-* and
	// x-amzn-trace-id headers.
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + clientIP
	} else {
		headers["x-forwarded-for"] = clientIP
	}
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(la.String()); err == nil {
			port = p
		}
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port
	if headers["x-amzn-trace-id"] == "" {
		headers["x-amzn-trace-id"] = fmt.Sprintf("Root=1-%08x-%s", start.Unix(), randomHex(12))
	}

	// Query string parameters are decoded, repeated ones joined with commas.
	var qs map[string]string
	if r.URL.RawQuery != "" {
		qs = map[string]string{}
		for _, pair := range strings.Split(r.URL.RawQuery, "&") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			if dk, err := url.QueryUnescape(k); err == nil {
				k = dk
			}
			if dv, err := url.QueryUnescape(v); err == nil {
				v = dv
			}
			if prev, ok := qs[k]; ok {
				qs[k] = prev + "," + v
			} else {
				qs[k] = v
			}
		}
	}

	ev := events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: route.routeKey,
		// HTTP APIs deliver the decoded path in rawPath (and in requestContext.http.path).
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: qs,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     route.routeKey,
			AccountID:    g.account,
			Stage:        "$default",
			RequestID:    reqID,
			Authorizer:   authz,
			APIID:        apiID(r.Host),
			DomainName:   r.Host,
			DomainPrefix: domainPrefix(r.Host),
			Time:         start.UTC().Format(timeFormat),
			TimeEpoch:    start.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  clientIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if textual(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// textual reports whether HTTP API passes a request body of this content type as a
// string. AWS does not document the list; this is the split measured against live
// HTTP APIs (ministackorg/ministack PR #766): text/* and application/json, xml and
// javascript are text; everything else — no content type,
// application/x-www-form-urlencoded, multipart/*, application/merge-patch+json and
// other +json types included — arrives base64-encoded with isBase64Encoded true.
func textual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/xml", mt == "application/javascript":
		return true
	}
	return false
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// domainPrefix is the first label of the host, as API Gateway reports it.
func domainPrefix(host string) string {
	h := hostOnly(host)
	if net.ParseIP(h) != nil {
		return h
	}
	p, _, _ := strings.Cut(h, ".")
	return p
}

// apiID is the id in an "<id>.execute-api.<region>.amazonaws.com" host, else "local".
func apiID(host string) string {
	h := hostOnly(host)
	if id, rest, ok := strings.Cut(h, "."); ok && strings.HasPrefix(rest, "execute-api.") {
		return id
	}
	return "local"
}

// newAPIGWRequestID makes an id shaped like API Gateway's ("Mc7UVioPPHcEKPA=").
func newAPIGWRequestID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
