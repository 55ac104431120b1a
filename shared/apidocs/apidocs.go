// Package apidocs holds the API's OpenAPI 3.1 document (openapi.yaml, embedded) and
// serves it: GET /openapi.json (function docs-openapi) and the Swagger UI at GET /docs
// and GET /docs/{proxy+} (function docs-ui), whose assets come embedded in the Go module
// github.com/swaggest/swgui, so no CDN is involved.
//
// The document is the contract: the tests check that it names exactly the routes of
// template.yaml and of the router, and package conformance checks real responses
// against it.
package apidocs

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"opsconsole/shared/api"
)

//go:embed openapi.yaml
var source []byte

// Source returns the document as written (YAML).
func Source() []byte { return slices.Clone(source) }

// converted is the document as JSON, converted once, on first use: a function that
// never serves it never pays for it, and a broken document cannot fail a cold start of
// an unrelated function.
var converted = sync.OnceValues(func() ([]byte, error) { return YAMLToJSON(source) })

// Document returns the OpenAPI document as JSON, keys in the order openapi.yaml writes
// them (Swagger UI shows tags and operations in document order). It panics if the
// embedded document is not valid YAML, which the package's tests rule out.
func Document() []byte {
	b, err := converted()
	if err != nil {
		panic(fmt.Sprintf("apidocs: openapi.yaml: %v", err))
	}
	return slices.Clone(b)
}

// YAMLToJSON converts one YAML document to compact JSON, keeping the order of mapping
// keys. Mapping keys become strings whatever they look like (so `200:` is "200");
// anchors and aliases are followed; merge keys, duplicate keys and non-finite numbers
// are errors.
func YAMLToJSON(src []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, err
	}
	if root.Kind == 0 {
		return nil, errors.New("empty document")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &root, 0); err != nil {
		return nil, err
	}
	if !json.Valid(buf.Bytes()) {
		return nil, errors.New("conversion produced invalid JSON")
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > 200 {
		return errors.New("document nested too deeply (alias loop?)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("expected exactly one document")
		}
		return writeJSON(buf, n.Content[0], depth+1)
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: merge keys (<<) are not supported", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k.Value)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := writeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	}
	return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	var v any
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		// Timestamps stay as written: JSON has no time type.
		v = n.Value
	case "!!null":
		v = nil
	case "!!bool", "!!int", "!!float":
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return fmt.Errorf("line %d: %s is not a JSON number", n.Line, n.Value)
		}
	default:
		return fmt.Errorf("line %d: unsupported tag %s", n.Line, n.Tag)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	buf.Write(b)
	return nil
}

// Function names (folders under functions/) and routes of the documentation.
const (
	FunctionOpenAPI = "docs-openapi"
	FunctionUI      = "docs-ui"

	PathOpenAPI = "/openapi.json"
	PathUI      = "/docs"
	PathAssets  = "/docs/{proxy+}"
)

// Operations returns the public documentation operations keyed by function name:
// "docs-openapi" serves GET /openapi.json, "docs-ui" serves GET /docs and
// GET /docs/{proxy+}.
func Operations() map[string][]api.Operation {
	return map[string][]api.Operation{
		FunctionOpenAPI: {
			{Method: http.MethodGet, Path: PathOpenAPI, Kind: "document", Handle: serveDocument},
		},
		FunctionUI: {
			{Method: http.MethodGet, Path: PathUI, Kind: "documentation page", Handle: servePage},
			{Method: http.MethodGet, Path: PathAssets, Kind: "documentation asset", Handle: serveAsset},
		},
	}
}

// DocumentCacheControl lets clients and proxies keep the document a few minutes.
const DocumentCacheControl = "public, max-age=300"

var documentETag = sync.OnceValue(func() string { return contentETag(Document()) })

func serveDocument(w http.ResponseWriter, r *http.Request) error {
	doc, err := converted()
	if err != nil {
		return err
	}
	etag := documentETag()
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", DocumentCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
	return nil
}

// contentETag is a strong entity tag of b.
func contentETag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// etagMatches implements If-None-Match's weak comparison against one strong tag.
func etagMatches(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
