package gateway

import (
	"fmt"
	"regexp"
	"strings"
)

// Route selection follows "Working with routes for HTTP APIs" in the API Gateway
// developer guide:
//
//   - A request path is matched segment by segment; paths are case-sensitive and a
//     trailing slash is a segment of its own ("/v1/me/" does not match "/v1/me", and
//     API Gateway does not redirect).
//   - "{name}" matches exactly one non-empty segment; "{name+}" (greedy, last segment
//     only) matches one or more segments.
//   - API Gateway picks the most specific match: a route without a greedy variable
//     beats one with; among those, a literal segment beats "{name}" which beats
//     "{name+}", compared from the left; an exact method beats ANY.
//   - No route for the path, or none for the method, is 404 {"message":"Not Found"}.
//
// The $default route is not supported: template.yaml declares none.

type segKind int

const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // the literal, or the variable name (without braces and "+")
}

type compiledRoute struct {
	Route
	method   string // upper case; "ANY" matches every method
	segs     []segment
	greedy   bool
	routeKey string // "GET /v1/distributors/{id}"
}

var (
	validMethods = map[string]bool{
		"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"HEAD": true, "OPTIONS": true, "ANY": true,
	}
	varName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

func compileRoute(r Route) (*compiledRoute, error) {
	method := strings.ToUpper(strings.TrimSpace(r.Method))
	if !validMethods[method] {
		return nil, fmt.Errorf("route %s %s: unsupported method %q", r.Method, r.Path, r.Method)
	}
	if r.Function == "" {
		return nil, fmt.Errorf("route %s %s: no function", method, r.Path)
	}
	if !strings.HasPrefix(r.Path, "/") {
		return nil, fmt.Errorf("route %s %s: path must start with /", method, r.Path)
	}
	cr := &compiledRoute{Route: r, method: method, routeKey: method + " " + r.Path}
	seen := map[string]bool{}
	for i, s := range splitPath(r.Path) {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			name := s[1 : len(s)-2]
			if !varName.MatchString(name) {
				return nil, fmt.Errorf("route %s: bad greedy variable %q", cr.routeKey, s)
			}
			if i != len(splitPath(r.Path))-1 {
				return nil, fmt.Errorf("route %s: a greedy variable must be the last segment", cr.routeKey)
			}
			cr.segs = append(cr.segs, segment{segGreedy, name})
			cr.greedy = true
			if seen[name] {
				return nil, fmt.Errorf("route %s: variable %q twice", cr.routeKey, name)
			}
			seen[name] = true
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if !varName.MatchString(name) {
				return nil, fmt.Errorf("route %s: bad path variable %q", cr.routeKey, s)
			}
			if seen[name] {
				return nil, fmt.Errorf("route %s: variable %q twice", cr.routeKey, name)
			}
			seen[name] = true
			cr.segs = append(cr.segs, segment{segParam, name})
		case strings.ContainsAny(s, "{}"):
			// HTTP APIs only take a variable as a whole segment.
			return nil, fmt.Errorf("route %s: a path variable must be a whole segment (%q)", cr.routeKey, s)
		default:
			cr.segs = append(cr.segs, segment{segLiteral, s})
		}
	}
	return cr, nil
}

// splitPath turns "/a/b" into [a b], "/a/b/" into [a b ""], and "/" into [].
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match reports whether the route's path matches the request segments, and its path
// parameters (nil when the route has no variables).
func (cr *compiledRoute) match(reqSegs []string) (map[string]string, bool) {
	var params map[string]string
	set := func(k, v string) {
		if params == nil {
			params = map[string]string{}
		}
		params[k] = v
	}
	for i, s := range cr.segs {
		switch s.kind {
		case segGreedy:
			rest := reqSegs[min(i, len(reqSegs)):]
			v := strings.Join(rest, "/")
			if len(rest) == 0 || v == "" {
				return nil, false
			}
			set(s.text, v)
			return params, true
		case segParam:
			if i >= len(reqSegs) || reqSegs[i] == "" {
				return nil, false
			}
			set(s.text, reqSegs[i])
		default:
			if i >= len(reqSegs) || reqSegs[i] != s.text {
				return nil, false
			}
		}
	}
	if len(reqSegs) != len(cr.segs) {
		return nil, false
	}
	return params, true
}

// moreSpecific reports whether a should be chosen over b when both match a request.
func moreSpecific(a, b *compiledRoute) bool {
	if a.greedy != b.greedy {
		return !a.greedy
	}
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.method != "ANY" && b.method == "ANY"
}

type router struct {
	routes []*compiledRoute
}

func newRouter(routes []Route) (*router, error) {
	rt := &router{}
	keys := map[string]bool{}
	for _, r := range routes {
		cr, err := compileRoute(r)
		if err != nil {
			return nil, err
		}
		// API Gateway refuses two routes whose keys differ only in variable names.
		norm := cr.method + " " + normalizedPath(cr.segs)
		if keys[norm] {
			return nil, fmt.Errorf("route %s: duplicate route", cr.routeKey)
		}
		keys[norm] = true
		rt.routes = append(rt.routes, cr)
	}
	return rt, nil
}

func normalizedPath(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		switch s.kind {
		case segParam:
			b.WriteString("{}")
		case segGreedy:
			b.WriteString("{+}")
		default:
			b.WriteString(s.text)
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// find returns the route for method and (decoded) path, or nil.
func (rt *router) find(method, path string) (*compiledRoute, map[string]string) {
	reqSegs := splitPath(path)
	var best *compiledRoute
	var bestParams map[string]string
	for _, cr := range rt.routes {
		if cr.method != "ANY" && cr.method != method {
			continue
		}
		params, ok := cr.match(reqSegs)
		if !ok {
			continue
		}
		if best == nil || moreSpecific(cr, best) {
			best, bestParams = cr, params
		}
	}
	return best, bestParams
}
