package lambdaint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// FunctionError is Invoke's error when the function ran and failed: it
// threw, exited, ran out of memory or out of its own timeout. Lambda
// reports that with HTTP 200, the X-Amz-Function-Error header and the
// error as payload ({"errorType": ..., "errorMessage": ..., "stackTrace":
// [...]}); API Gateway answers it as a failed integration.
type FunctionError struct {
	// Kind is the X-Amz-Function-Error header: "Unhandled" for errors the
	// runtime caught, "Handled" on some older runtimes.
	Kind string
	// Type and Message are the payload's errorType (such as "TypeError",
	// "Runtime.ExitError" or "Sandbox.Timedout") and errorMessage; empty
	// when the payload has none.
	Type, Message string
	// Payload holds at most the first 256 bytes of a payload that is not
	// an error object with a type or message, for logs.
	Payload []byte
}

const functionErrorPayloadMax = 256

func parseFunctionError(kind string, payload []byte) *FunctionError {
	e := &FunctionError{Kind: kind}
	var obj struct {
		Type    any `json:"errorType"`
		Message any `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &obj) == nil {
		e.Type = text(obj.Type)
		e.Message = text(obj.Message)
	}
	if e.Type == "" && e.Message == "" {
		e.Payload = bytes.Clone(payload[:min(len(payload), functionErrorPayloadMax)])
	}
	return e
}

// text renders an errorType or errorMessage: a string as is, anything else
// (a runtime that sends a number or an object) as its JSON.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func (e *FunctionError) Error() string {
	var b strings.Builder
	b.WriteString("function error")
	if e.Kind != "" {
		fmt.Fprintf(&b, " (%s)", e.Kind)
	}
	switch {
	case e.Type != "" && e.Message != "":
		fmt.Fprintf(&b, ": %s: %s", e.Type, e.Message)
	case e.Type != "":
		fmt.Fprintf(&b, ": %s", e.Type)
	case e.Message != "":
		fmt.Fprintf(&b, ": %s", e.Message)
	case len(e.Payload) > 0:
		fmt.Fprintf(&b, "; payload starts %q", e.Payload)
	}
	return b.String()
}

// TimedOut reports whether the function ran out of its own timeout (the
// Lambda function's configured timeout, not the integration's): errorType
// "Sandbox.Timedout", or an errorMessage with "Task timed out after", as
// older runtimes report it.
func (e *FunctionError) TimedOut() bool {
	return e.Type == "Sandbox.Timedout" || strings.Contains(e.Message, "Task timed out after")
}

// ErrorMessage is the function's errorMessage (a REQUEST authorizer that
// throws "Unauthorized" means 401).
func (e *FunctionError) ErrorMessage() string { return e.Message }
