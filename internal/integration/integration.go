// Package integration holds what every integration type shares: the
// sentinel errors the gateway branches on, and StartCall/Expired, which
// bound a backend's calls in flight and time each call. Each integration type lives in
// a subpackage named after what it talks to (httpint for HTTP endpoints);
// the gateway consumes them through its own small interface.
package integration

import "errors"

// ErrTimeout reports that an integration call did not finish within the
// integration's timeout. The gateway answers it with the AWS
// "Endpoint request timed out" frame (messages) or 504 ($connect).
// Integrations wrap it: errors.Is(err, ErrTimeout).
var ErrTimeout = errors.New("integration timed out")
