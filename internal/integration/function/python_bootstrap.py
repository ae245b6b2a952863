# Switchboard's Lambda Runtime API client for runtime "python" (standard
# library only). It imports _HANDLER ("module.function", the module found
# in LAMBDA_TASK_ROOT), then serves invocations with the AWS Python
# programming model: handler(event, context), the result encoded as JSON,
# an exception reported as {"errorMessage", "errorType", "stackTrace"}.
import importlib
import json
import os
import sys
import time
import traceback
import urllib.request

API = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    return urllib.request.urlopen(req)


def post_error(path, error_type, message, stack):
    body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": stack}).encode()
    headers = {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type}
    try:
        call("POST", path, body, headers).read()
    except Exception as e:
        print("runtime API: %s" % e, file=sys.stderr, flush=True)


def report(exc):
    # The handler's frames only: not this bootstrap's, not importlib's.
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename != __file__ and not f.filename.startswith("<frozen")]
    return type(exc).__name__, str(exc), traceback.format_list(frames)


class InitError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


class LambdaContext:
    def __init__(self, headers):
        env = os.environ
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def load_handler():
    name = os.environ.get("_HANDLER", "")
    module_name, _, func_name = name.rpartition(".")
    if not module_name or not func_name:
        raise InitError("Runtime.MalformedHandlerName",
                        "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % name)
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise InitError("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, e))
    except SyntaxError as e:
        raise InitError("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, e))
    handler = getattr(module, func_name, None)
    if handler is None:
        raise InitError("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (func_name, module_name))
    return handler


def main():
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    try:
        handler = load_handler()
    except InitError as e:
        print("[ERROR] %s: %s" % (e.error_type, e), file=sys.stderr)
        post_error("/init/error", e.error_type, str(e), [])
        sys.exit(1)
    except Exception as e:
        error_type, message, stack = report(e)
        print("[ERROR] %s: %s" % (error_type, message), file=sys.stderr)
        post_error("/init/error", error_type, message, stack)
        sys.exit(1)

    while True:
        with call("GET", "/invocation/next") as resp:
            headers = resp.headers
            payload = resp.read()
        context = LambdaContext(headers)
        request_id = context.aws_request_id
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("Lambda-Runtime-Trace-Id", "")
        try:
            result = handler(json.loads(payload) if payload else None, context)
        except Exception as e:
            error_type, message, stack = report(e)
            print("[ERROR] %s: %s\n%s" % (error_type, message, "".join(stack)), file=sys.stderr)
            post_error("/invocation/%s/error" % request_id, error_type, message, stack)
            continue
        try:
            body = json.dumps(result).encode()
        except (TypeError, ValueError) as e:
            post_error("/invocation/%s/error" % request_id, "Runtime.MarshalError",
                       "Unable to marshal response: %s" % e, [])
            continue
        call("POST", "/invocation/%s/response" % request_id, body, {"Content-Type": "application/json"}).read()


if __name__ == "__main__":
    main()
