// Package nodejs holds the Node.js bootstrap that the function integration
// runs for runtime "nodejs": a Lambda Runtime API client that loads the
// handler named by _HANDLER with the AWS Node.js programming model.
package nodejs

import _ "embed"

// Bootstrap is the bootstrap script (an ES module). The function
// integration writes it to a file and runs `node <file>` in the function's
// directory with the standard Lambda environment.
//
//go:embed bootstrap.mjs
var Bootstrap []byte
