package manage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/responses"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"go.yaml.in/yaml/v3"

	"github.com/switchboardhq/switchboard/internal/manage"
	"github.com/switchboardhq/switchboard/internal/server"
	"github.com/switchboardhq/switchboard/internal/servertest"
)

// copyCommand is how docs/openapi.yaml is brought up to date.
const copyCommand = "cp internal/manage/openapi.yaml docs/openapi.yaml"

// loadOpenAPI parses the embedded document with libopenapi and returns its
// model and a validator that asserts formats (uuid, date-time).
func loadOpenAPI(t *testing.T) (*v3.Document, validator.Validator) {
	t.Helper()
	doc, err := libopenapi.NewDocument(manage.OpenAPIYAML())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("openapi.yaml model: %v", err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	return &model.Model, v
}

// describe renders validation errors with their schema failures.
func describe(errs []*errors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    at %s (%s): %s", s.FieldPath, s.KeywordLocation, s.Reason)
		}
	}
	return b.String()
}

// The document is OpenAPI 3.1 and valid against the specification's own
// schema, every $ref resolves, and docs/openapi.yaml is the same file.
func TestOpenAPIDocument(t *testing.T) {
	model, v := loadOpenAPI(t)
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document:%s", describe(errs))
	}
	if model.Version != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", model.Version)
	}
	docs, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatalf("%v; run %s", err, copyCommand)
	}
	if !bytes.Equal(docs, manage.OpenAPIYAML()) {
		t.Errorf("docs/openapi.yaml differs from internal/manage/openapi.yaml, the source of truth; run %s", copyCommand)
	}
	for name, scheme := range map[string]string{"sigv4": "apiKey", "apiKey": "apiKey", "bearer": "http"} {
		s := model.Components.SecuritySchemes.GetOrZero(name)
		if s == nil || s.Type != scheme {
			t.Errorf("security scheme %s: %+v, want type %s", name, s, scheme)
		}
	}
}

// documentedOperations returns the (path, method) pairs of the document,
// with their operations.
func documentedOperations(model *v3.Document) map[manage.Operation]*v3.Operation {
	ops := make(map[manage.Operation]*v3.Operation)
	for path, item := range model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			ops[manage.Operation{Method: strings.ToUpper(method), Path: path}] = op
		}
	}
	return ops
}

// The route table the Handler dispatches on and the document list the
// same (path, method) pairs, and each documented path template is parsed
// by the Handler as that template.
func TestOpenAPIRoutesComplete(t *testing.T) {
	model, _ := loadOpenAPI(t)
	documented := documentedOperations(model)
	served := make(map[manage.Operation]bool)
	for _, op := range manage.Operations() {
		if served[op] {
			t.Errorf("route table: %s %s twice", op.Method, op.Path)
		}
		served[op] = true
		if documented[op] == nil {
			t.Errorf("%s %s is served but not in openapi.yaml", op.Method, op.Path)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s %s is in openapi.yaml but not served", op.Method, op.Path)
		}
	}
	// A template stands for the shape parsePath gives it: filled in
	// (with an encoded "/" in a value, as clients send it), the path is
	// of the same template, served with the same methods.
	fill := strings.NewReplacer("{stage}", "prod", "{connectionId}", "Kf3aQ9xZb1Tn2wE=", "{channel}", "room%2Fa:b", "{user}", "alice")
	for path, item := range model.Paths.PathItems.FromOldest() {
		got, methods, ok := manage.RouteOf(fill.Replace(path))
		if !ok || got != path {
			t.Errorf("%s filled in is parsed as %q (%v)", path, got, ok)
		}
		var want []string
		for m := range item.GetOperations().KeysFromOldest() {
			want = append(want, strings.ToUpper(m))
		}
		slices.Sort(want)
		slices.Sort(methods)
		if !slices.Equal(methods, want) {
			t.Errorf("%s: served with %v, documented with %v", path, methods, want)
		}
	}
	if _, _, ok := manage.RouteOf("/prod/@connections/a/b"); ok {
		t.Error("RouteOf matched a path of no template")
	}
}

// openAPITest drives a real server and checks its live responses against
// the document.
type openAPITest struct {
	t      *testing.T
	base   string // http://host:port
	model  *v3.Document
	v      validator.Validator
	client *http.Client

	mu sync.Mutex
	// seen[operationId] holds the statuses the test saw the operation
	// answer.
	seen map[string]map[int]bool
}

const (
	testAPIKey    = "openapi-test-key-0123456789"
	testAccessKey = "AKIAOPENAPI012345678"
	testSecret    = "openapisecret0123456789abcdef"
)

// credential is how a request is authenticated.
type credential int

const (
	withAPIKey   credential = iota // x-api-key
	withBearer                     // Authorization: Bearer
	withSigV4                      // an AWS SigV4 signature
	withNone                       // no credentials
	withWrongKey                   // an x-api-key that is not configured
)

// request is one management call of the test.
type request struct {
	method, path string // path is escaped, with its query
	body         []byte
	contentType  string
	cred         credential
}

// call sends rq and validates the live response against the document: the
// request too (what the test sends is what the document describes) when
// checkRequest is set. It returns the status and the body.
func (o *openAPITest) call(rq request, checkRequest bool) (int, []byte) {
	o.t.Helper()
	req := o.newRequest(rq)
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		o.t.Fatalf("%s %s: reading the body: %v", rq.method, rq.path, err)
	}
	// The validator reads both bodies again.
	check := o.newRequest(rq)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.Request = check
	if checkRequest {
		if ok, errs := o.v.ValidateHttpRequestSync(check); !ok {
			o.t.Errorf("%s %s: the request does not match the document:%s", rq.method, rq.path, describe(errs))
		}
		check = o.newRequest(rq)
	}
	if ok, errs := o.v.ValidateHttpResponse(check, resp); !ok {
		o.t.Errorf("%s %s: %d %s: the response does not match the document:%s", rq.method, rq.path, resp.StatusCode, body, describe(errs))
	}
	o.record(rq, resp.StatusCode)
	return resp.StatusCode, body
}

// record notes that the operation of rq answered status.
func (o *openAPITest) record(rq request, status int) {
	o.t.Helper()
	path, _, _ := strings.Cut(rq.path, "?")
	tmpl, _, ok := manage.RouteOf(path)
	if !ok {
		o.t.Fatalf("%s: no route", rq.path)
	}
	op := o.model.Paths.PathItems.GetOrZero(tmpl).GetOperations().GetOrZero(strings.ToLower(rq.method))
	if op == nil {
		o.t.Fatalf("%s %s: not documented", rq.method, tmpl)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[op.OperationId] == nil {
		o.seen[op.OperationId] = make(map[int]bool)
	}
	o.seen[op.OperationId][status] = true
}

// expect calls rq and fails unless it answers status; for an error, also
// unless the type is typ.
func (o *openAPITest) expect(rq request, status int, typ string) []byte {
	o.t.Helper()
	got, body := o.call(rq, status < 300)
	if got != status {
		o.t.Fatalf("%s %s: %d %s, want %d", rq.method, rq.path, got, body, status)
	}
	if typ != "" {
		var e struct {
			Type string `json:"__type"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Type != typ {
			o.t.Fatalf("%s %s: %s, want type %s", rq.method, rq.path, body, typ)
		}
	}
	return body
}

// newRequest builds rq with its credential.
func (o *openAPITest) newRequest(rq request) *http.Request {
	o.t.Helper()
	req, err := http.NewRequest(rq.method, o.base+rq.path, bytes.NewReader(rq.body))
	if err != nil {
		o.t.Fatal(err)
	}
	if rq.contentType != "" {
		req.Header.Set("Content-Type", rq.contentType)
	}
	switch rq.cred {
	case withAPIKey:
		req.Header.Set("x-api-key", testAPIKey)
	case withBearer:
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
	case withWrongKey:
		req.Header.Set("x-api-key", "not-the-key")
	case withSigV4:
		sum := sha256.Sum256(rq.body)
		creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
			o.t.Fatal(err)
		}
	}
	return req
}

// expectComponent calls rq, which no operation serves, and checks that it
// answers status with the document's component response name (headers and
// body schema).
func (o *openAPITest) expectComponent(rq request, status int, name string) http.Header {
	o.t.Helper()
	req := o.newRequest(rq)
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		o.t.Fatalf("%s %s: %d %s, want %d", rq.method, rq.path, resp.StatusCode, body, status)
	}
	comp := o.model.Components.Responses.GetOrZero(name)
	if comp == nil {
		o.t.Fatalf("no component response %s", name)
	}
	if ok, errs := responses.ValidateResponseHeaders(req, resp, comp.Headers, rq.path, strconv.Itoa(status)); !ok {
		o.t.Errorf("%s %s: headers do not match %s:%s", rq.method, rq.path, name, describe(errs))
	}
	ct := resp.Header.Get("Content-Type")
	media := comp.Content.GetOrZero(ct)
	if media == nil {
		o.t.Fatalf("%s %s: Content-Type %q is not one of %s's", rq.method, rq.path, ct, name)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := responses.ValidateResponseSchema(&responses.ValidateResponseSchemaInput{
		Request: req, Response: resp, Schema: media.Schema.Schema(), Version: 3.1,
		Options: []config.Option{config.WithFormatAssertions()},
	}); !ok {
		o.t.Errorf("%s %s: %s does not match %s:%s", rq.method, rq.path, body, name, describe(errs))
	}
	return resp.Header
}

// wsClient is a switchboard.v1 connection whose messages a goroutine
// reads into msgs.
type wsClient struct {
	id   string
	conn *websocket.Conn
	msgs chan []byte
}

// dial connects a switchboard.v1 client as user (none for "") and waits
// for its connected message, which names it.
func (o *openAPITest) dial(user string) *wsClient {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(o.base, "http") + "/prod"
	if user != "" {
		url += "?u=" + user
	}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"switchboard.v1"}})
	if err != nil {
		o.t.Fatalf("dial as %q: %v", user, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{conn: conn, msgs: make(chan []byte, 256)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.msgs)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			c.msgs <- b
		}
	}()
	o.t.Cleanup(func() {
		conn.Close(websocket.StatusNormalClosure, "")
		<-done
	})
	var hello struct {
		Type         string `json:"type"`
		ConnectionID string `json:"connectionId"`
	}
	if err := json.Unmarshal(c.next(o.t), &hello); err != nil || hello.Type != "connected" || hello.ConnectionID == "" {
		o.t.Fatalf("first message %+v (%v), want connected", hello, err)
	}
	c.id = hello.ConnectionID
	return c
}

// next returns the client's next message.
func (c *wsClient) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b, ok := <-c.msgs:
		if !ok {
			t.Fatal("connection closed while waiting for a message")
		}
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

// waitFor returns the client's next message that contains want.
func (c *wsClient) waitFor(t *testing.T, want string) []byte {
	t.Helper()
	for {
		if b := c.next(t); bytes.Contains(b, []byte(want)) {
			return b
		}
	}
}

// waitClosed waits until the server has closed the connection.
func (c *wsClient) waitClosed(t *testing.T) {
	t.Helper()
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("timed out waiting for the connection to close")
		}
	}
}

// connectBackend answers $connect with the user of the query parameter u
// and a presence info.
func connectBackend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RequestContext struct {
				RouteKey string `json:"routeKey"`
			} `json:"requestContext"`
			Query map[string]string `json:"queryStringParameters"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("backend: %v", err)
		}
		if u := ev.Query["u"]; ev.RequestContext.RouteKey == "$connect" && u != "" {
			fmt.Fprintf(w, `{"statusCode":200,"headers":{"X-Switchboard-User":%q,"X-Switchboard-Info":"{\"name\":\"%s\"}"}}`, u, u)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const openAPITestConfig = `
listen: 127.0.0.1:0
management:
  allowLoopback: false
  apiKeys:
    - name: openapi
      key: ` + testAPIKey + `
  accessKeys:
    - id: ` + testAccessKey + `
      secret: ` + testSecret + `
apis:
  - id: api
    stage: prod
    routeSelectionExpression: $request.body.action
    limits: {maxMessageBytes: 1KiB}
    routes:
      $connect: {integration: backend}
      $default: {integration: backend}
    integrations:
      backend: {type: http, url: "%s", timeout: 5s}
    channels:
      maxPerConnection: 3
      namespaces:
        - pattern: "room:*"
          history: {size: 10, ttl: 1h}
        - pattern: "plain:*"
          presence: false
`

// Every operation of the document, called on a real server with real
// WebSocket clients connected: its success and every error status it
// documents (but 500 and 503, which a healthy single node does not
// answer), each live response checked against the document by
// libopenapi-validator: status, headers (x-amzn-RequestId,
// x-amzn-ErrorType, Allow) and body schema. Paths and methods that no
// operation serves answer the NotFound and MethodNotAllowed components.
func TestOpenAPILiveResponses(t *testing.T) {
	model, v := loadOpenAPI(t)
	s := servertest.Start(t, fmt.Sprintf(openAPITestConfig, connectBackend(t)), server.Options{})
	o := &openAPITest{t: t, base: "http://" + s.Addr, model: model, v: v, client: &http.Client{Timeout: 10 * time.Second},
		seen: make(map[string]map[int]bool)}

	alice1, alice2 := o.dial("alice"), o.dial("alice")
	bob := o.dial("bob")
	carol := o.dial("carol")
	joiner := o.dial("")
	victim := o.dial("")

	big := bytes.Repeat([]byte("x"), 1025)          // over maxMessageBytes
	ignoredBig := bytes.Repeat([]byte("y"), 65<<10) // over what is hashed of an ignored body
	conn := func(id string) string { return "/prod/@connections/" + id }
	ok := func(m, p string, body []byte) request {
		return request{method: m, path: p, body: body, contentType: "text/plain"}
	}

	// @connections
	page := o.expect(request{method: "GET", path: "/prod/@connections?limit=2"}, 200, "")
	var list struct {
		Connections []struct{ ConnectionID string }
		NextCursor  string
	}
	if err := json.Unmarshal(page, &list); err != nil || len(list.Connections) != 2 || list.NextCursor == "" {
		t.Fatalf("first page %s", page)
	}
	o.expect(request{method: "GET", path: "/prod/@connections?limit=100&cursor=" + list.NextCursor}, 200, "")
	o.expect(request{method: "GET", path: "/prod/@connections?limit=0"}, 400, "BadRequestException")
	o.expect(request{method: "GET", path: "/prod/@connections?cursor=%21"}, 400, "BadRequestException")

	o.expect(ok("POST", conn(bob.id), []byte("hello bob")), 200, "")
	bob.waitFor(t, `{"type":"message","text":"hello bob"}`)
	o.expect(request{method: "GET", path: conn(bob.id), cred: withBearer}, 200, "")
	o.expect(request{method: "GET", path: conn(bob.id), cred: withSigV4}, 200, "")
	o.expect(ok("POST", conn(bob.id), big), 413, "PayloadTooLargeException")
	o.expect(ok("POST", conn("not*an*id"), []byte("x")), 400, "BadRequestException")
	o.expect(request{method: "GET", path: conn("not*an*id")}, 400, "BadRequestException")
	o.expect(request{method: "DELETE", path: conn("not*an*id")}, 400, "BadRequestException")
	o.expect(request{method: "DELETE", path: conn(victim.id)}, 204, "")
	victim.waitClosed(t)
	o.expect(ok("POST", conn(victim.id), []byte("x")), 410, "GoneException")
	o.expect(request{method: "GET", path: conn(victim.id)}, 410, "GoneException")
	o.expect(request{method: "DELETE", path: conn(victim.id)}, 410, "GoneException")

	// @channels: join and leave
	member := func(ch, id string) string { return "/prod/@channels/" + ch + "/connections/" + id }
	for _, ch := range []string{"room:a", "room:b", "plain:x"} {
		o.expect(request{method: "PUT", path: member(ch, joiner.id)}, 204, "")
		joiner.waitFor(t, `"subscribed"`)
	}
	o.expect(request{method: "PUT", path: member("room:c", joiner.id)}, 429, "LimitExceededException")
	o.expect(request{method: "PUT", path: member("room:a", victim.id)}, 410, "GoneException")
	o.expect(request{method: "PUT", path: member("nope", joiner.id)}, 400, "BadRequestException")
	o.expect(request{method: "DELETE", path: member("room:b", joiner.id)}, 204, "")
	o.expect(request{method: "DELETE", path: member("room:b", victim.id)}, 410, "GoneException")
	o.expect(request{method: "DELETE", path: member("bad%20name", joiner.id)}, 400, "BadRequestException")
	for _, c := range []*wsClient{alice1, bob} {
		o.expect(request{method: "PUT", path: member("room:a", c.id)}, 204, "")
	}

	// @channels: publish, in all three payload shapes of history
	pub := o.expect(request{method: "POST", path: "/prod/@channels/room:a?exclude=" + bob.id, body: []byte(`{"n":1}`), contentType: "application/json"}, 200, "")
	var pos struct {
		Recipients int
		Epoch      string
		Offset     uint64
	}
	if err := json.Unmarshal(pub, &pos); err != nil || pos.Recipients != 2 || pos.Epoch == "" || pos.Offset != 1 {
		t.Fatalf("publish answered %s, want 2 recipients (bob excluded) at offset 1", pub)
	}
	joiner.waitFor(t, `"data":{"n":1}`)
	o.expect(ok("POST", "/prod/@channels/room:a", []byte("plain words")), 200, "")
	o.expect(request{method: "POST", path: "/prod/@channels/room:a", body: []byte{0, 1, 0xff}, contentType: "application/octet-stream"}, 200, "")
	o.expect(ok("POST", "/prod/@channels/plain:x", []byte("no history")), 200, "")
	o.expect(ok("POST", "/prod/@channels/room:a?exclude=not*an*id", []byte("x")), 400, "BadRequestException")
	o.expect(ok("POST", "/prod/@channels/nope", []byte("x")), 400, "BadRequestException")
	o.expect(ok("POST", "/prod/@channels/room:a", big), 413, "PayloadTooLargeException")

	// @channels: channel and presence
	info := o.expect(request{method: "GET", path: "/prod/@channels/room:a?limit=1"}, 200, "")
	if !bytes.Contains(info, []byte(`"nextCursor"`)) || !bytes.Contains(info, []byte(`"presence"`)) {
		t.Fatalf("channel page %s, want presence and nextCursor", info)
	}
	o.expect(request{method: "GET", path: "/prod/@channels/plain:x"}, 200, "")
	o.expect(request{method: "GET", path: "/prod/@channels/room:a?limit=x"}, 400, "BadRequestException")

	// @channels: history
	hist := o.expect(request{method: "GET", path: "/prod/@channels/room:a/history?since=0&limit=10&epoch=" + pos.Epoch}, 200, "")
	for _, want := range []string{`"data":{"n":1}`, `"text":"plain words"`, `"b64":"AAH/"`} {
		if !bytes.Contains(hist, []byte(want)) {
			t.Errorf("history %s lacks %s", hist, want)
		}
	}
	o.expect(request{method: "GET", path: "/prod/@channels/room:a/history?epoch=another"}, 409, "ConflictException")
	o.expect(request{method: "GET", path: "/prod/@channels/plain:x/history"}, 400, "BadRequestException")
	o.expect(request{method: "GET", path: "/prod/@channels/room:a/history?since=-1"}, 400, "BadRequestException")

	// @users
	sent := o.expect(ok("POST", "/prod/@users/alice", []byte("hi alice")), 200, "")
	if string(sent) != `{"recipients":2}` {
		t.Fatalf("post to alice: %s", sent)
	}
	alice2.waitFor(t, "hi alice")
	o.expect(ok("POST", "/prod/@users/alice", big), 413, "PayloadTooLargeException")
	o.expect(ok("POST", "/prod/@users/a,b", []byte("x")), 400, "BadRequestException")
	o.expect(request{method: "GET", path: "/prod/@users/alice"}, 200, "")
	o.expect(request{method: "GET", path: "/prod/@users/nobody"}, 200, "")
	o.expect(request{method: "GET", path: "/prod/@users/a,b"}, 400, "BadRequestException")
	o.expect(request{method: "DELETE", path: "/prod/@users/carol"}, 200, "")
	carol.waitClosed(t)
	o.expect(request{method: "DELETE", path: "/prod/@users/a,b"}, 400, "BadRequestException")

	// @broadcast
	o.expect(ok("POST", "/prod/@broadcast?exclude="+bob.id, []byte("to all")), 200, "")
	joiner.waitFor(t, "to all")
	o.expect(ok("POST", "/prod/@broadcast?exclude=not*an*id", []byte("x")), 400, "BadRequestException")
	o.expect(ok("POST", "/prod/@broadcast", big), 413, "PayloadTooLargeException")

	// @batch
	batch := fmt.Sprintf(`{"operations":[
		{"channel":"room:a","data":{"n":2},"exclude":%q},
		{"user":"alice","text":"batched"},
		{"connectionId":%q,"b64":"AAE="},
		{"connectionId":%q,"text":"gone"},
		{"broadcast":true,"data":[1,2]},
		{"channel":"nope","text":"x"}]}`, bob.id, bob.id, victim.id)
	results := o.expect(request{method: "POST", path: "/prod/@batch", body: []byte(batch), contentType: "application/json"}, 200, "")
	if !bytes.Contains(results, []byte(`"GoneException"`)) || !bytes.Contains(results, []byte(`"offset":4`)) {
		t.Fatalf("batch results %s", results)
	}
	o.expect(request{method: "POST", path: "/prod/@batch", body: []byte(`{"operations":[{"channel":"room:a"}]}`), contentType: "application/json"}, 400, "BadRequestException")
	o.expect(request{method: "POST", path: "/prod/@batch", body: []byte(`{"operations":[{"broadcast":true,"text":"` + string(big) + `"}]}`), contentType: "application/json"}, 413, "PayloadTooLargeException")

	// Every operation: 403 without credentials, with a wrong key and on a
	// stage that is not served; and 413 for a SigV4-signed body the
	// operation ignores (or, for a data POST, larger than its limit).
	fill := strings.NewReplacer("{stage}", "prod", "{connectionId}", bob.id, "{channel}", "room:a", "{user}", "alice")
	for _, op := range manage.Operations() {
		p := fill.Replace(op.Path)
		o.expect(request{method: op.Method, path: p, cred: withNone}, 403, "ForbiddenException")
		o.expect(request{method: op.Method, path: p, cred: withWrongKey}, 403, "ForbiddenException")
		o.expect(request{method: op.Method, path: strings.Replace(p, "/prod/", "/unserved/", 1)}, 403, "ForbiddenException")
		if op.Path != "/{stage}/@batch" { // hashed up to 16 MiB; its 413 is above
			o.expect(request{method: op.Method, path: p, body: ignoredBig, contentType: "text/plain", cred: withSigV4}, 413, "PayloadTooLargeException")
		}
	}

	// Paths and methods no operation serves.
	for _, p := range []string{"/prod/@connections/a/b", "/prod/@channels/room:a/members", "/prod/@users/", "/prod/@broadcast/x", "/prod/@batch/"} {
		o.expectComponent(request{method: "GET", path: p}, 404, "NotFound")
	}
	for _, op := range manage.Operations() {
		p := fill.Replace(op.Path)
		_, methods, _ := manage.RouteOf(p)
		for _, m := range []string{"GET", "PUT", "POST", "DELETE", "PATCH"} {
			if slices.Contains(methods, m) {
				continue
			}
			h := o.expectComponent(request{method: m, path: p}, 405, "MethodNotAllowed")
			if got, want := h.Get("Allow"), strings.Join(methods, ", "); got != want {
				t.Errorf("%s %s: Allow %q, want %q", m, p, got, want)
			}
		}
	}

	// Every documented status but 500 and 503 was seen for every
	// operation.
	for op, desc := range documentedOperations(model) {
		for code := range desc.Responses.Codes.KeysFromOldest() {
			if code == "500" || code == "503" {
				continue
			}
			n, _ := strconv.Atoi(code)
			if !o.seen[desc.OperationId][n] {
				t.Errorf("%s %s (%s): documented %s never seen; seen %v", op.Method, op.Path, desc.OperationId, code, slices.Sorted(maps.Keys(o.seen[desc.OperationId])))
			}
		}
	}
}

// The validator the live test relies on rejects what the document does
// not allow: a response without its request id, with a field the schema
// lacks, with an undocumented status, or with an error type that is not
// the status's.
func TestOpenAPIValidatorRejects(t *testing.T) {
	_, v := loadOpenAPI(t)
	req := httptest.NewRequest("GET", "http://localhost:8080/prod/@connections/Kf3aQ9xZb1Tn2wE=", nil)
	good := `{"connectedAt":"2026-03-04T04:06:07.891Z","identity":{"sourceIp":"192.0.2.1","userAgent":"x"},"lastActiveAt":"2026-03-04T04:06:09.391Z"}`
	response := func(status int, body string, hdr map[string]string) *http.Response {
		h := http.Header{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {"3f1c7a52-9a0e-4d8b-b3c5-6c0f1d2e8a47"}}
		for k, v := range hdr {
			if v == "" {
				h.Del(k)
			} else {
				h.Set(k, v)
			}
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}
	}
	if ok, errs := v.ValidateHttpResponse(req, response(200, good, nil)); !ok {
		t.Fatalf("a good response is refused:%s", describe(errs))
	}
	bad := map[string]*http.Response{
		"no request id":   response(200, good, map[string]string{"X-Amzn-Requestid": ""}),
		"bad request id":  response(200, good, map[string]string{"X-Amzn-Requestid": "nope"}),
		"extra field":     response(200, strings.Replace(good, `{`, `{"extra":1,`, 1), nil),
		"no milliseconds": response(200, strings.Replace(good, ".891Z", "Z", 1), nil),
		"status 409":      response(409, `{"__type":"ConflictException","message":"x"}`, map[string]string{"x-amzn-ErrorType": "ConflictException"}),
		"wrong type":      response(410, `{"__type":"GoneException","message":"x"}`, map[string]string{"x-amzn-ErrorType": "ForbiddenException"}),
		"wrong body type": response(410, `{"__type":"ForbiddenException","message":"x"}`, map[string]string{"x-amzn-ErrorType": "GoneException"}),
		"no error type":   response(410, `{"__type":"GoneException","message":"x"}`, nil),
	}
	for name, resp := range bad {
		if ok, _ := v.ValidateHttpResponse(req, resp); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The request validator knows the batch body's rules: one target, one
// payload, exclude only with channel or broadcast.
func TestOpenAPIBatchRequestSchema(t *testing.T) {
	_, v := loadOpenAPI(t)
	check := func(body string) bool {
		req := httptest.NewRequest("POST", "http://localhost:8080/prod/@batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-api-key", testAPIKey)
		ok, _ := v.ValidateHttpRequestSync(req)
		return ok
	}
	for _, body := range []string{
		`{"operations":[]}`,
		`{"operations":[{"channel":"a","data":null,"exclude":""},{"user":"u","text":"t"},{"connectionId":"c","b64":"AAE="},{"broadcast":true,"data":[1],"exclude":"x"}]}`,
	} {
		if !check(body) {
			t.Errorf("refused %s", body)
		}
	}
	for _, body := range []string{
		`{}`,
		`{"operations":[{"channel":"a","user":"u","text":"t"}]}`,
		`{"operations":[{"channel":"a"}]}`,
		`{"operations":[{"channel":"a","text":"t","data":1}]}`,
		`{"operations":[{"user":"u","text":"t","exclude":"x"}]}`,
		`{"operations":[{"broadcast":false,"text":"t"}]}`,
		`{"operations":[{"channel":"a","text":"t","extra":1}]}`,
		`{"operations":[],"more":1}`,
	} {
		if check(body) {
			t.Errorf("accepted %s", body)
		}
	}
}

// The binary serves the document on its main listener, as YAML and JSON,
// to callers without credentials (the management API here admits none
// without), with Cache-Control and an ETag; other methods get 405.
func TestOpenAPIServed(t *testing.T) {
	s := servertest.Start(t, fmt.Sprintf(openAPITestConfig, connectBackend(t)), server.Options{})
	get := func(method, path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+s.Addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	resp, yml := get("GET", "/openapi.yaml")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(yml, manage.OpenAPIYAML()) {
		t.Fatalf("GET /openapi.yaml: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(yml))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	etag := resp.Header.Get("ETag")
	if resp, body := get("GET", "/openapi.yaml", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("GET with If-None-Match %s: %d, %d bytes", etag, resp.StatusCode, len(body))
	}
	if resp, body := get("HEAD", "/openapi.yaml"); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(yml)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if resp, _ := get(m, "/openapi.yaml"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}

	// The JSON is the same document: libopenapi reads it as valid, and it
	// decodes to what the YAML decodes to.
	resp, js := get("GET", "/openapi.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("ETag") == etag {
		t.Fatalf("GET /openapi.json: %d %q, ETag %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("ETag"))
	}
	doc, err := libopenapi.NewDocument(js)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("openapi.json is not valid:%s", describe(errs))
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(yml, &fromYAML); err != nil {
		t.Fatal(err)
	}
	// JSON numbers decode as float64, YAML's as int: compare as JSON.
	again, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var fromYAMLJSON any
	if err := json.Unmarshal(again, &fromYAMLJSON); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromYAMLJSON, fromJSON); diff != "" {
		t.Errorf("openapi.json differs from openapi.yaml (-yaml +json):\n%s", diff)
	}
}
