package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// realAWS are the operator's AWS credentials and configuration, as
// Switchboard's environment might hold them; every value contains "REAL".
var realAWS = map[string]string{
	"AWS_ACCESS_KEY_ID":                      "AKIAREALREALREAL0000",
	"AWS_SECRET_ACCESS_KEY":                  "REAL/secret/access/key/0000000000000000",
	"AWS_SESSION_TOKEN":                      "REAL-session-token",
	"AWS_PROFILE":                            "REAL-production",
	"AWS_CONFIG_FILE":                        "/REAL/.aws/config",
	"AWS_SHARED_CREDENTIALS_FILE":            "/REAL/.aws/credentials",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "http://169.254.170.2/REAL",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN":      "REAL-container-token",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/REAL",
	"AWS_WEB_IDENTITY_TOKEN_FILE":            "/REAL/token",
	"AWS_ROLE_ARN":                           "arn:aws:iam::123456789012:role/REAL",
}

// envDumpAPI serves stage fn, whose $default route answers with the
// environment of a python worker (testdata/envdump), and stage other, a
// second API with the seed chat's routes. credentials is the function's
// function.credentials ("" for the default).
func envDumpAPI(t *testing.T, credentials string) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs python3: %v", err)
		}
		t.Skipf("needs python3: %v", err)
	}
	dir, err := filepath.Abs("testdata/envdump")
	if err != nil {
		t.Fatal(err)
	}
	extra := ""
	if credentials != "" {
		extra = "          credentials: " + credentials + "\n"
	}
	return fmt.Sprintf(`
apis:
  - id: fn
    stage: fn
    routeSelectionExpression: $request.body.action
    routes:
      $default: {integration: fn, routeResponseSelectionExpression: $default}
    integrations:
      fn:
        type: function
        timeout: 10s
        maxConcurrency: 1
        function:
          runtime: python
          directory: %s
          handler: app.handler
%s  - id: other
    stage: other
    routeSelectionExpression: $request.body.action
    routes:
      sendMessage: {action: {type: broadcast}}
`, dir, extra)
}

// workerEnv asks the envdump worker of stage fn for its environment.
func (e *env) workerEnv() map[string]string {
	e.t.Helper()
	c := e.dial("fn", nil)
	write(e.t, c, "env")
	_, b := read(e.t, c)
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("the worker answered %q: %v", b, err)
	}
	return m
}

// sdkWithKeys is a management API client for stage, as a handler's SDK
// would build it from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, without
// touching the environment.
func sdkWithKeys(t *testing.T, e *env, stage, id, secret string) (*apigatewaymanagementapi.Client, *sdkRecorder) {
	rec := &sdkRecorder{client: sdkHTTPClient(t)}
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint:     aws.String(e.base + "/" + stage),
		HTTPClient:       rec,
		RetryMaxAttempts: 1,
	}), rec
}

// By default a worker gets none of Switchboard's AWS credentials or
// configuration, only a key pair generated for it, and AWS_REGION. That
// key is verified with SigV4 on its API's stage, with development mode off,
// and refused on another stage.
func TestFunctionGeneratedCredentials(t *testing.T) {
	noAWSEnv(t)
	for k, v := range realAWS {
		t.Setenv(k, v)
	}
	e := startServer(t, envDumpAPI(t, ""), closedManagement)
	wenv := e.workerEnv()

	for k, v := range wenv {
		if strings.Contains(v, "REAL") {
			t.Errorf("the worker got %s=%q from Switchboard's environment", k, v)
		}
	}
	for k := range realAWS {
		if _, ok := wenv[k]; ok && k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY" {
			t.Errorf("the worker has %s=%q", k, wenv[k])
		}
	}
	id, secret := wenv["AWS_ACCESS_KEY_ID"], wenv["AWS_SECRET_ACCESS_KEY"]
	if !strings.HasPrefix(id, "SBWK") || len(id) != 20 || len(secret) != 40 {
		t.Fatalf("generated credentials %q / %q", id, secret)
	}
	if wenv["AWS_REGION"] != "us-east-1" {
		t.Errorf("AWS_REGION = %q", wenv["AWS_REGION"])
	}
	start := e.logs.lines("function workers get generated AWS credentials, accepted by this stage's management API only (function.credentials: generated)")
	if len(start) != 1 || start[0]["accessKeyId"] != id || start[0]["api"] != "fn" {
		t.Errorf("start log %v", start)
	}
	if e.logs.contains(secret) {
		t.Error("the generated secret is in the log")
	}

	// Its own stage: verified and served.
	fnID := e.manageWithKey("GET", "/fn/@connections", 200)["connections"].([]any)[0].(map[string]any)["connectionId"].(string)
	own, _ := sdkWithKeys(t, e, "fn", id, secret)
	if _, err := own.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(fnID)}); err != nil {
		t.Fatalf("GetConnection on its own stage: %v", err)
	}
	waitFor(t, "the call logged with the generated key as principal", func() bool {
		return len(e.workerPrincipals("fn")) == 1
	})

	// Another stage: refused, and nothing delivered.
	oc := e.dial("other", nil)
	otherID := e.manageWithKey("GET", "/other/@connections", 200)["connections"].([]any)[0].(map[string]any)["connectionId"].(string)
	other, rec := sdkWithKeys(t, e, "other", id, secret)
	_, err := other.PostToConnection(sdkCtx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(otherID), Data: []byte("must not arrive")})
	var fe *types.ForbiddenException
	if want := `User: ` + id + ` is not authorized to perform: execute-api:ManageConnections on stage "other"`; !errors.As(err, &fe) || rec.lastMessage() != want {
		t.Fatalf("PostToConnection on another stage: %v %q, want ForbiddenException %q", err, rec.lastMessage(), want)
	}
	_, err = other.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(otherID)})
	if !errors.As(err, &fe) {
		t.Fatalf("GetConnection on another stage: %v", err)
	}
	// A wrong secret with the generated id: refused.
	wrong, _ := sdkWithKeys(t, e, "fn", id, strings.Repeat("x", 40))
	_, err = wrong.GetConnection(sdkCtx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(fnID)})
	if !errors.As(err, &fe) {
		t.Fatalf("GetConnection with a wrong secret: %v", err)
	}
	const msg = `{"action":"sendMessage","message":"only this"}`
	write(t, oc, msg) // broadcast back unchanged
	if _, b := read(t, oc); string(b) != msg {
		t.Fatalf("the other stage's client got %q first", b)
	}
}

// function.credentials: environment passes Switchboard's AWS credentials
// and configuration through, generates nothing, and says so at start with
// a warning naming the API and the integration.
func TestFunctionEnvironmentCredentials(t *testing.T) {
	noAWSEnv(t)
	for k, v := range realAWS {
		t.Setenv(k, v)
	}
	e := startServer(t, envDumpAPI(t, "environment"), closedManagement)
	wenv := e.workerEnv()
	for k, v := range realAWS {
		if wenv[k] != v {
			t.Errorf("the worker has %s=%q, want %q", k, wenv[k], v)
		}
	}
	warn := e.logs.lines("function workers get Switchboard's own AWS credentials (function.credentials: environment): the handler can call AWS with them")
	if len(warn) != 1 || warn[0]["level"] != "WARN" || warn[0]["api"] != "fn" || warn[0]["function"] != "fn" {
		t.Fatalf("start warning %v", warn)
	}
	for _, l := range e.logs.lines("function workers get generated AWS credentials, accepted by this stage's management API only (function.credentials: generated)") {
		t.Errorf("a key was generated: %v", l)
	}
	for k, v := range realAWS {
		if strings.Contains(k, "SECRET") || strings.Contains(k, "TOKEN") {
			if e.logs.contains(v) {
				t.Errorf("the log shows the value of %s", k)
			}
		}
	}
}

// A lambda integration with an endpoint (LocalStack, the runtime interface
// emulator) signs its calls with Switchboard's own credentials, so on a
// machine with no AWS configuration every call fails before it is sent
// ($connect 502, the SDK's reason logged), and test/test in the
// environment, as docs/configuration.md says, is enough.
func TestLambdaEndpointCredentials(t *testing.T) {
	noAWSEnv(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // no instance metadata lookup: deterministic and fast
	var calls atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprint(w, `{"statusCode":200}`)
	}))
	defer fake.Close()
	yaml := fmt.Sprintf(`
apis:
  - id: lam
    stage: lam
    routeSelectionExpression: $request.body.action
    routes:
      $connect: {integration: fn}
    integrations:
      fn:
        type: lambda
        timeout: 5s
        lambda: {functionName: chat, region: us-east-1, endpoint: %s}
`, fake.URL)

	e := startServer(t, yaml)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, e.wsURL("lam"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("without credentials: %v %v, want 502", resp, err)
	}
	if calls.Load() != 0 {
		t.Errorf("the endpoint was called %d times without credentials", calls.Load())
	}
	if !e.logs.contains("get credentials: failed to refresh cached credentials") {
		t.Error("the log does not say that credentials are missing")
	}
	e.shutdown()

	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	e = startServer(t, yaml)
	e.dial("lam", nil)
	if calls.Load() != 1 {
		t.Errorf("the endpoint was called %d times, want 1", calls.Load())
	}
}
