package local

// The gateway's authorizer and the functions' environment, from the created resources.

import (
	"fmt"
	"net/url"
	"strings"
)

// authorizer resolves the HTTP API's JWT authorizer and where moto serves its keys.
func (b *bootstrapper) authorizer() error {
	auths := b.tpl.JWTAuthorizers()
	if len(auths) == 0 {
		return nil
	}
	a := auths[0]
	r := b.resolver()
	iss, err := r.ResolveString(a.Issuer)
	if err != nil {
		return fmt.Errorf("local: authorizer %s issuer: %w", a.Name, err)
	}
	b.res.Issuer = iss
	for _, v := range a.Audience {
		s, err := r.ResolveString(v)
		if err != nil {
			return fmt.Errorf("local: authorizer %s audience: %w", a.Name, err)
		}
		b.res.Audience = append(b.res.Audience, s)
	}
	// moto signs tokens with issuer https://cognito-idp.<region>.amazonaws.com/<pool>
	// and serves the pool's keys at <moto>/<pool>/.well-known/jwks.json.
	u, err := url.Parse(iss)
	if err == nil && strings.HasPrefix(u.Host, "cognito-idp.") {
		b.res.JWKSURL = strings.TrimRight(b.ep.Moto, "/") + "/" + strings.Trim(u.Path, "/") + "/.well-known/jwks.json"
	} else {
		b.res.JWKSURL = strings.TrimRight(iss, "/") + "/.well-known/jwks.json"
	}
	return nil
}

func (b *bootstrapper) environment() error {
	fns, err := b.tpl.Functions()
	if err != nil {
		return err
	}
	b.res.FunctionEnv = map[string]map[string]string{}
	b.res.Env = map[string]string{}
	owner := map[string]string{}
	r := b.resolver()
	for _, f := range fns {
		env := map[string]string{}
		for k, v := range f.MergedEnv(b.tpl.Globals) {
			s, err := r.ResolveString(v)
			if err != nil {
				return fmt.Errorf("local: %s environment %s: %w", f.LogicalID, k, err)
			}
			if s, err = b.resolveDynamic(s); err != nil {
				return fmt.Errorf("local: %s environment %s: %w", f.LogicalID, k, err)
			}
			env[k] = s
			if prev, ok := b.res.Env[k]; ok && prev != s {
				return fmt.Errorf("local: environment variable %s is %q for %s but %q for %s; locally all functions share one process environment", k, prev, owner[k], s, f.LogicalID)
			}
			b.res.Env[k], owner[k] = s, f.LogicalID
		}
		b.res.FunctionEnv[f.Name] = env
	}
	for k, v := range EndpointEnv(b.ep) {
		if prev, ok := b.res.Env[k]; ok && prev != v {
			b.log.Info("template environment variable replaced by its local value", "name", k, "template", prev, "local", v)
		}
		b.res.Env[k] = v
	}
	if b.res.JWKSURL != "" {
		b.res.Env["JWKS_URL"] = b.res.JWKSURL
		b.res.Env["JWT_ISSUER"] = b.res.Issuer
	}
	return nil
}
