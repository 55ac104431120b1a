package apidocs_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"opsconsole/shared/api"
	"opsconsole/shared/apidocs"
	"opsconsole/shared/apidocs/conformance"
)

// server serves the documentation's operations as the Lambda functions do (each
// function's operations through api.Serve), behind one mux, and returns a client whose
// responses are checked against the document.
func server(t *testing.T) (*httptest.Server, *http.Client, *conformance.Checker) {
	t.Helper()
	mux := http.NewServeMux()
	for _, ops := range apidocs.Operations() {
		h := api.Serve(ops...)
		for _, op := range ops {
			mux.Handle(op.Method+" "+strings.ReplaceAll(op.Path, "+}", "...}"), h)
		}
	}
	srv := httptest.NewUnstartedServer(mux)
	// The operations' middleware logs every request; the tests need none of it.
	srv.Config.BaseContext = func(net.Listener) context.Context {
		return api.WithLogger(context.Background(), slog.New(slog.DiscardHandler))
	}
	srv.Start()
	t.Cleanup(srv.Close)
	chk, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, v := range chk.Violations() {
			t.Error(v)
		}
	})
	return srv, &http.Client{Transport: chk.Transport(nil)}, chk
}

func get(t *testing.T, c *http.Client, u string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var refAttr = regexp.MustCompile(`(?i)\s(?:src|href|data-spec-url)="([^"]*)"`)

// TestDocsPage loads /docs like a browser: the page, then everything it references,
// resolved against the page's URL. Every reference is relative and lands on /docs/...
// or /openapi.json of this server; nothing comes from a CDN.
func TestDocsPage(t *testing.T) {
	srv, client, chk := server(t)
	for _, pagePath := range []string{"/docs", "/docs/index.html"} {
		resp, page := get(t, client, srv.URL+pagePath)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", pagePath, resp.StatusCode)
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/html" {
			t.Errorf("GET %s: Content-Type %q", pagePath, resp.Header.Get("Content-Type"))
		}
		if !bytes.Contains(page, []byte("<title>Operations console API</title>")) {
			t.Errorf("GET %s: no title in\n%s", pagePath, page)
		}
		if bytes.Contains(page, []byte("//")) && bytes.Contains(page, []byte("http")) {
			t.Errorf("GET %s: the page names an absolute URL:\n%s", pagePath, page)
		}
		refs := refAttr.FindAllSubmatch(page, -1)
		if len(refs) < 5 {
			t.Fatalf("GET %s: only %d references in\n%s", pagePath, len(refs), page)
		}
		base, _ := url.Parse(srv.URL + pagePath)
		for _, m := range refs {
			ref := string(m[1])
			u, err := url.Parse(ref)
			if err != nil || u.IsAbs() || u.Host != "" || strings.HasPrefix(ref, "/") {
				t.Errorf("GET %s: reference %q is not relative", pagePath, ref)
				continue
			}
			abs := base.ResolveReference(u)
			if abs.Path != "/openapi.json" && !strings.HasPrefix(abs.Path, "/docs/") {
				t.Errorf("GET %s: reference %q resolves to %s, outside /docs/", pagePath, ref, abs.Path)
			}
			r, body := get(t, client, abs.String())
			if r.StatusCode != http.StatusOK || len(body) == 0 {
				t.Errorf("GET %s (from %s) = %d, %d bytes", abs.Path, ref, r.StatusCode, len(body))
			}
		}
	}
	// The initializer points Swagger UI at the page's document and turns off the online
	// validator (Swagger UI's only third-party call).
	_, js := get(t, client, srv.URL+"/docs/swagger-initializer.js")
	for _, want := range []string{"validatorUrl: null", "data-spec-url", "SwaggerUIBundle("} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("swagger-initializer.js lacks %q", want)
		}
	}
	if bytes.Contains(js, []byte("http")) {
		t.Error("swagger-initializer.js names a URL")
	}
	seen := map[conformance.Exercise]bool{}
	for _, e := range chk.Seen() {
		seen[e] = true
	}
	for _, e := range []conformance.Exercise{
		{Method: "GET", Path: "/docs", Status: 200},
		{Method: "GET", Path: "/docs/{proxy}", Status: 200},
		{Method: "GET", Path: "/openapi.json", Status: 200},
	} {
		if !seen[e] {
			t.Errorf("%v was not exercised (seen %v)", e, chk.Seen())
		}
	}
	// The page revalidates.
	resp, _ := get(t, client, srv.URL+"/docs")
	if r, body := get(t, client, srv.URL+"/docs", "If-None-Match", resp.Header.Get("ETag")); r.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("GET /docs with If-None-Match = %d, %d bytes", r.StatusCode, len(body))
	}
}

func TestDocsAssets(t *testing.T) {
	srv, client, _ := server(t)

	// Go's client asks for gzip itself and undoes it: the plain body arrives.
	resp, js := get(t, client, srv.URL+"/docs/swagger-ui-bundle.js")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET swagger-ui-bundle.js = %d", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/javascript" && mt != "application/javascript" {
		t.Errorf("swagger-ui-bundle.js Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	if !resp.Uncompressed || len(js) < 1<<20 || !bytes.Contains(js, []byte("SwaggerUIBundle")) {
		t.Errorf("swagger-ui-bundle.js: uncompressed %v, %d bytes", resp.Uncompressed, len(js))
	}
	etag := resp.Header.Get("ETag")

	// A client that does not take gzip gets the same file plain, with another ETag.
	tr := &http.Transport{DisableCompression: true}
	plain := &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	resp2, js2 := get(t, plain, srv.URL+"/docs/swagger-ui-bundle.js")
	if resp2.Header.Get("Content-Encoding") != "" || !bytes.Equal(js, js2) {
		t.Errorf("identity: Content-Encoding %q, same body %v", resp2.Header.Get("Content-Encoding"), bytes.Equal(js, js2))
	}
	if resp2.Header.Get("ETag") == etag || resp2.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("identity and gzip share ETag %s (Vary %q)", etag, resp2.Header.Get("Vary"))
	}
	// And one that asks for gzip explicitly gets it encoded.
	resp3, gz := get(t, client, srv.URL+"/docs/swagger-ui-bundle.js", "Accept-Encoding", "gzip")
	if resp3.Header.Get("Content-Encoding") != "gzip" || len(gz) >= len(js) || resp3.Header.Get("ETag") != etag {
		t.Errorf("gzip: Content-Encoding %q, %d bytes, ETag %s", resp3.Header.Get("Content-Encoding"), len(gz), resp3.Header.Get("ETag"))
	}

	// Revalidation.
	resp4, body := get(t, client, srv.URL+"/docs/swagger-ui-bundle.js", "If-None-Match", etag)
	if resp4.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", resp4.StatusCode, len(body))
	}

	for name, want := range map[string]string{
		"swagger-ui.css":         "text/css",
		"favicon-32x32.png":      "image/png",
		"swagger-initializer.js": "text/javascript",
	} {
		resp, body := get(t, client, srv.URL+"/docs/"+name)
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || mt != want || len(body) == 0 {
			t.Errorf("GET /docs/%s = %d %q, %d bytes", name, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	for _, name := range []string{"nope.js", "a/b/swagger-ui.css", "..%2Fopenapi.json"} {
		resp, body := get(t, client, srv.URL+"/docs/"+name)
		if resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("urn:opsconsole:problem:not-found")) {
			t.Errorf("GET /docs/%s = %d %s", name, resp.StatusCode, body)
		}
	}
}

func TestOpenAPIJSON(t *testing.T) {
	srv, client, _ := server(t)
	resp, body := get(t, client, srv.URL+"/openapi.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, apidocs.Document()) {
		t.Error("GET /openapi.json is not Document()")
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q is not cacheable", cc)
	}
	etag := resp.Header.Get("ETag")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, body := get(t, client, srv.URL+"/openapi.json", "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d, %d bytes", inm, resp.StatusCode, len(body))
		}
	}
	if resp, _ := get(t, client, srv.URL+"/openapi.json", "If-None-Match", `"other"`); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match of another tag: %d", resp.StatusCode)
	}
}
