package server

// The official AWS SDK for Go v2 client of the management API
// (apigatewaymanagementapi), pointed at a running Switchboard: what backend
// code written for API Gateway does, against real WebSocket clients. The
// listing and percent-encoding tests use plain net/http, because the SDK
// has no listing and never encodes '@'.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/event"
)

// sdkRecorder is the SDK's HTTP client: a private transport (no proxy, idle
// connections closed when the test ends) that records the escaped path of
// every request, so tests can check what went on the wire.
type sdkRecorder struct {
	client *http.Client
	mu     sync.Mutex
	paths  []string
	// body is the last response's body: the Go SDK keeps no message of a
	// ForbiddenException (the model gives it no members), so tests read
	// the message here.
	body []byte
}

func (r *sdkRecorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.paths = append(r.paths, req.Method+" "+req.URL.EscapedPath())
	r.mu.Unlock()
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.body = body
	r.mu.Unlock()
	return resp, nil
}

// lastMessage returns the "message" of the last response's JSON body.
func (r *sdkRecorder) lastMessage() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(r.body, &m)
	return m.Message
}

// lastPath returns the method and escaped path of the last request.
func (r *sdkRecorder) lastPath() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.paths) == 0 {
		return ""
	}
	return r.paths[len(r.paths)-1]
}

// sdkHTTPClient returns a client on its own transport, which never uses a
// proxy and whose idle connections are closed when the test ends.
func sdkHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{Proxy: nil, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// sdkClient returns an SDK client for the management API of stage on e,
// configured as a backend on AWS would be (endpoint
// http://{domainName}/{stage}), with dummy static credentials, so every
// request is SigV4-signed. The client is built from Options alone: no
// shared config or credentials file, no environment, no instance metadata,
// and no retries, so nothing reaches another address and failures are fast.
func sdkClient(t *testing.T, e *env, stage string) (*apigatewaymanagementapi.Client, *sdkRecorder) {
	t.Helper()
	return sdkClientWith(t, e, stage, "AKIDEXAMPLE", "secret", "")
}

// sdkClientWith is sdkClient with the given static credentials (and
// session token, "" for none). The environment is made empty of AWS
// configuration too (no config or credentials file, no instance
// metadata), in case anything in the SDK looks.
func sdkClientWith(t *testing.T, e *env, stage, id, secret, token string) (*apigatewaymanagementapi.Client, *sdkRecorder) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	rec := &sdkRecorder{client: sdkHTTPClient(t)}
	endpoint := e.base
	if stage != "" {
		endpoint += "/" + stage
	}
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:           "us-east-1",
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, token)),
		BaseEndpoint:     aws.String(endpoint),
		HTTPClient:       rec,
		RetryMaxAttempts: 1,
	}), rec
}

// sdkCtx bounds one SDK call.
func sdkCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sdkConnID returns the connection id of c on the seed chat API: it sends
// a sendMessage whose broadcast carries the sender's id and reads until its
// own message comes back. Other open clients receive the broadcast too.
func sdkConnID(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	nonce := "whoami " + event.NewID()
	write(t, c, fmt.Sprintf(`{"action":"sendMessage","message":%q}`, nonce))
	for {
		m := readJSON(t, c)
		if m["message"] != nonce {
			continue
		}
		id, _ := m["sender"].(string)
		if !event.ValidID(id) {
			t.Fatalf("broadcast sender %q is not a connection id", m["sender"])
		}
		return id
	}
}

// sdkWantErr fails the test unless err is (or wraps) an E.
func sdkWantErr[E error](t *testing.T, what string, err error) E {
	t.Helper()
	e, ok := errors.AsType[E](err)
	if !ok {
		var want E
		t.Fatalf("%s: got error %v (%T), want %T", what, err, err, want)
	}
	return e
}

// sdkWantGone checks that Get, Post and Delete all answer GoneException.
func sdkWantGone(t *testing.T, api *apigatewaymanagementapi.Client, id string) {
	t.Helper()
	_, err := api.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	sdkWantErr[*types.GoneException](t, "GetConnection "+id, err)
	_, err = api.PostToConnection(sdkCtx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
	sdkWantErr[*types.GoneException](t, "PostToConnection "+id, err)
	_, err = api.DeleteConnection(sdkCtx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
	sdkWantErr[*types.GoneException](t, "DeleteConnection "+id, err)
}

func sdkPost(t *testing.T, api *apigatewaymanagementapi.Client, id string, data []byte) error {
	t.Helper()
	_, err := api.PostToConnection(sdkCtx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: data})
	return err
}

// TestSDKPostToConnection: PostToConnection delivers its Data byte for byte,
// as a text frame when it is UTF-8 and a binary frame when it is not, and
// the SDK's percent-encoded id (the trailing '=' as %3D) is decoded.
func TestSDKPostToConnection(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	api, rec := sdkClient(t, e, "production")

	text := []byte(`{"note":"héllo, Switchboard ✓","n":1}`)
	if err := sdkPost(t, api, id, text); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	wantPath := "POST /production/@connections/" + strings.TrimSuffix(id, "=") + "%3D"
	if got := rec.lastPath(); got != wantPath {
		t.Errorf("the SDK sent %q, want %q (the '=' of the id percent-encoded)", got, wantPath)
	}
	if typ, got := read(t, c); typ != websocket.MessageText || !bytes.Equal(got, text) {
		t.Errorf("client got %v %q, want text %q", typ, got, text)
	}

	bin := []byte{0xff, 0xfe, 0x00, 0x80, 'a', 0xc3}
	if utf8.Valid(bin) {
		t.Fatal("test data is valid UTF-8")
	}
	if err := sdkPost(t, api, id, bin); err != nil {
		t.Fatalf("PostToConnection (binary): %v", err)
	}
	if typ, got := read(t, c); typ != websocket.MessageBinary || !bytes.Equal(got, bin) {
		t.Errorf("client got %v %x, want binary %x", typ, got, bin)
	}
}

// TestSDKGetConnection: GetConnection's timestamps parse as the SDK's
// date-time and are plausible, and the identity is the client's address
// and User-Agent header.
func TestSDKGetConnection(t *testing.T) {
	const ua = "switchboard-sdk-test/1.0 (+https://example.com)"
	e := startServer(t, "")
	c := e.dial("production", &websocket.DialOptions{HTTPHeader: http.Header{"User-Agent": {ua}}})
	id := sdkConnID(t, c) // also makes the connection active after it connected
	api, _ := sdkClient(t, e, "production")

	out, err := api.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	now := time.Now()
	if out.ConnectedAt == nil || out.LastActiveAt == nil || out.Identity == nil {
		t.Fatalf("GetConnection left fields nil: %+v", out)
	}
	connected, active := *out.ConnectedAt, *out.LastActiveAt
	for name, ts := range map[string]time.Time{"connectedAt": connected, "lastActiveAt": active} {
		if d := now.Sub(ts); d < -time.Second || d > 5*time.Second {
			t.Errorf("%s = %v is %v before now (%v)", name, ts, d, now)
		}
	}
	if active.Before(connected) {
		t.Errorf("lastActiveAt %v is before connectedAt %v", active, connected)
	}
	if got := aws.ToString(out.Identity.SourceIp); got != "127.0.0.1" {
		t.Errorf("identity.sourceIp = %q, want 127.0.0.1", got)
	}
	if got := aws.ToString(out.Identity.UserAgent); got != ua {
		t.Errorf("identity.userAgent = %q, want %q", got, ua)
	}
}

// TestSDKDeleteConnection: DeleteConnection closes the client with 1000,
// and the connection is gone for every operation afterwards.
func TestSDKDeleteConnection(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	api, _ := sdkClient(t, e, "production")

	if _, err := api.DeleteConnection(sdkCtx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if code := closeStatus(t, c); code != websocket.StatusNormalClosure {
		t.Errorf("client close code = %d, want 1000", code)
	}
	sdkWantGone(t, api, id)
}

// TestSDKDeleteConnectionDisconnectEvent: after DeleteConnection, the
// backend gets exactly one $disconnect, with the status and reason API
// Gateway reports for a deleted connection.
func TestSDKDeleteConnectionDisconnectEvent(t *testing.T) {
	b := newBackend(t)
	e := startServer(t, backendAPI(b.srv.URL, ""))
	c := e.dial("test", nil)
	id := ctxField(b.waitEvents("$connect", 1)[0], "connectionId")
	api, _ := sdkClient(t, e, "test")

	if _, err := api.DeleteConnection(sdkCtx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if code := closeStatus(t, c); code != websocket.StatusNormalClosure {
		t.Errorf("client close code = %d, want 1000", code)
	}
	b.waitEvents("$disconnect", 1)

	// A barrier for late duplicates: a second connection that the client
	// closes, whose $disconnect comes after any the first one caused.
	c2 := e.dial("test", nil)
	id2 := ctxField(b.waitEvents("$connect", 2)[1], "connectionId")
	if err := c2.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close second client: %v", err)
	}
	waitFor(t, "the second connection's $disconnect", func() bool {
		return slices.ContainsFunc(b.eventsFor("$disconnect"), func(ev map[string]any) bool {
			return ctxField(ev, "connectionId") == id2
		})
	})

	var mine []map[string]any
	for _, ev := range b.eventsFor("$disconnect") {
		if ctxField(ev, "connectionId") == id {
			mine = append(mine, ev)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("backend got %d $disconnect events for %s, want 1", len(mine), id)
	}
	if got := ctxField(mine[0], "disconnectStatusCode"); got != "1000" {
		t.Errorf("disconnectStatusCode = %s, want 1000", got)
	}
	if got := ctxField(mine[0], "disconnectReason"); got != "Connection Closed Normally" {
		t.Errorf("disconnectReason = %q, want %q", got, "Connection Closed Normally")
	}
}

// TestSDKGoneUnknownID: a well-formed id that never connected is gone.
func TestSDKGoneUnknownID(t *testing.T) {
	e := startServer(t, "")
	api, _ := sdkClient(t, e, "production")
	id := event.NewID()
	if !event.ValidID(id) {
		t.Fatalf("event.NewID() = %q is not well-formed", id)
	}
	sdkWantGone(t, api, id)
}

// TestSDKGoneAfterClientClose: once the server has seen the client's close,
// the connection is gone.
func TestSDKGoneAfterClientClose(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	api, _ := sdkClient(t, e, "production")
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("client close: %v", err)
	}
	waitFor(t, "GetConnection to answer GoneException", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
		if _, ok := errors.AsType[*types.GoneException](err); ok {
			return true
		}
		if err != nil {
			t.Fatalf("GetConnection after close: %v", err)
		}
		return false
	})
	sdkWantGone(t, api, id)
}

// TestSDKPayloadLimit: Data of exactly the stage's maxMessageBytes (128 KiB
// in the seed) is delivered intact; one byte more is PayloadTooLarge.
func TestSDKPayloadLimit(t *testing.T) {
	const limit = 128 << 10
	e := startServer(t, "")
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	api, _ := sdkClient(t, e, "production")

	err := sdkPost(t, api, id, bytes.Repeat([]byte("y"), limit+1))
	ptl := sdkWantErr[*types.PayloadTooLargeException](t, "PostToConnection of 128 KiB + 1", err)
	t.Logf("413 message: %s", ptl.ErrorMessage())

	data := make([]byte, limit)
	for i := range data {
		data[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i*7%36]
	}
	if err := sdkPost(t, api, id, data); err != nil {
		t.Fatalf("PostToConnection of 128 KiB: %v", err)
	}
	typ, got := read(t, c)
	if typ != websocket.MessageText || !bytes.Equal(got, data) {
		t.Errorf("client got %v of %d bytes, want text of %d bytes equal to the data", typ, len(got), len(data))
	}
}

// TestSDKWrongStage: an endpoint whose stage this server does not serve is
// ForbiddenException, as on AWS, even for an id that is open elsewhere.
func TestSDKWrongStage(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	api, _ := sdkClient(t, e, "staging")

	err := sdkPost(t, api, id, []byte("x"))
	sdkWantErr[*types.ForbiddenException](t, "PostToConnection on stage staging", err)
	_, err = api.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	sdkWantErr[*types.ForbiddenException](t, "GetConnection on stage staging", err)
	_, err = api.DeleteConnection(sdkCtx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
	sdkWantErr[*types.ForbiddenException](t, "DeleteConnection on stage staging", err)
}

// TestSDKMissingStage: an endpoint without the stage (a common mistake,
// http://host instead of http://host/{stage}) is ForbiddenException, as
// AWS answers 403 {"message":"Forbidden"} (reference §4.1).
func TestSDKMissingStage(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	api, rec := sdkClient(t, e, "")
	err := sdkPost(t, api, id, []byte("x"))
	sdkWantErr[*types.ForbiddenException](t, rec.lastPath(), err)
}

// TestSDKAPIKeyWithoutLoopback: with allowLoopback off and no access keys
// configured, the SDK's SigV4 signature cannot be verified and is refused
// with ForbiddenException, and a configured API key as a bearer token is
// admitted.
func TestSDKAPIKeyWithoutLoopback(t *testing.T) {
	const key = "sdk-test-key-0123456789abcdef"
	e := startServer(t, "", func(cfg *config.Config) {
		cfg.Management.AllowLoopback = new(false)
		cfg.Management.APIKeys = []config.APIKey{{Name: "backend", Key: key}}
	})
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	api, _ := sdkClient(t, e, "production")

	err := sdkPost(t, api, id, []byte("signed"))
	sdkWantErr[*types.ForbiddenException](t, "SigV4 PostToConnection", err)
	_, err = api.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	sdkWantErr[*types.ForbiddenException](t, "SigV4 GetConnection", err)

	hc := sdkHTTPClient(t)
	post := func(auth string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.base+"/production/@connections/"+url.PathEscape(id), strings.NewReader("with key"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, auth := range []string{"", "Bearer not-the-key-0123456789", "Basic " + key} {
		resp := post(auth)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" || !json.Valid(body) {
			t.Errorf("Authorization %q: %d %s %q, want 403 ForbiddenException with a JSON body",
				auth, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
		}
	}
	resp := post("Bearer " + key)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST with the API key: %d %q, want 200", resp.StatusCode, body)
	}
	if typ, got := read(t, c); typ != websocket.MessageText || string(got) != "with key" {
		t.Errorf("client got %v %q, want text %q", typ, got, "with key")
	}
}

// sdkListPage is the body of GET /{stage}/@connections.
type sdkListPage struct {
	Connections []struct {
		ConnectionID string `json:"connectionId"`
		ConnectedAt  string `json:"connectedAt"`
		LastActiveAt string `json:"lastActiveAt"`
		Identity     struct {
			SourceIP  string `json:"sourceIp"`
			UserAgent string `json:"userAgent"`
		} `json:"identity"`
	} `json:"connections"`
	NextCursor *string `json:"nextCursor"`
}

// TestSDKListConnections: GET /{stage}/@connections?limit=2 pages through
// five connections oldest first, following nextCursor, with each id once.
func TestSDKListConnections(t *testing.T) {
	e := startServer(t, "")
	var want []string
	for range 5 {
		c := e.dial("production", nil)
		want = append(want, sdkConnID(t, c)) // in connection order
	}
	hc := sdkHTTPClient(t)

	var got []string
	cursor := ""
	for pages := 1; ; pages++ {
		if pages > 5 {
			t.Fatalf("still paging after %d pages; ids so far: %v", pages-1, got)
		}
		u := e.base + "/production/@connections?limit=2"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %q", u, resp.StatusCode, body)
		}
		var page sdkListPage
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("GET %s: %v in %q", u, err, body)
		}
		if len(page.Connections) > 2 {
			t.Errorf("page %d has %d connections, limit 2", pages, len(page.Connections))
		}
		for _, c := range page.Connections {
			if slices.Contains(got, c.ConnectionID) {
				t.Errorf("page %d repeats %s", pages, c.ConnectionID)
			}
			if c.Identity.SourceIP != "127.0.0.1" || c.ConnectedAt == "" || c.LastActiveAt == "" {
				t.Errorf("page %d: incomplete entry %+v", pages, c)
			}
			got = append(got, c.ConnectionID)
		}
		if page.NextCursor == nil {
			if pages != 3 {
				t.Errorf("%d pages of limit 2 for 5 connections, want 3", pages)
			}
			break
		}
		if *page.NextCursor == "" {
			t.Fatalf("page %d: nextCursor is present but empty", pages)
		}
		cursor = *page.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed ids %v, want every connection once, oldest first: %v", got, want)
	}
}

// TestSDKPercentEncodedConnectionsSegment: %40connections in the raw
// request path (as awscurl sends it) works like @connections for GET, POST
// and DELETE. The URL is opaque so that Go sends the path as written.
func TestSDKPercentEncodedConnectionsSegment(t *testing.T) {
	e := startServer(t, "")
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	hc := sdkHTTPClient(t)
	host := strings.TrimPrefix(e.base, "http://")
	rawPath := "/production/%40connections/" + strings.TrimSuffix(id, "=") + "%3D"
	do := func(method, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, e.base, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.URL = &url.URL{Scheme: "http", Host: host, Opaque: rawPath}
		if got := req.URL.RequestURI(); got != rawPath {
			t.Fatalf("request line path %q, want %q", got, rawPath)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}

	resp, body := do(http.MethodGet, "")
	var info struct {
		Identity struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &info) != nil || info.Identity.SourceIP != "127.0.0.1" {
		t.Errorf("GET %s: %d %q, want 200 with the connection", rawPath, resp.StatusCode, body)
	}

	resp, body = do(http.MethodPost, "via %40")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %q, want 200", rawPath, resp.StatusCode, body)
	}
	if typ, got := read(t, c); typ != websocket.MessageText || string(got) != "via %40" {
		t.Errorf("client got %v %q, want text %q", typ, got, "via %40")
	}

	resp, body = do(http.MethodDelete, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d %q, want 204", rawPath, resp.StatusCode, body)
	}
	if code := closeStatus(t, c); code != websocket.StatusNormalClosure {
		t.Errorf("client close code = %d, want 1000", code)
	}
}

// The access keys of the SigV4 tests: one for every stage, one limited to
// staging. The secrets are what backends have as AWS_SECRET_ACCESS_KEY.
const (
	sdkKeyID        = "AKIAIOSFODNN7EXAMPLE"
	sdkSecret       = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	sdkStagingKeyID = "AKIAI44QH8DHBEXAMPLE"
	sdkStagingKey   = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	sdkAPIKey       = "sdk-test-key-0123456789abcdef"
)

// startSigV4Server serves the seed chat on production and a copy of it on
// staging, with allowLoopback off: only SigV4 by the access keys above
// and the API key are admitted.
func startSigV4Server(t *testing.T) *env {
	t.Helper()
	return startServer(t, "", func(cfg *config.Config) {
		staging := cfg.APIs[0]
		staging.Stage = "staging"
		cfg.APIs = append(cfg.APIs, staging)
		cfg.Management.AllowLoopback = new(false)
		cfg.Management.AccessKeys = []config.AccessKey{
			{ID: sdkKeyID, Secret: sdkSecret},
			{ID: sdkStagingKeyID, Secret: sdkStagingKey, Stages: []string{"staging"}},
		}
		cfg.Management.APIKeys = []config.APIKey{{Name: "backend", Key: sdkAPIKey}}
	})
}

// TestSDKSigV4: with allowLoopback off, the SDK's signed PostToConnection,
// GetConnection and DeleteConnection are verified and served, for an id
// whose '=' the SDK percent-encodes, with and without a session token.
func TestSDKSigV4(t *testing.T) {
	e := startSigV4Server(t)
	for _, token := range []string{"", "FwoGZXIvYXdzEJr//////////wEaDOh+sessiontoken=="} {
		c := e.dial("production", nil)
		id := sdkConnID(t, c)
		api, rec := sdkClientWith(t, e, "production", sdkKeyID, sdkSecret, token)

		if err := sdkPost(t, api, id, []byte("signed hello")); err != nil {
			t.Fatalf("PostToConnection (token %q): %v", token, err)
		}
		wantPath := "POST /production/@connections/" + strings.TrimSuffix(id, "=") + "%3D"
		if got := rec.lastPath(); got != wantPath {
			t.Errorf("the SDK sent %q, want %q", got, wantPath)
		}
		if typ, got := read(t, c); typ != websocket.MessageText || string(got) != "signed hello" {
			t.Errorf("client got %v %q, want text %q", typ, got, "signed hello")
		}
		out, err := api.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetConnection: %v", err)
		}
		if got := aws.ToString(out.Identity.SourceIp); got != "127.0.0.1" {
			t.Errorf("identity.sourceIp = %q", got)
		}
		if _, err := api.DeleteConnection(sdkCtx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		if code := closeStatus(t, c); code != websocket.StatusNormalClosure {
			t.Errorf("client close code = %d, want 1000", code)
		}
		sdkWantGone(t, api, id)
	}
}

// TestSDKSigV4Refused: a wrong secret, an unknown access key and a key of
// another stage are ForbiddenException with AWS's messages, and nothing is
// delivered; a key scoped to staging works there.
func TestSDKSigV4Refused(t *testing.T) {
	e := startSigV4Server(t)
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	tests := []struct {
		name, id, secret, msg string
	}{
		{"wrong secret", sdkKeyID, sdkStagingKey, "The request signature we calculated does not match the signature you provided."},
		{"unknown key", "AKIAUNKNOWNEXAMPLE00", sdkSecret, "The security token included in the request is invalid."},
		{"key of another stage", sdkStagingKeyID, sdkStagingKey,
			`User: ` + sdkStagingKeyID + ` is not authorized to perform: execute-api:ManageConnections on stage "production"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, rec := sdkClientWith(t, e, "production", tt.id, tt.secret, "")
			err := sdkPost(t, api, id, []byte("must not arrive"))
			sdkWantErr[*types.ForbiddenException](t, "PostToConnection", err)
			if msg := rec.lastMessage(); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not contain %q", msg, tt.msg)
			}
			_, err = api.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			sdkWantErr[*types.ForbiddenException](t, "GetConnection", err)
			_, err = api.DeleteConnection(sdkCtx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
			sdkWantErr[*types.ForbiddenException](t, "DeleteConnection", err)
		})
	}
	// The connection is untouched: the next message it gets is this one.
	ok, _ := sdkClientWith(t, e, "production", sdkKeyID, sdkSecret, "")
	if err := sdkPost(t, ok, id, []byte("only this")); err != nil {
		t.Fatal(err)
	}
	if _, got := read(t, c); string(got) != "only this" {
		t.Errorf("client got %q, want %q", got, "only this")
	}

	sc := e.dial("staging", nil)
	sid := sdkConnID(t, sc)
	staging, _ := sdkClientWith(t, e, "staging", sdkStagingKeyID, sdkStagingKey, "")
	if err := sdkPost(t, staging, sid, []byte("staging only")); err != nil {
		t.Fatalf("PostToConnection with the staging key on staging: %v", err)
	}
	if _, got := read(t, sc); string(got) != "staging only" {
		t.Errorf("staging client got %q", got)
	}
}

// TestSDKSigV4Alternatives: with access keys configured and allowLoopback
// off, the API key as a bearer token still works, and a request without
// credentials (even from loopback) is 403.
func TestSDKSigV4Alternatives(t *testing.T) {
	e := startSigV4Server(t)
	c := e.dial("production", nil)
	id := sdkConnID(t, c)
	hc := sdkHTTPClient(t)
	post := func(auth string) (int, string, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.base+"/production/@connections/"+url.PathEscape(id), strings.NewReader("plain"))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body
	}
	if status, _, body := post("Bearer " + sdkAPIKey); status != http.StatusOK {
		t.Fatalf("POST with the API key: %d %s", status, body)
	}
	if _, got := read(t, c); string(got) != "plain" {
		t.Errorf("client got %q", got)
	}
	status, typ, body := post("")
	if status != http.StatusForbidden || typ != "ForbiddenException" || !strings.Contains(string(body), "Missing Authentication Token") {
		t.Errorf("POST without credentials: %d %s %s, want 403 ForbiddenException Missing Authentication Token", status, typ, body)
	}
}
