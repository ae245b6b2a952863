// Package nodejs holds the Node.js bootstrap that the function integration
// runs for runtime "nodejs": a Lambda Runtime API client that loads the
// handler named by _HANDLER with the AWS Node.js programming model. The
// script needs Node.js 18 or later and no npm packages; the AWS rules it
// follows (handler resolution, the context object, callbacks and the event
// loop, error types, log lines) and where it differs are listed at its top.
// bootstrap_test.go runs it with node against a fake Runtime API.
package nodejs

import _ "embed"

// Bootstrap is the bootstrap script (an ES module). The function
// integration writes it to a file and runs `node <file>` in the function's
// directory with the standard Lambda environment.
//
//go:embed bootstrap.mjs
var Bootstrap []byte
