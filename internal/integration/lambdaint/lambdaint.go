package lambdaint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/integration"
	"github.com/switchboardhq/switchboard/internal/tracing"
)

// Defaults for the zero values of Config.
const (
	defaultTimeout        = 29 * time.Second
	defaultMaxConcurrency = 256
)

// MaxPayloadBytes is Lambda's payload limit for synchronous invocations,
// 6 MiB, for the event sent and for the function's response alike.
const MaxPayloadBytes = 6 << 20

var (
	// ErrRequestTooLarge is wrapped by Invoke's error for an event whose
	// JSON is over MaxPayloadBytes; the function is not called.
	ErrRequestTooLarge = errors.New("event larger than 6 MiB (Lambda's synchronous payload limit)")
	// ErrResponseTooLarge is wrapped by Invoke's error for a response
	// payload over MaxPayloadBytes. Reading stops at the limit.
	ErrResponseTooLarge = errors.New("function response larger than 6 MiB (Lambda's synchronous payload limit)")
)

// Config configures one lambda integration. The zero value of each field
// means its documented default.
type Config struct {
	// FunctionName is the function's name, partial ARN or full ARN
	// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]). Required.
	FunctionName string
	// Qualifier is a version or alias to invoke. Default: none ($LATEST, or
	// the qualifier in FunctionName). It must agree with the qualifier of a
	// full ARN.
	Qualifier string
	// Region is the function's region. Default: the region of a full ARN,
	// else the SDK's (AWS_REGION, AWS_DEFAULT_REGION, the shared config
	// file). It must agree with the region of a full ARN.
	Region string
	// Endpoint overrides the Lambda endpoint (http(s)://host[:port]), for
	// Lambda-compatible servers such as LocalStack. Default: the SDK's
	// (AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, else AWS's regional
	// endpoint).
	Endpoint string
	// Timeout bounds one call, from waiting for a free slot to reading the
	// whole response. Default 29s (AWS's integration timeout).
	Timeout time.Duration
	// MaxConcurrency bounds the calls in flight; more wait for a slot
	// within their Timeout. Default 256.
	MaxConcurrency int
}

// Integration invokes one Lambda function. It is immutable after New and
// safe for concurrent use.
type Integration struct {
	name      string
	function  string // Config.FunctionName
	qualifier *string
	logName   string // function[:qualifier], for errors
	timeout   time.Duration
	client    *lambda.Client
	// own is the transport New built when given no client; nil otherwise.
	own *http.Transport
	// sem holds one token per call in flight.
	sem chan struct{}
}

// New returns an integration that invokes cfg.FunctionName. It loads the
// AWS SDK configuration once, with the SDK's standard credential chain;
// credentials are fetched and refreshed when calls need them, so New does
// not contact the network. The region is cfg.Region, else the region of a
// full function ARN, else the SDK's; New fails if there is none.
//
// httpClient, when non-nil, is the HTTP client of every AWS call the
// integration makes (credential providers included); pass the server's
// shared client so integrations share pooled connections. If it is nil,
// New builds a client on the SDK's default transport (proxy settings from
// the environment, AWS_CA_BUNDLE honoured) with room for
// cfg.MaxConcurrency idle connections; release it with
// CloseIdleConnections. Errors name the integration and the field at
// fault.
func New(ctx context.Context, name string, cfg Config, httpClient *http.Client) (*Integration, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("lambda integration %q: "+format, append([]any{name}, args...)...)
	}
	if cfg.FunctionName == "" {
		return nil, fail("functionName is required")
	}
	region := cfg.Region
	if strings.HasPrefix(cfg.FunctionName, "arn:") {
		a, err := parseFunctionARN(cfg.FunctionName)
		if err != nil {
			return nil, fail("functionName %q: %v", cfg.FunctionName, err)
		}
		if region == "" {
			region = a.region
		} else if region != a.region {
			return nil, fail("region %q differs from the region of functionName %q; remove one", region, cfg.FunctionName)
		}
		if cfg.Qualifier != "" && a.qualifier != "" && cfg.Qualifier != a.qualifier {
			return nil, fail("qualifier %q differs from the qualifier of functionName %q; remove one", cfg.Qualifier, cfg.FunctionName)
		}
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, fail("endpoint: %v", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fail("endpoint %q: scheme must be http or https", u.Redacted())
		}
		if u.Host == "" {
			return nil, fail("endpoint %q: no host", u.Redacted())
		}
	}
	if cfg.Timeout < 0 {
		return nil, fail("timeout %v is negative; use 0 for the default (29s)", cfg.Timeout)
	}
	if cfg.MaxConcurrency < 0 {
		return nil, fail("maxConcurrency %d is negative; use 0 for the default (256)", cfg.MaxConcurrency)
	}

	i := &Integration{
		name:     name,
		function: cfg.FunctionName,
		logName:  cfg.FunctionName,
		timeout:  cfg.Timeout,
	}
	if cfg.Qualifier != "" {
		i.qualifier = aws.String(cfg.Qualifier)
		i.logName += ":" + cfg.Qualifier
	}
	if i.timeout == 0 {
		i.timeout = defaultTimeout
	}
	maxConc := cfg.MaxConcurrency
	if maxConc == 0 {
		maxConc = defaultMaxConcurrency
	}
	i.sem = make(chan struct{}, maxConc)

	opts := []func(*awsconfig.LoadOptions) error{
		// Defaults mode "auto" (AWS_DEFAULTS_MODE, defaults_mode) would ask
		// the instance metadata service for the region while loading; the
		// timeouts and retries it tunes are replaced by ours anyway.
		awsconfig.WithDefaultsMode(aws.DefaultsModeLegacy),
		// The SDK logs to stderr by default, past the server's logger;
		// what it would log is in Invoke's errors.
		awsconfig.WithLogger(logging.Nop{}),
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if httpClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(httpClient))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fail("loading the AWS configuration: %v", err)
	}
	if awsCfg.Region == "" {
		return nil, fail("no region: set region, use a full function ARN as functionName, or set AWS_REGION")
	}
	if httpClient == nil {
		i.own = newTransport(awsCfg.HTTPClient, maxConc)
		httpClient = &http.Client{Transport: i.own, CheckRedirect: noRedirect}
	}

	i.client = lambda.NewFromConfig(awsCfg, func(o *lambda.Options) {
		// One attempt: Invoke is not idempotent (a retry after a lost
		// response runs the function twice), and backoff would spend the
		// call's timeout. The SDK's default retries throttling and 5xx
		// errors up to 3 times.
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = limitedClient{httpClient}
		o.APIOptions = append(o.APIOptions, addTraceHeader)
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return i, nil
}

// functionARN is what New needs from a full function ARN.
type functionARN struct{ region, qualifier string }

// parseFunctionARN checks arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
func parseFunctionARN(s string) (functionARN, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return functionARN{}, err
	}
	parts := strings.Split(a.Resource, ":")
	switch {
	case a.Service != "lambda":
		return functionARN{}, fmt.Errorf("service %q is not lambda", a.Service)
	case a.Region == "":
		return functionARN{}, errors.New("the ARN has no region")
	case parts[0] != "function" || len(parts) < 2 || len(parts) > 3 || parts[1] == "":
		return functionARN{}, errors.New("want arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]")
	}
	f := functionARN{region: a.Region}
	if len(parts) == 3 {
		f.qualifier = parts[2]
	}
	return f, nil
}

// newTransport returns the SDK's default transport (with the CA bundle the
// configuration loaded, if any), keeping up to maxConc idle connections.
func newTransport(loaded aws.HTTPClient, maxConc int) *http.Transport {
	b, ok := loaded.(*awshttp.BuildableClient)
	if !ok {
		b = awshttp.NewBuildableClient()
	}
	tr := b.GetTransport()
	tr.MaxIdleConns = 0 // no limit across hosts; MaxIdleConnsPerHost bounds each.
	tr.MaxIdleConnsPerHost = maxConc
	tr.MaxConnsPerHost = 0 // the semaphore bounds the calls in flight.
	return tr
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Name returns the integration's name as configured.
func (i *Integration) Name() string { return i.name }

// CloseIdleConnections closes the idle connections of the transport New
// built when it was given no client; with a shared client it does nothing
// (the client's owner closes those).
func (i *Integration) CloseIdleConnections() {
	if i.own != nil {
		i.own.CloseIdleConnections()
	}
}

// Invoke sends req as the payload of a RequestResponse invocation and
// returns the function's answer (see the package documentation for the
// mapping). It blocks until the response is read, the call's timeout
// passes (an error wrapping integration.ErrTimeout), or ctx ends (an error
// wrapping ctx.Err()).
func (i *Integration) Invoke(ctx context.Context, req *event.Request) (*event.Response, error) {
	payload := req.AppendJSON(nil)
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("invoke %s: %w: %d bytes", i.logName, ErrRequestTooLarge, len(payload))
	}

	parent := ctx
	ctx, end, err := integration.StartCall(parent, i.sem, i.timeout)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", i.logName, err)
	}
	defer end()

	out, err := i.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   &i.function,
		Qualifier:      i.qualifier,
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return nil, i.callError(parent, ctx, err)
	}
	if out.FunctionError != nil {
		ferr := parseFunctionError(*out.FunctionError, out.Payload)
		// A function that ran out of its own timeout is a function error,
		// as on API Gateway (502 / "Internal server error"); only the
		// integration's timeout answers "Endpoint request timed out".
		return nil, fmt.Errorf("invoke %s: %w", i.logName, ferr)
	}
	resp, err := response(out.Payload)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", i.logName, err)
	}
	return resp, nil
}

// response reads a successful invocation's payload, the function's return
// value.
func response(payload []byte) (*event.Response, error) {
	t := bytes.Trim(payload, " \t\r\n")
	if len(t) == 0 || string(t) == "null" {
		return &event.Response{StatusCode: http.StatusOK}, nil
	}
	return event.ParseHTTP(http.StatusOK, nil, payload)
}

// ctxError is the error of a call whose context ended: the parent's error
// if the caller gave up, ErrTimeout if the call's own deadline passed.
func (i *Integration) ctxError(parent, ctx context.Context, what string) error {
	return fmt.Errorf("invoke %s: %w", i.logName, integration.Expired(parent, ctx, what))
}

// callError describes a failed Invoke API call: an API error (throttling,
// permissions, no such function), a transport error, or a response over
// the size limit.
func (i *Integration) callError(parent, ctx context.Context, err error) error {
	if errors.Is(err, ErrResponseTooLarge) {
		return fmt.Errorf("invoke %s: %w", i.logName, ErrResponseTooLarge)
	}
	if ctx.Err() != nil {
		return i.ctxError(parent, ctx, fmt.Sprintf("no response within %v", i.timeout))
	}
	// "operation error Lambda: Invoke, " says nothing the prefix does not,
	// nor "https response error StatusCode: 0, RequestID: , request send
	// failed, " before a transport error.
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		err = se.Err
	}
	return fmt.Errorf("invoke %s: %w", i.logName, err)
}

// addTraceHeader puts the X-Amzn-Trace-Id of the call's span (the route's
// or the authorizer's, when traced) on the Invoke request, as the AWS
// X-Ray SDKs do, so that the function's segment joins the gateway's trace.
// It goes before the SDK's recursion detection, which leaves a header that
// is already set alone.
func addTraceHeader(stack *middleware.Stack) error {
	return stack.Build.Add(middleware.BuildMiddlewareFunc("switchboardTraceHeader",
		func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				if v := tracing.XRayFromContext(ctx); v != "" {
					req.Header.Set(tracing.HeaderXRay, v)
				}
			}
			return next.HandleBuild(ctx, in)
		}), middleware.Before)
}
