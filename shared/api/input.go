package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"opsconsole/shared/problem"
)

// MaxBody is the largest JSON body any operation takes.
const MaxBody = 64 << 10

// DecodeJSON reads r's body into dst strictly: JSON only, no unknown fields, no
// trailing data, at most MaxBody bytes. Errors are problems naming what is wrong.
func DecodeJSON(r *http.Request, dst any) error {
	_, err := decode(r, dst)
	return err
}

// Object is a JSON object body whose fields are read one by one, for handlers that
// check each field themselves (the generic levels, licenses).
type Object map[string]json.RawMessage

// DecodeObject reads r's body as DecodeJSON does into an Object, refusing the JSON null
// where an object is documented.
func DecodeObject(r *http.Request) (Object, error) {
	var b Object
	if err := DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	if b == nil { // the JSON null
		return nil, problem.MalformedJSON("the body must be a JSON object")
	}
	return b, nil
}

// DecodePatch is DecodeJSON for a PATCH body, where a field that is absent is left
// alone: it also returns the fields sent as an explicit null, which dst's pointers
// cannot tell from absent ones.
func DecodePatch(r *http.Request, dst any) (nulls []string, err error) {
	body, err := decode(r, dst)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, problem.MalformedJSON("the body must be a JSON object")
	}
	for name, v := range fields {
		if string(v) == "null" {
			nulls = append(nulls, name)
		}
	}
	slices.Sort(nulls)
	return nulls, nil
}

func decode(r *http.Request, dst any) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil ||
		(mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, problem.UnsupportedMediaType()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, problem.MalformedJSON("the body could not be read")
	}
	if len(body) > MaxBody {
		return nil, problem.TooLarge(MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return nil, jsonProblem(err)
	}
	// Decoding null into a struct succeeds and changes nothing; every body here is an
	// object, so a null one is refused like an array or a string.
	if string(bytes.TrimSpace(body)) == "null" {
		return nil, problem.MalformedJSON("the body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, problem.MalformedJSON("the body holds more than one JSON value")
	}
	return body, nil
}

// jsonProblem explains a decoding error in the client's terms, never Go's.
func jsonProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return problem.MalformedJSON("the body must be a JSON object")
		}
		return problem.Invalid("a field has the wrong type",
			problem.Field(field, "must be "+jsonKind(typeErr.Type.Kind().String())))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return problem.MalformedJSON("the body is not valid JSON")
	case errors.Is(err, io.EOF):
		return problem.MalformedJSON("the body is empty")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Invalid("the body has a field this operation does not take",
			problem.Field(name, "unknown field"))
	default:
		return problem.MalformedJSON("the body is not valid JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64":
		return "a number"
	case "slice":
		return "an array"
	default:
		return "an object"
	}
}

// ETag is the entity tag of a version.
func ETag(version int) string { return strconv.Quote(strconv.Itoa(version)) }

// IfMatch reads the If-Match header: ok is false when it is absent. A value that is
// not one of our ETags is a 400, an empty one included: a client that sends If-Match
// means to guard its change, so an empty or unreadable header never counts as absent.
// Only one ETag is taken (a list such as `"1", "2"` is a 400), and not `*`.
func IfMatch(r *http.Request) (version int, ok bool, err error) {
	vs, present := r.Header["If-Match"]
	if !present {
		return 0, false, nil
	}
	h := strings.TrimSpace(strings.Join(vs, ","))
	s, err := strconv.Unquote(strings.TrimPrefix(h, "W/"))
	if err != nil {
		return 0, false, problem.InvalidPrecondition()
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, false, problem.InvalidPrecondition()
	}
	return v, true, nil
}

// CheckVersion answers 412 when an If-Match was sent and current is not it.
func CheckVersion(r *http.Request, current int) error {
	v, ok, err := IfMatch(r)
	if err != nil {
		return err
	}
	if ok && v != current {
		return problem.Stale()
	}
	return nil
}

// ListQuery is a validated list request: limit, cursor and the named filters.
type ListQuery struct {
	Limit   int
	Cursor  string
	Filters map[string]string
}

// Default and largest page sizes.
const (
	DefaultLimit = 25
	MaxLimit     = 100
)

// ParseList validates r's query string: limit, cursor and the allowed filters, each
// at most once; any other parameter is a 400.
func ParseList(r *http.Request, allowed ...string) (ListQuery, error) {
	q := ListQuery{Limit: DefaultLimit, Filters: map[string]string{}}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, problem.Invalid("the query string is malformed", problem.Field("query", "malformed"))
	}
	var errs []problem.FieldError
	for name, vs := range values {
		if len(vs) > 1 {
			errs = append(errs, problem.Field(name, "give it at most once"))
			continue
		}
		v := vs[0]
		switch {
		case name == "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLimit {
				errs = append(errs, problem.Field("limit", fmt.Sprintf("must be an integer from 1 to %d", MaxLimit)))
				continue
			}
			q.Limit = n
		case name == "cursor":
			if v == "" {
				errs = append(errs, problem.Field("cursor", "must not be empty"))
				continue
			}
			q.Cursor = v
		case slices.Contains(allowed, name):
			q.Filters[name] = v
		default:
			errs = append(errs, problem.Field(name, "unknown query parameter"))
		}
	}
	if len(errs) > 0 {
		return q, problem.Invalid("the query string is invalid", errs...)
	}
	return q, nil
}

// Binding is what a cursor is bound to: the caller, the route and every filter.
func (q ListQuery) Binding(callerID, route string) string {
	keys := make([]string, 0, len(q.Filters))
	for k, v := range q.Filters {
		keys = append(keys, k+"="+v)
	}
	slices.Sort(keys)
	return callerID + "\n" + route + "\n" + strings.Join(keys, "&")
}
