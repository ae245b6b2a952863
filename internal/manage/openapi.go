package manage

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // openapi.yaml
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the OpenAPI 3.1 document of the management API, the
// source of truth; docs/openapi.yaml is a copy that a test keeps identical.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI paths on the main listener. They hold no secret and need no
// credentials.
const (
	OpenAPIYAMLPath = "/openapi.yaml"
	OpenAPIJSONPath = "/openapi.json"
)

// openAPICacheControl lets clients and proxies keep the document a few
// minutes; the ETag makes a later check cheap. It changes only with the
// binary.
const openAPICacheControl = "public, max-age=300"

// OpenAPIYAML returns the OpenAPI 3.1 document of the management API as
// YAML. The slice is the caller's.
func OpenAPIYAML() []byte { return bytes.Clone(openAPIYAML) }

// openAPIDoc is the document as served: YAML as embedded and JSON made
// from it once, with an ETag each.
type openAPIDoc struct {
	body []byte
	etag string
}

var openAPIDocs = sync.OnceValues(func() (docs [2]openAPIDoc, err error) {
	js, err := yamlToJSON(openAPIYAML)
	if err != nil { // a test loads the document, so a release cannot get here
		return docs, fmt.Errorf("openapi.yaml as JSON: %w", err)
	}
	return [2]openAPIDoc{newOpenAPIDoc(openAPIYAML), newOpenAPIDoc(js)}, nil
})

func newOpenAPIDoc(body []byte) openAPIDoc {
	sum := sha256.Sum256(body)
	return openAPIDoc{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// yamlToJSON converts a YAML document whose mapping keys are all strings
// (OpenAPI's are: status codes are quoted) into JSON.
func yamlToJSON(y []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// ServeOpenAPI serves the OpenAPI document: as JSON (application/json) at
// a path ending in ".json", else as YAML (application/yaml). GET and HEAD only (405 with
// Allow otherwise); no credentials; Cache-Control and an ETag, which
// If-None-Match is answered against (304).
func ServeOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: GET or HEAD the OpenAPI document", http.StatusMethodNotAllowed)
		return
	}
	docs, err := openAPIDocs()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	doc, contentType := docs[0], "application/yaml"
	if r.URL != nil && strings.HasSuffix(r.URL.Path, ".json") {
		doc, contentType = docs[1], "application/json"
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", openAPICacheControl)
	h.Set("ETag", doc.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc.body))
}
