package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"opsconsole/shared/problem"
)

type body struct {
	Name *string `json:"name"`
	Age  int     `json:"age"`
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		status                  int
		slug, field             string
	}{
		{"a valid body", "application/json", `{"name":"a","age":3}`, 0, "", ""},
		{"a charset parameter is fine", "application/json; charset=utf-8", `{"name":"a"}`, 0, "", ""},
		{"malformed JSON", "application/json", `{"name":`, 400, "malformed-json", "body"},
		{"not an object", "application/json", `[1,2]`, 400, "malformed-json", "body"},
		{"an empty body", "application/json", ``, 400, "malformed-json", "body"},
		{"a null body", "application/json", `null`, 400, "malformed-json", "body"},
		{"a null body with spaces", "application/json", " null\n", 400, "malformed-json", "body"},
		{"an unknown field", "application/json", `{"name":"a","admin":true}`, 400, "validation", "admin"},
		{"a wrong type", "application/json", `{"name":5}`, 400, "validation", "name"},
		{"trailing data", "application/json", `{"name":"a"} {}`, 400, "malformed-json", "body"},
		{"a body over the limit", "application/json", `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, 413, "too-large", "body"},
		{"no content type", "", `{"name":"a"}`, 415, "unsupported-media-type", "Content-Type"},
		{"a form body", "application/x-www-form-urlencoded", `name=a`, 415, "unsupported-media-type", "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
			if c.contentType != "" {
				r.Header.Set("Content-Type", c.contentType)
			}
			var b body
			err := DecodeJSON(r, &b)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON = %v", err)
				}
				return
			}
			var p *problem.Problem
			if !errors.As(err, &p) {
				t.Fatalf("DecodeJSON = %v, want a problem", err)
			}
			if p.Status != c.status || p.Type != problem.TypePrefix+c.slug {
				t.Fatalf("problem = %d %s, want %d %s", p.Status, p.Type, c.status, c.slug)
			}
			if len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Fatalf("errors = %+v, want field %q", p.Errors, c.field)
			}
			if strings.Contains(p.Detail+p.Errors[0].Message, "json:") {
				t.Fatalf("the problem leaks Go's message: %+v", p)
			}
		})
	}
}

func TestIfMatch(t *testing.T) {
	t.Run("absent", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPatch, "/", nil)
		if v, ok, err := IfMatch(r); v != 0 || ok || err != nil {
			t.Fatalf("IfMatch = %d %v %v", v, ok, err)
		}
	})
	cases := []struct {
		header  string
		version int
		present bool
		bad     bool
	}{
		{"", 0, false, true}, // sent empty: refused, never taken for absent
		{"  ", 0, false, true},
		{",s<", 0, false, true},
		{`"1", "2"`, 0, false, true},
		{`*`, 0, false, true},
		{`"3"`, 3, true, false},
		{`W/"3"`, 3, true, false},
		{`3`, 0, false, true},
		{`"abc"`, 0, false, true},
		{`"0"`, 0, false, true},
		{`"-1"`, 0, false, true},
	}
	for _, c := range cases {
		t.Run("If-Match "+c.header, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPatch, "/", nil)
			r.Header.Set("If-Match", c.header)
			v, ok, err := IfMatch(r)
			if (err != nil) != c.bad || v != c.version || ok != c.present {
				t.Fatalf("IfMatch = %d %v %v", v, ok, err)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	cases := []struct {
		query string
		limit int
		field string
	}{
		{"", DefaultLimit, ""},
		{"limit=100&q=ac", 100, ""},
		{"limit=0", 0, "limit"},
		{"limit=101", 0, "limit"},
		{"limit=ten", 0, "limit"},
		{"cursor=", 0, "cursor"},
		{"q=a&q=b", 0, "q"},
		{"sort=name", 0, "sort"},
		{"%zz", 0, "query"},
	}
	for _, c := range cases {
		t.Run("query "+c.query, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/?"+c.query, nil)
			q, err := ParseList(r, "q")
			if c.field == "" {
				if err != nil || q.Limit != c.limit {
					t.Fatalf("ParseList = %+v %v", q, err)
				}
				return
			}
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status != 400 || p.Errors[0].Field != c.field {
				t.Fatalf("ParseList error = %v, want a 400 naming %s", err, c.field)
			}
		})
	}
}

func TestBindingIgnoresFilterOrder(t *testing.T) {
	a := ListQuery{Filters: map[string]string{"q": "x", "status": "active"}}
	b := ListQuery{Filters: map[string]string{"status": "active", "q": "x"}}
	if a.Binding("u", "r") != b.Binding("u", "r") {
		t.Fatal("bindings differ for the same filters")
	}
	c := ListQuery{Filters: map[string]string{"status": "active"}}
	if a.Binding("u", "r") == c.Binding("u", "r") {
		t.Fatal("bindings equal for different filters")
	}
}
