package manage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// DefaultRegion is the region requests are signed for when Options.Region
// is empty. Switchboard accepts any region; AWS SDKs need one.
const DefaultRegion = "us-east-1"

// Options configure a Client. Give at most one credential: APIKey, or
// AccessKeyID with SecretAccessKey.
type Options struct {
	// APIKey is a key of management.apiKeys, sent as
	// "Authorization: Bearer <APIKey>".
	APIKey string
	// AccessKeyID and SecretAccessKey are a key pair of
	// management.accessKeys: every request is signed with SigV4 (service
	// execute-api, Region). SessionToken, when set, is signed too.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Region of the signature. Default DefaultRegion.
	Region string
	// HTTPClient sends the requests. Default http.DefaultClient.
	HTTPClient *http.Client
	// Now is the signing clock. Default time.Now.
	Now func() time.Time
	// UserAgent, when set, is sent as User-Agent.
	UserAgent string
}

// Client calls one stage's management API. Create it with New; it is safe
// for concurrent use.
type Client struct {
	base   *url.URL // scheme, host and the stage path, without a trailing '/'
	o      Options
	signer *v4.Signer
}

// New returns a Client for the management endpoint
// http(s)://{host}/{stage} (ws:// and wss:// are taken as http:// and
// https://). It checks the endpoint and the options, and sends nothing.
func New(endpoint string, o Options) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("endpoint %q: want http(s)://host/{stage}, such as http://127.0.0.1:8080/production", endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q has no host: want http(s)://host/{stage}", endpoint)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("endpoint %q: want http(s)://host/{stage}, without user, query or fragment", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	if u.Path == "" {
		return nil, fmt.Errorf("endpoint %q has no stage: want http(s)://host/{stage}, such as %s://%s/production", endpoint, u.Scheme, u.Host)
	}
	switch {
	case o.APIKey != "" && (o.AccessKeyID != "" || o.SecretAccessKey != ""):
		return nil, errors.New("give an API key or an access key pair, not both")
	case (o.AccessKeyID == "") != (o.SecretAccessKey == ""):
		return nil, errors.New("an access key needs both its id and its secret")
	case o.SessionToken != "" && o.AccessKeyID == "":
		return nil, errors.New("a session token needs an access key pair")
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Client{base: u, o: o, signer: v4.NewSigner()}, nil
}

// Endpoint returns the endpoint requests go to, as http(s)://host/{stage}.
func (c *Client) Endpoint() string { return c.base.String() }

// Response body limits: an error body is short; a success body may be a
// page of 1000 publications of a stage's largest messages, base64-encoded.
const (
	maxErrorBody   = 1 << 20
	maxSuccessBody = 256 << 20
)

// request is one call: method, the path below the stage (segments
// unescaped, each escaped here), query and body.
type request struct {
	method   string
	segments []string
	query    url.Values
	body     []byte
	// ctype is the Content-Type of a body; default
	// application/octet-stream.
	ctype string
}

// url returns the request's URL: the endpoint, then each segment escaped
// as one path segment (so "/" in a channel name is %2F).
func (c *Client) url(r request) *url.URL {
	u := *c.base
	var raw strings.Builder
	raw.WriteString(c.base.EscapedPath())
	var path strings.Builder
	path.WriteString(c.base.Path)
	for _, s := range r.segments {
		raw.WriteByte('/')
		raw.WriteString(url.PathEscape(s))
		path.WriteByte('/')
		path.WriteString(s)
	}
	u.Path, u.RawPath = path.String(), raw.String()
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	return &u
}

// do sends r and decodes a 2xx JSON body into out (nil: the body is
// discarded). A non-2xx answer is an *Error.
func (c *Client) do(ctx context.Context, r request, out any) error {
	u := c.url(r)
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), bytes.NewReader(r.body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, u.Redacted(), err)
	}
	// http.NewRequest parses the string again; keep the escaping chosen
	// here (it is what is signed and what goes on the wire).
	req.URL = u
	if r.body == nil {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	} else {
		ct := r.ctype
		if ct == "" {
			ct = "application/octet-stream"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if c.o.UserAgent != "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	if err := c.authorize(req, r.body); err != nil {
		return fmt.Errorf("%s %s: %w", r.method, u.Redacted(), err)
	}
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, u.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return decodeError(resp.StatusCode, resp.Header, body)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSuccessBody+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the response: %w", r.method, u.Redacted(), err)
	}
	if len(body) > maxSuccessBody {
		return fmt.Errorf("%s %s: response larger than %d bytes", r.method, u.Redacted(), maxSuccessBody)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decoding the response (HTTP %d): %w", r.method, u.Redacted(), resp.StatusCode, err)
	}
	return nil
}

// unwrapURLError drops *url.Error's own "Method URL:" prefix, which do
// adds itself.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// authorize adds the client's credential to req, whose body is body.
func (c *Client) authorize(req *http.Request, body []byte) error {
	switch {
	case c.o.APIKey != "":
		req.Header.Set("Authorization", "Bearer "+c.o.APIKey)
	case c.o.AccessKeyID != "":
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: c.o.AccessKeyID, SecretAccessKey: c.o.SecretAccessKey, SessionToken: c.o.SessionToken}
		if err := c.signer.SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), "execute-api", c.o.Region, c.o.Now()); err != nil {
			return fmt.Errorf("signing: %w", err)
		}
	}
	return nil
}
