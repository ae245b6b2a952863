package lambdaint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The credentials every test runs with (see setAWSEnv).
const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "dummy"
	testRegion = "us-east-1"
)

// setAWSEnv isolates the test from the machine's AWS setup: static
// credentials and region in the environment, empty config files, no
// instance metadata, no endpoint or retry overrides.
func setAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           testKeyID,
		"AWS_SECRET_ACCESS_KEY":       testSecret,
		"AWS_REGION":                  testRegion,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		// Unset (the SDK treats empty as unset) whatever the machine has.
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_DEFAULT_REGION":                     "",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_ENDPOINT_URL_LAMBDA":                "",
		"AWS_MAX_ATTEMPTS":                       "",
		"AWS_RETRY_MODE":                         "",
		"AWS_CA_BUNDLE":                          "",
		"AWS_DEFAULTS_MODE":                      "",
		"AWS_ROLE_ARN":                           "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
}

// invocation is one call the fake Lambda accepted.
type invocation struct {
	Function  string // from the path, unescaped
	Qualifier string // the Qualifier query parameter
	Event     []byte // the request body, the event's JSON
	Header    http.Header
}

// fakeLambda is an httptest server that speaks the Lambda Invoke API:
// POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=].
// It checks the SigV4 signature against testKeyID/testSecret (rejecting a
// bad one with 403 InvalidSignatureException, as Lambda does) and the
// invocation type, then lets the test's handler answer.
type fakeLambda struct {
	t      *testing.T
	srv    *httptest.Server
	region string // the region signatures must be scoped to; default testRegion
	prefix string // a path before /2015-03-31/functions/, as behind a proxy
	answer func(w http.ResponseWriter, r *http.Request, inv invocation)

	calls    atomic.Int32 // requests that passed the checks
	rejected atomic.Int32 // requests the fake refused
}

// newFakeLambda starts a fake that answers with answer; opts adjust it
// before it starts.
func newFakeLambda(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, inv invocation), opts ...func(*fakeLambda)) *fakeLambda {
	t.Helper()
	f := &fakeLambda{t: t, region: testRegion, answer: answer}
	for _, o := range opts {
		o(f)
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(testLogWriter{t}, "fake lambda: ", 0)
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's endpoint, for Config.Endpoint.
func (f *fakeLambda) URL() string { return f.srv.URL + f.prefix }

func withRegion(region string) func(*fakeLambda) { return func(f *fakeLambda) { f.region = region } }

const invokePathPrefix = "/2015-03-31/functions/"

func (f *fakeLambda) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.reject(w, http.StatusBadRequest, "InvalidRequestContentException", "reading the body: "+err.Error())
		return
	}
	fn, ok := strings.CutPrefix(r.URL.Path, f.prefix+invokePathPrefix)
	if ok {
		fn, ok = strings.CutSuffix(fn, "/invocations")
	}
	if r.Method != http.MethodPost || !ok || fn == "" || strings.Contains(fn, "/") {
		f.reject(w, http.StatusNotFound, "UnknownOperationException", r.Method+" "+r.URL.Path)
		return
	}
	if err := f.verifySignature(r, body); err != nil {
		f.t.Logf("fake lambda: %v", err)
		f.reject(w, http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
		return
	}
	if it := r.Header.Get("X-Amz-Invocation-Type"); it != "" && it != "RequestResponse" {
		f.reject(w, http.StatusBadRequest, "InvalidParameterValueException", "unexpected invocation type "+it)
		return
	}
	if !json.Valid(body) {
		f.reject(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	f.calls.Add(1)
	w.Header().Set("X-Amzn-Requestid", "fake-request-id")
	f.answer(w, r, invocation{Function: fn, Qualifier: r.URL.Query().Get("Qualifier"), Event: body, Header: r.Header.Clone()})
}

// reject answers as the Lambda API answers errors.
func (f *fakeLambda) reject(w http.ResponseWriter, status int, typ, msg string) {
	f.rejected.Add(1)
	writeAPIError(w, status, typ, msg)
}

// writeAPIError writes an error as the Lambda API does: the type in the
// X-Amzn-ErrorType header, {"Type": "User", "message": ...} as the body.
func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-Errortype", typ)
	writeErrorBody(w, status, map[string]string{"Type": "User", "message": msg})
}

func writeErrorBody(w http.ResponseWriter, status int, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "fake-request-id")
	w.WriteHeader(status)
	b, _ := json.Marshal(body)
	w.Write(b)
}

// verifySignature recomputes the request's SigV4 signature with the
// expected key, region and service over the headers the client signed, and
// compares it with the Authorization header.
func (f *fakeLambda) verifySignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return fmt.Errorf("authorization %q is not SigV4", auth)
	}
	var signed []string
	for part := range strings.SplitSeq(strings.TrimPrefix(auth, algo), ", ") {
		if v, ok := strings.CutPrefix(part, "SignedHeaders="); ok {
			signed = strings.Split(v, ";")
		}
	}
	if len(signed) == 0 {
		return fmt.Errorf("authorization %q has no SignedHeaders", auth)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %v", err)
	}

	cp, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return err
	}
	cp.ContentLength = int64(len(body))
	for _, h := range signed {
		if h == "host" || h == "content-length" { // the signer adds these itself
			continue
		}
		cp.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hash, "lambda", f.region, at); err != nil {
		return err
	}
	if want := cp.Header.Get("Authorization"); want != auth {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, want)
	}
	return nil
}

// testLogWriter routes a server's log to t.Logf.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s", bytes.TrimSuffix(p, []byte("\n")))
	return len(p), nil
}

// Answers the tests give.

func answerJSON(payload string) func(http.ResponseWriter, *http.Request, invocation) {
	return func(w http.ResponseWriter, _ *http.Request, _ invocation) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		io.WriteString(w, payload)
	}
}

func answerFunctionError(payload string) func(http.ResponseWriter, *http.Request, invocation) {
	return func(w http.ResponseWriter, _ *http.Request, _ invocation) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		io.WriteString(w, payload)
	}
}
