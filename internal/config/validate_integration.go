package config

import (
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
)

// integrationTypes are the integration types, in the order the
// documentation lists them.
var integrationTypes = []string{"http", "lambda", "function"}

// Bounds of the Lambda fields, as on AWS.
const (
	maxFunctionNameLen = 64
	maxQualifierLen    = 128
	qualifierLatest    = "$LATEST"
)

// integration checks the integration called name. Each type's fields are
// checked only for that type; the fields of the other types are reported
// as out of place.
func (v *validator) integration(path, name string, in *Integration) {
	if name == "" {
		v.add(path, "an integration name must not be empty; name it, e.g. backend")
	}
	typeOK := false
	if in.Type == "" {
		v.add(path+".type", "is required; use %s", orList(integrationTypes))
	} else {
		typeOK = v.oneOf(path+".type", in.Type, "an integration type", integrationTypes)
	}
	if typeOK {
		v.foreignFields(path, in)
	}

	switch in.Type {
	case "http":
		v.httpURL(path+".url", in.URL)
	case "lambda":
		v.lambda(path+".lambda", &in.Lambda)
	case "function":
		v.function(path, in)
	}

	if in.Type == "function" {
		// A function's timeout is also its Lambda timeout (1s to 15m on
		// AWS), and each call in flight is a worker process.
		v.duration(path+".timeout", in.Timeout, time.Second, maxFunctionTimeout)
		v.intRange(path+".maxConcurrency", in.MaxConcurrency, 1, maxFunctionConcurrency)
	} else {
		v.duration(path+".timeout", in.Timeout, time.Millisecond, 15*time.Minute)
		v.intRange(path+".maxConcurrency", in.MaxConcurrency, 1, maxConcurrencyMax)
	}
	if in.MaxWaiting != in.MaxConcurrency { // else it is the default, already checked
		v.intRange(path+".maxWaiting", in.MaxWaiting, 1, maxConcurrencyMax)
	}

	if typeOK && in.Type != "http" {
		return // headers were reported as out of place
	}
	for _, h := range slices.Sorted(maps.Keys(in.Headers)) {
		f := joinKey(path+".headers", h)
		if !validHeaderName(h) {
			v.add(f, "%q is not a valid HTTP header name; use letters, digits and - (e.g. X-Api-Key)", h)
		}
		if strings.ContainsAny(in.Headers[h], "\r\n\x00") {
			v.add(f, "the value contains a line break or NUL, which an HTTP header cannot; remove it")
		}
	}
}

// foreignFields reports the fields of in that belong to another type than
// in.Type, which must be a valid type.
func (v *validator) foreignFields(path string, in *Integration) {
	if in.Type != "http" {
		what := map[string]string{
			"lambda":   "a lambda integration invokes lambda.functionName",
			"function": "a function integration runs the code in function.directory",
		}[in.Type]
		if in.URL != "" {
			v.add(path+".url", "is only for type http; remove it (%s)", what)
		}
		if len(in.Headers) > 0 {
			v.add(path+".headers", "is only for type http; remove it (%s)", what)
		}
	}
	if in.Type != "lambda" && !blank(in.Lambda) {
		v.add(path+".lambda", "is only for type lambda; remove it, or set type: lambda")
	}
	if in.Type != "function" && !blank(in.Function) {
		v.add(path+".function", "is only for type function; remove it, or set type: function")
	}
}

// blank reports whether block, a struct, sets nothing: each field is zero
// or an empty list or mapping (which is how YAML writes an unset one).
func blank(block any) bool {
	s := reflect.ValueOf(block)
	for i := range s.NumField() {
		f := s.Field(i)
		if f.Kind() == reflect.Slice || f.Kind() == reflect.Map {
			if f.Len() > 0 {
				return false
			}
		} else if !f.IsZero() {
			return false
		}
	}
	return true
}

func (v *validator) httpURL(field, s string) {
	const example = "e.g. http://localhost:3000/websocket"
	if s == "" {
		v.add(field, "is required for type http; set the endpoint that receives the events, %s", example)
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		v.add(field, "%q is not a URL (%v); write an absolute http or https URL, %s", s, unwrapURLError(err), example)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(field, "%q is not an http or https URL; write an absolute URL with its scheme, %s", s, example)
	case u.Host == "" || u.Hostname() == "":
		v.add(field, "%q has no host; write an absolute URL, %s", s, example)
	}
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func (v *validator) lambda(path string, l *Lambda) {
	ref, ok := v.functionName(path+".functionName", l.FunctionName)
	if l.Qualifier != "" {
		switch msg := checkQualifier(l.Qualifier); {
		case msg != "":
			v.add(path+".qualifier", "%s", msg)
		case ok && ref.qualifier != "" && ref.qualifier != l.Qualifier:
			v.add(path+".qualifier", "%q conflicts with the qualifier %q at the end of functionName; keep only one of them", l.Qualifier, ref.qualifier)
		}
	}
	if l.Region != "" {
		switch {
		case !validRegion(l.Region):
			v.add(path+".region", "%q is not a region name; write one such as us-east-1, or leave region out to use the region of a full ARN or the SDK's (AWS_REGION, the shared config file)", l.Region)
		case ok && ref.region != "" && ref.region != l.Region:
			v.add(path+".region", "%q is not the region of the ARN in functionName (%s), where the function is; remove region (a full ARN carries its own) or fix one of them", l.Region, ref.region)
		}
	}
	if l.Endpoint != "" {
		v.lambdaEndpoint(path+".endpoint", l.Endpoint)
	}
}

// functionRef is a Lambda function name taken apart; the parts its form
// does not have are empty.
type functionRef struct {
	region, account, name, qualifier string
}

// functionName checks lambda.functionName: a name, a partial ARN
// (ACCOUNT:function:NAME) or a full ARN
// (arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME), each optionally
// followed by ":QUALIFIER" (as the Invoke API accepts). It reports whether
// s is well formed.
func (v *validator) functionName(field, s string) (functionRef, bool) {
	const forms = "write a function name (chat-handler), a partial ARN (123456789012:function:chat-handler) or a full ARN (arn:aws:lambda:us-east-1:123456789012:function:chat-handler), each optionally followed by :VERSION or :ALIAS"
	var ref functionRef
	if s == "" {
		v.add(field, "is required for type lambda; %s", forms)
		return ref, false
	}
	parts := strings.Split(s, ":")
	if parts[0] == "arn" {
		if len(parts) != 7 && len(parts) != 8 {
			v.add(field, "%q is not a Lambda function ARN, which has the form arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]; %s", s, forms)
			return ref, false
		}
		switch partition, service, region := parts[1], parts[2], parts[3]; {
		case !validPartition(partition):
			v.add(field, "%q has the partition %q, which is not an AWS partition; write aws (or aws-cn, aws-us-gov...): arn:aws:lambda:REGION:ACCOUNT:function:NAME", s, partition)
			return ref, false
		case service != "lambda":
			v.add(field, "%q is not a Lambda function ARN: its service is %q; write arn:%s:lambda:REGION:ACCOUNT:function:NAME", s, service, partition)
			return ref, false
		case !validRegion(region):
			v.add(field, "%q has the region %q, which is not a region name such as us-east-1; fix the ARN", s, region)
			return ref, false
		default:
			ref.region = region
		}
		parts = parts[4:]
	}
	switch len(parts) {
	case 1, 2:
		ref.name = parts[0]
	case 3, 4:
		if parts[1] != "function" {
			v.add(field, "%q is not a function name or ARN (ARNs name the resource type function before the name); %s", s, forms)
			return ref, false
		}
		ref.account, ref.name = parts[0], parts[2]
		if !validAccount(ref.account) {
			v.add(field, "%q has the account %q, which is not a 12-digit AWS account id; fix the ARN", s, ref.account)
			return ref, false
		}
	default:
		v.add(field, "%q has too many ':' for a function name or ARN; %s", s, forms)
		return ref, false
	}
	if len(parts)%2 == 0 { // NAME:QUALIFIER or ACCOUNT:function:NAME:QUALIFIER
		ref.qualifier = parts[len(parts)-1]
	}
	if msg := checkFunctionName(ref.name); msg != "" {
		v.add(field, "%q: %s", s, msg)
		return ref, false
	}
	if len(parts)%2 == 0 {
		if msg := checkQualifier(ref.qualifier); msg != "" {
			v.add(field, "%q ends with a qualifier: %s", s, msg)
			return ref, false
		}
	}
	return ref, true
}

// checkFunctionName returns what is wrong with a Lambda function name (not
// an ARN), or "".
func checkFunctionName(name string) string {
	if name == "" {
		return "the function name is empty; write the name of the function, e.g. chat-handler"
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return !isNameRune(r) }); i >= 0 {
		return fmt.Sprintf("the function name %q contains %q; a function name has only letters, digits, '-' and '_'", name, []rune(name[i:])[0])
	}
	if len(name) > maxFunctionNameLen {
		return fmt.Sprintf("the function name is %d characters long; a function name has at most %d", len(name), maxFunctionNameLen)
	}
	return ""
}

// checkQualifier returns what is wrong with a version or alias, or "". A
// qualifier is $LATEST, a version number or an alias name (letters,
// digits, '-' and '_', at most 128 characters), as the Invoke API accepts.
func checkQualifier(q string) string {
	const fix = "write $LATEST, a version number such as 3, or an alias name (letters, digits, '-' and '_', at most 128 characters)"
	switch {
	case q == qualifierLatest:
		return ""
	case strings.EqualFold(q, qualifierLatest):
		return fmt.Sprintf("%q is not a version or alias; %s (did you mean %q?)", q, fix, qualifierLatest)
	case q == "" || len(q) > maxQualifierLen || strings.IndexFunc(q, func(r rune) bool { return !isNameRune(r) }) >= 0:
		return fmt.Sprintf("%q is not a version or alias; %s", q, fix)
	}
	return ""
}

// validRegion reports whether s looks like an AWS region name (us-east-1,
// us-gov-west-1): lower-case letters, digits and '-', starting with a
// letter, with no empty part between dashes.
func validRegion(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for part := range strings.SplitSeq(s, "-") {
		if part == "" || strings.IndexFunc(part, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) >= 0 {
			return false
		}
	}
	return true
}

// validPartition reports whether s is aws or aws-SOMETHING (aws-cn,
// aws-us-gov).
func validPartition(s string) bool {
	rest, ok := strings.CutPrefix(s, "aws")
	return ok && (rest == "" || rest[0] == '-' && validRegion("a"+rest))
}

// validAccount reports whether s is a 12-digit AWS account id.
func validAccount(s string) bool {
	return len(s) == 12 && strings.Trim(s, "0123456789") == ""
}

// lambdaEndpoint checks lambda.endpoint: http(s)://host[:port], since the
// SDK appends the API's own paths.
func (v *validator) lambdaEndpoint(field, s string) {
	const fix = "write only the scheme, host and port of the Lambda-compatible server, e.g. http://localhost:4566"
	u, err := url.Parse(s)
	switch {
	case err != nil:
		v.add(field, "%q is not a URL (%v); %s", s, unwrapURLError(err), fix)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(field, "%q is not an http or https URL; %s", s, fix)
	case u.Host == "" || u.Hostname() == "":
		v.add(field, "%q has no host; %s", s, fix)
	case u.User != nil:
		v.add(field, "%q has credentials in it; remove them: requests are signed with the AWS SDK's credential chain", s)
	case u.Path != "" && u.Path != "/":
		v.add(field, "%q has a path, but the SDK adds the Lambda API's own; write %q", s, u.Scheme+"://"+u.Host)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		v.add(field, "%q has a query or fragment; write %q", s, u.Scheme+"://"+u.Host)
	}
}
