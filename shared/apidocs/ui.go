package apidocs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/swaggest/swgui/v5/static"

	"opsconsole/shared/problem"
)

// Title is the title of the Swagger UI page.
const Title = "Operations console API"

// The Swagger UI comes from github.com/swaggest/swgui's v5/static package: Swagger UI
// 5's files embedded with go:embed (the JavaScript and CSS gzip-compressed, as
// name.gz). Its ready-made handlers are not used: v5emb needs another module
// (vearutop/statigz) and v5 another two (shurcooL's), while this package needs none;
// and their page loads its scripts from an absolute base path. The page here is
// ours: it loads only files under /docs/ and the document at /openapi.json, by
// relative URLs, so it works at /docs (no trailing slash: API Gateway has no route for
// /docs/) and behind any prefix, and it turns off Swagger UI's online validator, its
// only call to a third-party host.

// AssetCacheControl lets browsers keep the Swagger UI files a day.
const AssetCacheControl = "public, max-age=86400"

// PageCacheControl makes browsers revalidate the page, which is small.
const PageCacheControl = "no-cache"

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="stylesheet" type="text/css" href="{{.Base}}swagger-ui.css">
<link rel="icon" type="image/png" href="{{.Base}}favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="{{.Base}}favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui" data-spec-url="{{.Spec}}"></div>
<script src="{{.Base}}swagger-ui-bundle.js"></script>
<script src="{{.Base}}swagger-initializer.js"></script>
</body>
</html>
`))

// initializer starts Swagger UI on the document named by the page. It is a file, not
// an inline script, so that a Content-Security-Policy of script-src 'self' can hold.
const initializer = `window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: new URL(node.getAttribute("data-spec-url"), document.baseURI).href,
    domNode: node,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    filter: true,
    displayRequestDuration: true,
    persistAuthorization: true,
    defaultModelsExpandDepth: 1,
    validatorUrl: null
  });
});
`

// page renders the index for a page whose URL's directory is dir-relative: base is the
// relative URL of /docs/ from the page, spec that of /openapi.json.
func page(base, spec string) []byte {
	var b bytes.Buffer
	if err := indexTemplate.Execute(&b, struct{ Title, Base, Spec string }{Title, base, spec}); err != nil {
		panic(err) // the template and its data are constants
	}
	return b.Bytes()
}

// renderedPage is the page and its entity tag.
type renderedPage struct {
	body []byte
	etag string
}

func newPage(base, spec string) func() renderedPage {
	return sync.OnceValue(func() renderedPage {
		b := page(base, spec)
		return renderedPage{body: b, etag: contentETag(b)}
	})
}

var (
	// pageAtDocs is the page as GET /docs answers it: relative URLs resolve from /.
	pageAtDocs = newPage("docs/", "openapi.json")
	// pageInDocs is the page at /docs/ or /docs/index.html: relative URLs resolve from /docs/.
	pageInDocs = newPage("", "../openapi.json")
)

// asset is one file under /docs/.
type asset struct {
	contentType string
	// gz is the gzip-compressed content when the file is stored compressed.
	gz []byte
	// plain returns the content as is.
	plain func() ([]byte, error)
	// etag and gzETag tag the two representations.
	etag, gzETag string
}

var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".png":  "image/png",
}

// assets are the files served under /docs/, by name: swgui's embedded Swagger UI
// files and the initializer.
var assets = sync.OnceValues(func() (map[string]*asset, error) {
	out := map[string]*asset{}
	entries, err := fs.ReadDir(static.FS, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(static.FS, e.Name())
		if err != nil {
			return nil, err
		}
		name, compressed := strings.CutSuffix(e.Name(), ".gz")
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			continue
		}
		a := &asset{contentType: ct, etag: contentETag(data)}
		if compressed {
			a.gz = data
			a.gzETag = strings.TrimSuffix(a.etag, `"`) + `-gzip"`
			a.plain = sync.OnceValues(func() ([]byte, error) { return gunzip(data) })
		} else {
			a.plain = func() ([]byte, error) { return data, nil }
		}
		out[name] = a
	}
	js := []byte(initializer)
	out["swagger-initializer.js"] = &asset{
		contentType: contentTypes[".js"], etag: contentETag(js),
		plain: func() ([]byte, error) { return js, nil },
	}
	if _, ok := out["swagger-ui-bundle.js"]; !ok {
		return nil, fmt.Errorf("swgui's embedded files lack swagger-ui-bundle.js")
	}
	return out, nil
})

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// servePage answers GET /docs.
func servePage(w http.ResponseWriter, r *http.Request) error {
	return writePage(w, r, pageAtDocs())
}

// serveAsset answers GET /docs/{proxy+}: the page again at /docs/index.html (and
// /docs/, which API Gateway does not route), or a file.
func serveAsset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("proxy")
	if name == "" || name == "index.html" {
		return writePage(w, r, pageInDocs())
	}
	all, err := assets()
	if err != nil {
		return err
	}
	a, ok := all[name]
	if !ok {
		return problem.NotFound("documentation asset")
	}
	body, etag := []byte(nil), a.etag
	h := w.Header()
	if a.gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, a.gzETag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	h.Set("Cache-Control", AssetCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if body == nil {
		if body, err = a.plain(); err != nil {
			return err
		}
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

func writePage(w http.ResponseWriter, r *http.Request, p renderedPage) error {
	h := w.Header()
	h.Set("ETag", p.etag)
	h.Set("Cache-Control", PageCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Get("If-None-Match"), p.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p.body)
	return nil
}

// acceptsGzip reads Accept-Encoding: gzip (or x-gzip, or *) with a q-value above 0.
func acceptsGzip(header string) bool {
	gz, star := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch name {
		case "gzip", "x-gzip":
			gz = max(gz, q)
		case "*":
			star = max(star, q)
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}
