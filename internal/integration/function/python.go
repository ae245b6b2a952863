package function

import _ "embed"

// pythonBootstrap is the Runtime API client New writes to the function's
// temporary directory and runs with python3 for runtime "python": it
// imports _HANDLER from LAMBDA_TASK_ROOT and serves invocations with the
// AWS Python programming model, using the standard library only.
//
//go:embed python_bootstrap.py
var pythonBootstrap []byte
