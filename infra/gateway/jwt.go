package gateway

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
)

// The JWT authorizer of an HTTP API, as "Control access to HTTP APIs with JWT
// authorizers" (API Gateway developer guide) describes it:
//
//  1. The identity source ($request.header.Authorization) holds the token alone or
//     prefixed with "Bearer ".
//  2. Only RSA-based algorithms are accepted (RS256/RS384/RS512 here; alg "none",
//     HS256, ES256... are refused), verified with the key of the token's "kid" from
//     the issuer's JWKS (API Gateway caches keys up to two hours).
//  3. iss must equal the issuer; aud must hold one of the audiences, or, only when
//     the token has no aud (Cognito access tokens), client_id must be one of them;
//     exp must be in the future; nbf and iat must not be in the future.
//  4. If the route has authorization scopes, the token's scope/scp must hold one of
//     them, else 403 {"message":"Forbidden"}.
//
// A refused request gets 401 {"message":"Unauthorized"} and a www-authenticate header.
// The troubleshooting page ("Troubleshooting issues with HTTP API JWT authorizers")
// shows its form for a token that was checked:
//
//	www-authenticate: Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"
//
// The other error_description texts below are written in the same style; only the
// audience one is documented verbatim. A request with no token gets a bare "Bearer".

const (
	jwksMaxAge         = 2 * time.Hour    // how long API Gateway may cache the keys
	defaultJWKSRefetch = 30 * time.Second // at most one refetch for an unknown kid per this interval
	clockLeeway        = 5 * time.Second  // tolerated skew on nbf and iat
)

// jwksRefetchInterval is a variable so tests can shorten it.
var jwksRefetchInterval = defaultJWKSRefetch

type authFailure struct {
	status    int    // 401 or 403
	challenge string // the www-authenticate header
	reason    string // for the log
}

func unauthorized(desc string) *authFailure {
	return &authFailure{
		status:    http.StatusUnauthorized,
		challenge: fmt.Sprintf(`Bearer scope="" error="invalid_token" error_description=%q`, desc),
		reason:    desc,
	}
}

type jwtAuthorizer struct {
	issuer   string
	audience []string
	jwks     *jwksCache
	now      func() time.Time
}

func newJWTAuthorizer(a Authorizer, logger *slog.Logger) (*jwtAuthorizer, error) {
	if a.Issuer == "" || a.JWKSURL == "" || len(a.Audience) == 0 {
		return nil, errors.New("gateway: the JWT authorizer needs Issuer, Audience and JWKSURL")
	}
	return &jwtAuthorizer{
		issuer:   a.Issuer,
		audience: a.Audience,
		jwks: &jwksCache{
			url:    a.JWKSURL,
			client: &http.Client{Timeout: 5 * time.Second},
			logger: logger,
		},
		now: time.Now,
	}, nil
}

var (
	errNoKid      = errors.New("the token has no kid")
	errUnknownKid = errors.New("no key in the JWKS matches the token's kid")
)

// authorize checks the Authorization header value for a route with the given
// authorization scopes and returns what API Gateway puts in
// requestContext.authorizer.jwt.
func (a *jwtAuthorizer) authorize(ctx context.Context, header string, routeScopes []string) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, *authFailure) {
	token := strings.TrimSpace(header)
	token = strings.TrimSpace(strings.TrimPrefix(token, "Bearer "))
	if token == "" || token == "Bearer" {
		return nil, &authFailure{status: http.StatusUnauthorized, challenge: "Bearer", reason: "no token in the Authorization header"}
	}

	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512"}),
		jwt.WithJSONNumber(),
		jwt.WithoutClaimsValidation(), // checked below, in API Gateway's order and wording
	)
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errNoKid
		}
		return a.jwks.key(ctx, kid)
	})
	switch {
	case err == nil:
	case errors.Is(err, errNoKid), errors.Is(err, errUnknownKid):
		return nil, unauthorized("unable to find a key for the token's kid")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, unauthorized("the token is malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			alg := "none"
			if parts := strings.Split(token, "."); len(parts) > 0 {
				var h struct{ Alg string }
				if b, e := base64.RawURLEncoding.DecodeString(parts[0]); e == nil && json.Unmarshal(b, &h) == nil && h.Alg != "" {
					alg = h.Alg
				}
			}
			return nil, unauthorized(fmt.Sprintf("signing method %s is invalid", alg))
		}
		return nil, unauthorized("the token does not have a valid signature")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, unauthorized("the token could not be verified: " + err.Error())
	default:
		return nil, unauthorized("the token is invalid")
	}

	now := a.now()
	if iss, _ := claims["iss"].(string); iss != a.issuer {
		return nil, unauthorized("the token does not have a valid issuer")
	}
	if !a.audienceOK(claims) {
		return nil, unauthorized("the token does not have a valid audience")
	}
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, unauthorized("the token has no valid exp claim")
	}
	if !now.Before(exp) {
		return nil, unauthorized("the token has expired")
	}
	if v, present := claims["nbf"]; present {
		nbf, ok := numericDate(v)
		if !ok || nbf.After(now.Add(clockLeeway)) {
			return nil, unauthorized("the token is not valid yet")
		}
	}
	if v, present := claims["iat"]; present {
		iat, ok := numericDate(v)
		if !ok || iat.After(now.Add(clockLeeway)) {
			return nil, unauthorized("the token was issued in the future")
		}
	}

	desc := &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: stringifyClaims(claims)}
	if len(routeScopes) > 0 {
		tokenScopes := scopesOf(claims)
		if !slices.ContainsFunc(routeScopes, func(s string) bool { return slices.Contains(tokenScopes, s) }) {
			return nil, &authFailure{
				status: http.StatusForbidden,
				challenge: fmt.Sprintf(`Bearer scope=%q error="insufficient_scope" error_description="the token does not have a required scope"`,
					strings.Join(routeScopes, " ")),
				reason: "the token has none of the route's scopes",
			}
		}
		// Like API Gateway: the token's scopes are passed on only for a route that
		// requires scopes; otherwise jwt.scopes is null.
		desc.Scopes = tokenScopes
	}
	return desc, nil
}

// audienceOK: "API Gateway validates client_id only if aud is not present. When both
// aud and client_id are present, API Gateway evaluates aud."
func (a *jwtAuthorizer) audienceOK(claims jwt.MapClaims) bool {
	if aud, present := claims["aud"]; present {
		switch v := aud.(type) {
		case string:
			return slices.Contains(a.audience, v)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok && slices.Contains(a.audience, s) {
					return true
				}
			}
		}
		return false
	}
	cid, _ := claims["client_id"].(string)
	return cid != "" && slices.Contains(a.audience, cid)
}

func numericDate(v any) (time.Time, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return time.Time{}, false
		}
	case float64:
		f = x
	default:
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func scopesOf(claims jwt.MapClaims) []string {
	for _, k := range []string{"scope", "scp"} {
		switch v := claims[k].(type) {
		case string:
			if f := strings.Fields(v); len(f) > 0 {
				return f
			}
		case []any:
			var out []string
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return nil
}

// stringifyClaims flattens the token's claims into the map[string]string that
// requestContext.authorizer.jwt.claims is. API Gateway's rendering is not documented;
// this follows what was measured against real HTTP APIs and reported in public:
//
//   - strings as they are;
//   - numbers as their JSON text, e.g. exp 1700000000 -> "1700000000";
//   - booleans as "true" / "false";
//   - arrays in brackets, elements separated by one space, strings unquoted:
//     "cognito:groups": ["admin","ops"] -> "[admin ops]" (an empty array -> "[]");
//   - objects as their JSON text;
//   - null claims left out.
//
// Sources: floci-io/floci PR #2011 ("match measured JWT claim wire format", its
// renderClaimValue, measured 2026-08) and the array format independently in
// aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock issue
// #802 / PR #803 ("API Gateway HTTP API JWT authorizer serializes array claims as
// bracketed space-separated strings: '[id1 id2 id3]'"). The number format rests on
// floci's measurement alone.
func stringifyClaims(claims jwt.MapClaims) map[string]string {
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		if s, ok := stringifyClaim(v); ok {
			out[k] = s
		}
	}
	return out
}

func stringifyClaim(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				parts = append(parts, s)
				continue
			}
			b, _ := json.Marshal(e)
			parts = append(parts, string(b))
		}
		return "[" + strings.Join(parts, " ") + "]", true
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x), true
		}
		return string(b), true
	}
}

// jwksCache holds the issuer's RSA keys by kid. The keys are fetched on first use,
// kept for jwksMaxAge, and fetched again when a token names a kid the cache lacks —
// at most once per jwksRefetchInterval, so a flood of forged kids cannot hammer the
// issuer.
type jwksCache struct {
	url    string
	client *http.Client
	logger *slog.Logger

	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey
	fetchedAt   time.Time
	lastAttempt time.Time
}

func (c *jwksCache) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || time.Since(c.fetchedAt) > jwksMaxAge {
		c.refresh(ctx)
	}
	if k, ok := c.keys[kid]; ok {
		return k, nil
	}
	if time.Since(c.lastAttempt) >= jwksRefetchInterval {
		c.refresh(ctx)
		if k, ok := c.keys[kid]; ok {
			return k, nil
		}
	}
	return nil, errUnknownKid
}

// refresh fetches the JWKS; on failure it keeps the keys it had.
func (c *jwksCache) refresh(ctx context.Context) {
	c.lastAttempt = time.Now()
	keys, err := fetchJWKS(ctx, c.client, c.url)
	if err != nil {
		c.logger.Error("jwks fetch failed", "url", c.url, "error", err.Error())
		return
	}
	c.keys, c.fetchedAt = keys, time.Now()
}

func fetchJWKS(ctx context.Context, client *http.Client, url string) (map[string]*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return parseJWKS(body)
}

// parseJWKS reads the RSA signing keys of a JWK Set (RFC 7517/7518): kty "RSA",
// modulus n and exponent e as unpadded base64url big-endian integers. Keys of other
// types, or marked for encryption, are skipped.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || k.Kid == "" {
			continue
		}
		n, err := b64urlInt(k.N)
		if err != nil {
			return nil, fmt.Errorf("jwks: key %s: n: %w", k.Kid, err)
		}
		e, err := b64urlInt(k.E)
		if err != nil {
			return nil, fmt.Errorf("jwks: key %s: e: %w", k.Kid, err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || n.Sign() <= 0 {
			return nil, fmt.Errorf("jwks: key %s: bad RSA parameters", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
	}
	return keys, nil
}

func b64urlInt(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	return new(big.Int).SetBytes(b), nil
}
