package apiclients

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"opsconsole/shared/api"
	"opsconsole/shared/identity"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
)

// Token throttling, like sign-in's: failed token requests are counted per client id
// (as sent, known or not) and per source address in windows of TokenWindow; past the
// limit the endpoint answers 429 throttled without reading the client.
const (
	TokenWindow           = 15 * time.Minute
	MaxFailuresPerClient  = 5
	MaxFailuresPerAddress = 30
)

// The scopes of the token counters (the items THROTTLE#<scope>#<value>).
const (
	scopeClient  = "token-client"
	scopeAddress = "token-ip"
)

// TokenClientScope is the scope of a client id's failed-token counters, for the node
// sweeper (shared/sweep), which forgets a removed client's.
const TokenClientScope = scopeClient

// GrantClientCredentials is the only grant the endpoint serves (RFC 6749 §4.4).
const GrantClientCredentials = "client_credentials"

// The error codes of RFC 6749 §5.2 the endpoint answers.
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidClient        = "invalid_client"
	ErrInvalidGrant         = "invalid_grant"
	ErrUnsupportedGrantType = "unsupported_grant_type"
)

// TokenError is an RFC 6749 §5.2 error answer. It also carries the problem members
// every other answer of the API has (type, title, status), so one parser reads both.
type TokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Status      int    `json:"status"`
}

func tokenError(code, desc string) TokenError {
	st := http.StatusBadRequest
	if code == ErrInvalidClient {
		st = http.StatusUnauthorized
	}
	return TokenError{Error: code, Description: desc, Type: "urn:opsconsole:oauth:" + code, Title: strings.ReplaceAll(code, "_", " "), Status: st}
}

// TokenRequest is a token request's parameters.
type TokenRequest struct {
	GrantType, ClientID, ClientSecret string
	// Basic tells that the client authenticated with HTTP Basic.
	Basic bool
}

// ParseTokenRequest reads a token request: the body form-encoded (RFC 6749 §4.4.2) or
// JSON (an object of strings), the client's credentials in HTTP Basic (§2.3.1, each
// part form-encoded) or in the body, never both. It returns the §5.2 error to answer.
func ParseTokenRequest(header http.Header, body []byte) (TokenRequest, *TokenError) {
	params := map[string]string{}
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	switch {
	case err == nil && mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return TokenRequest{}, ref(tokenError(ErrInvalidRequest, "the body is not a valid form"))
		}
		for k, v := range vals {
			if len(v) > 1 {
				return TokenRequest{}, ref(tokenError(ErrInvalidRequest, "the parameter "+k+" is given more than once"))
			}
			params[k] = v[0]
		}
	case err == nil && mt == "application/json":
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil || obj == nil {
			return TokenRequest{}, ref(tokenError(ErrInvalidRequest, "the body is not a JSON object"))
		}
		for k, raw := range obj {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return TokenRequest{}, ref(tokenError(ErrInvalidRequest, "the parameter "+k+" must be a string"))
			}
			params[k] = s
		}
	default:
		return TokenRequest{}, ref(tokenError(ErrInvalidRequest, "send the parameters as application/x-www-form-urlencoded (or application/json)"))
	}
	req := TokenRequest{GrantType: params["grant_type"], ClientID: params["client_id"], ClientSecret: params["client_secret"]}
	if req.GrantType == "" {
		return req, ref(tokenError(ErrInvalidRequest, "grant_type is required"))
	}
	if req.GrantType != GrantClientCredentials {
		return req, ref(tokenError(ErrUnsupportedGrantType, "only grant_type=client_credentials is served"))
	}
	if auth := header.Get("Authorization"); auth != "" {
		scheme, cred, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return req, ref(tokenError(ErrInvalidClient, "authenticate the client with HTTP Basic or client_id and client_secret"))
		}
		if req.ClientID != "" || req.ClientSecret != "" {
			return req, ref(tokenError(ErrInvalidRequest, "authenticate the client one way: HTTP Basic or the body, not both"))
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		id, secret, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return req, ref(tokenError(ErrInvalidClient, "the Basic credentials are malformed"))
		}
		// RFC 6749 §2.3.1: each part is form-encoded before Basic joins them.
		if id, err = url.QueryUnescape(id); err == nil {
			secret, err = url.QueryUnescape(secret)
		}
		if err != nil {
			return req, ref(tokenError(ErrInvalidClient, "the Basic credentials are malformed"))
		}
		req.ClientID, req.ClientSecret, req.Basic = id, secret, true
	}
	if req.ClientID == "" || req.ClientSecret == "" {
		return req, ref(tokenError(ErrInvalidClient, "the client's id and secret are required (HTTP Basic, or client_id and client_secret)"))
	}
	return req, nil
}

func ref(e TokenError) *TokenError { return &e }

// TokenAnswer is a successful token answer (RFC 6749 §5.1).
type TokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// token serves POST /v1/auth/token.
func (s *Service) token(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := io.ReadAll(io.LimitReader(r.Body, api.MaxBody+1))
	if err != nil || len(body) > api.MaxBody {
		return writeTokenError(w, tokenError(ErrInvalidRequest, "the body is too large or could not be read"), false)
	}
	req, terr := ParseTokenRequest(r.Header, body)
	if terr != nil {
		return writeTokenError(w, *terr, req.Basic || r.Header.Get("Authorization") != "")
	}
	attempt, err := s.beginAttempt(w, r, req.ClientID)
	if err != nil {
		return err
	}
	fail := func(e TokenError) error { return writeTokenError(w, e, req.Basic) }
	if !identity.ValidClientID(req.ClientID) {
		return fail(tokenError(ErrInvalidClient, "unknown client or wrong secret"))
	}
	var it identity.ClientItem
	err = s.Store.Get(ctx, identity.ClientKey(req.ClientID), &it)
	if errors.Is(err, store.ErrNotFound) {
		return fail(tokenError(ErrInvalidClient, "unknown client or wrong secret"))
	}
	if err != nil {
		return err
	}
	now := s.now()
	if !it.SecretMatches(req.ClientSecret, now) {
		return fail(tokenError(ErrInvalidClient, "unknown client or wrong secret"))
	}
	// The client proved its secret: what follows is not guessing.
	s.settle(r, attempt)
	var p *problem.Problem
	if err := it.Refusal(now, api.MetaOf(r).SourceIP); errors.As(err, &p) {
		if p.Type == problem.AddressNotAllowed().Type {
			return fail(tokenError(ErrInvalidGrant, "this client may not get a token from this address (see its allowedIps)"))
		}
		return fail(tokenError(ErrInvalidClient, "the client is revoked or has expired"))
	}
	if _, err := (identity.Callers{Store: s.Store}).CheckLineage(ctx, it.NodeID, it.NodePath); err != nil {
		if errors.Is(err, api.ErrBranchSuspended) || errors.Is(err, api.ErrNoCaller) {
			return fail(tokenError(ErrInvalidGrant, "a node above the client is suspended, deactivated, being deleted or gone"))
		}
		return err
	}
	out, err := s.signIn(r, it)
	if err != nil {
		return err
	}
	if out.AuthenticationResult == nil || out.AuthenticationResult.AccessToken == nil {
		return errors.New("apiclients: Cognito answered a challenge to an API client's sign-in")
	}
	s.touch(r, it, now)
	ttl := int(identity.ClientTokenTTL.Seconds())
	if n := int(out.AuthenticationResult.ExpiresIn); n > 0 && n < ttl {
		ttl = n
	}
	w.Header().Set("Pragma", "no-cache")
	return api.WriteJSON(w, http.StatusOK, TokenAnswer{
		AccessToken: aws.ToString(out.AuthenticationResult.AccessToken), TokenType: "Bearer", ExpiresIn: ttl,
	})
}

// signIn signs client it's Cognito user in with the password derived from the current
// cursor secret. A refused password (NotAuthorizedException) is a user that still holds
// the one derived from a previous cursor secret (the secret was rotated: README, "API
// clients"): the password is set to the current derivation (AdminSetUserPassword) and
// the sign-in tried once more. That is sound because it runs only here, after the
// caller proved the client's secret and passed every check a token needs (status,
// expiry, allowedIps, branch): it gives nobody a token the endpoint would not give, the
// username comes from the item (only a create writes it), and the password stays one
// no one knows or stores. Another refusal (a disabled user, too many attempts) fails the
// second sign-in too, and is answered as a server error.
func (s *Service) signIn(r *http.Request, it identity.ClientItem) (*cip.AdminInitiateAuthOutput, error) {
	ctx := r.Context()
	password := CognitoPassword(s.PasswordKey, it.CognitoUser)
	in := &cip.AdminInitiateAuthInput{
		UserPoolId: &s.PoolID, ClientId: &s.AppClientID, AuthFlow: ciptypes.AuthFlowTypeAdminUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": it.CognitoUser, "PASSWORD": password},
	}
	out, err := s.Cognito.AdminInitiateAuth(ctx, in)
	var refused *ciptypes.NotAuthorizedException
	if !errors.As(err, &refused) {
		return out, err
	}
	api.Log(ctx).WarnContext(ctx, "api client's Cognito password refused: set to the current cursor secret's derivation (rotated?)",
		"clientId", it.ID, "error", err.Error())
	if _, err := s.Cognito.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: &s.PoolID, Username: &it.CognitoUser, Password: &password, Permanent: true,
	}); err != nil {
		return nil, err
	}
	return s.Cognito.AdminInitiateAuth(ctx, in)
}

// writeTokenError answers e (RFC 6749 §5.2): application/json, 400, or 401 with a
// Basic challenge for invalid_client.
func writeTokenError(w http.ResponseWriter, e TokenError, basic bool) error {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="opsconsole", charset="UTF-8"`)
	}
	w.Header().Set("Pragma", "no-cache")
	return api.WriteJSON(w, e.Status, e)
}

// beginAttempt counts a token request against its client id and its address, and
// refuses it (429 with Retry-After) when either is over its limit.
func (s *Service) beginAttempt(w http.ResponseWriter, r *http.Request, clientID string) (*throttle.Attempt, error) {
	if s.Limiter == nil {
		return nil, nil
	}
	if len(clientID) > 64 {
		clientID = clientID[:64]
	}
	keys := []throttle.Key{{Scope: scopeClient, Value: clientID, Max: MaxFailuresPerClient}}
	if ip := api.MetaOf(r).SourceIP; ip != "" {
		keys = append(keys, throttle.Key{Scope: scopeAddress, Value: ip, Max: MaxFailuresPerAddress})
	}
	a, err := s.Limiter.Begin(r.Context(), keys...)
	if err != nil {
		return nil, err
	}
	if !a.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(a.RetryAfter.Seconds()))))
		return nil, problem.Throttled("too many failed token requests for this client or from this address; retry after the time in Retry-After")
	}
	return a, nil
}

// settle gives a request that proved the client's secret back: the client's count is
// cleared and the address's attempt given back. Best effort, logged.
func (s *Service) settle(r *http.Request, a *throttle.Attempt) {
	if a == nil {
		return
	}
	if err := a.Settle(r.Context(), []string{scopeClient}, []string{scopeAddress}); err != nil {
		api.Log(r.Context()).ErrorContext(r.Context(), "token attempt not given back", "error", err.Error())
	}
}

// touch records when the client last got a token (best effort, logged).
func (s *Service) touch(r *http.Request, it identity.ClientItem, now time.Time) {
	_, err := s.Store.UpdateOne(r.Context(), store.Edit(identity.ClientKey(it.ID), store.Expr{
		Update:    "SET #a.#l = :l",
		Condition: "attribute_exists(PK)",
		Names:     map[string]string{"#a": "attrs", "#l": "lastUsedAt"},
		Values:    map[string]any{":l": time.Unix(now.Unix(), 0).UTC().Format(time.RFC3339)},
	}))
	if err != nil && !errors.Is(err, store.ErrConditionFailed) {
		api.Log(r.Context()).ErrorContext(r.Context(), "api client lastUsedAt not recorded", "clientId", it.ID, "error", err.Error())
	}
}
