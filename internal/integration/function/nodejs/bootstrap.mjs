// Switchboard's Node.js bootstrap: a Lambda Runtime API client that loads
// the handler named by _HANDLER and runs it with the AWS Node.js programming
// model, so that a handler written for the nodejs18.x-22.x runtimes runs
// unmodified. It needs Node.js 18 or later and no npm packages.
//
// It follows AWS's own runtime client (aws/aws-lambda-nodejs-runtime-
// interface-client, the JavaScript sources UserFunction.js, Runtime.js,
// CallbackContext.js, InvokeContext.js, Errors.js, RAPIDClient.js and
// LogPatch.js) rule by rule:
//
//   - Handler "dir/file.a.b": the module is what lies between the last '/'
//     and the FIRST '.' after it; the rest ("a.b") is a property path into
//     the module's exports. A handler containing ".." is refused.
//   - Module resolution, relative to LAMBDA_TASK_ROOT: the extensionless
//     file (require); then file.js with require unless the nearest
//     package.json says "type": "module"; then file.js with import() when it
//     does; then file.mjs (import()), file.cjs (require); then a
//     require.resolve of the bare name from the task root.
//   - Init errors (Runtime.ImportModuleError, Runtime.UserCodeSyntaxError,
//     Runtime.HandlerNotFound, Runtime.MalformedHandlerName, or the user's
//     own error thrown while the module loads) go to /runtime/init/error,
//     then the process exits (129).
//   - The handler is called as handler(event, context, callback). A returned
//     promise (thenable) settles the invocation at once; otherwise the
//     callback does, after the event loop empties unless
//     context.callbackWaitsForEmptyEventLoop is false. A non-async handler
//     that never calls back answers null when the loop empties; an async one
//     whose promise never settles fails with Runtime.NodeJsExit.
//   - Errors are posted as {errorType, errorMessage, trace}: for an Error,
//     its name, message and stack lines; for anything else, typeof the value,
//     String(value) and []. Uncaught exceptions and unhandled rejections
//     fail the current invocation, then the process exits (129 and 128).
//   - console.* writes "ISO-time\trequestId\tLEVEL\tmessage" lines to stdout
//     (newlines inside a message become '\r', so one call is one line);
//     AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL are honoured.
//
// Deliberate differences: invocation errors also carry the
// Lambda-Runtime-Function-Error-Type header (AWS's client sends it only on
// init errors; the Runtime API allows it on both); response streaming
// (awslambda.streamifyResponse) and the telemetry log descriptor are not
// offered; a Runtime API that cannot be reached ends the process (exit 1).

import { Agent, request } from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const RUNTIME_PATH = "/2018-06-01/runtime";

// Exit codes of AWS's runtime client.
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;
// Exit code when the Runtime API itself fails (Switchboard's choice).
const EXIT_RUNTIME_API = 1;

// ---------------------------------------------------------------------------
// Errors (Errors.js)

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes",
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(typeof reason === "symbol" ? reason.toString() : reason);
    this.reason = reason;
    this.promise = promise;
  }
}
for (const E of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  NodeJsExit,
  UnhandledPromiseRejection,
]) {
  E.prototype.name = `Runtime.${E.name}`;
}

function isErrorLike(obj) {
  return (
    obj &&
    obj.name &&
    obj.message &&
    obj.stack &&
    typeof obj.name === "string" &&
    typeof obj.message === "string" &&
    typeof obj.stack === "string"
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

// toRapidResponse is the body posted to /error and /init/error.
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name?.replaceAll("\x7F", "%7F"),
        errorMessage: error.message?.replaceAll("\x7F", "%7F"),
        trace: error.stack.replaceAll("\x7F", "%7F").split("\n"),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: "handled",
      errorMessage:
        "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack",
    };
  }
}

function withEnumerableProperties(value) {
  if (!(value instanceof Error)) return value;
  const ret = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === "string") ret.stack = value.stack.split("\n");
  return ret;
}

// toFormatted renders an error for a text log line; it starts with a tab.
function toFormatted(error) {
  try {
    return "\t" + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch {
    return "\t" + JSON.stringify(toRapidResponse(error));
  }
}

// ---------------------------------------------------------------------------
// Logging (LogPatch.js)

const REQUEST_ID = Symbol.for("aws.lambda.runtime.requestId");
const LEVELS = Object.freeze({
  TRACE: { name: "TRACE", priority: 1 },
  DEBUG: { name: "DEBUG", priority: 2 },
  INFO: { name: "INFO", priority: 3 },
  WARN: { name: "WARN", priority: 4 },
  ERROR: { name: "ERROR", priority: 5 },
  FATAL: { name: "FATAL", priority: 6 },
});

function jsonErrorReplacer(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? "UnknownError",
        errorMessage: value.message,
        stackTrace: typeof value.stack === "string" ? value.stack.split("\n") : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJsonMessage(requestId, timestamp, level, ...params) {
  const result = { timestamp, level: level.name, requestId };
  if (params.length === 1) {
    result.message = params[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...params);
  for (const param of params) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? "UnknownError";
      result.errorMessage = param.message;
      result.stackTrace = typeof param.stack === "string" ? param.stack.split("\n") : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function logText(level, ...params) {
  const line = `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level.name}\t${util.format(...params)}`;
  process.stdout.write(line.replace(/\n/g, "\r") + "\n");
}

function logJSON(level, ...params) {
  const line = formatJsonMessage(globalThis[REQUEST_ID], new Date().toISOString(), level, ...params);
  process.stdout.write(line.replace(/\n/g, "\r") + "\n");
}

// structuredConsole.logError logs the runtime's own error reports.
const structuredConsole = { logError: () => {} };

function patchConsole() {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === "JSON";
  const log = json ? logJSON : logText;
  const min = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const at = (level) => (level.priority >= min.priority ? (...params) => log(level, ...params) : nop);
  console.trace = at(LEVELS.TRACE);
  console.debug = at(LEVELS.DEBUG);
  console.info = at(LEVELS.INFO);
  console.log = console.info;
  console.warn = at(LEVELS.WARN);
  console.error = at(LEVELS.ERROR);
  console.fatal = (...params) => log(LEVELS.FATAL, ...params);
  structuredConsole.logError = json
    ? (_msg, err) => console.error(intoError(err))
    : (msg, err) => console.error(msg, toFormatted(intoError(err)));
}

// ---------------------------------------------------------------------------
// Runtime API client (RAPIDClient.js)

function runtimeAPI() {
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) fatal("AWS_LAMBDA_RUNTIME_API is not set");
  const i = api.lastIndexOf(":");
  return {
    hostname: i < 0 ? api : api.slice(0, i).replace(/^\[(.*)\]$/, "$1"),
    port: i < 0 ? 80 : Number.parseInt(api.slice(i + 1), 10),
    // Idle keep-alive sockets are unref'd, so they never hold the event
    // loop open: only the user's work does (callbackWaitsForEmptyEventLoop).
    agent: new Agent({ keepAlive: true }),
  };
}

const api = runtimeAPI();

function fatal(message) {
  process.stderr.write(`switchboard nodejs bootstrap: ${message}\n`);
  process.exit(EXIT_RUNTIME_API);
}

// call sends one request to the Runtime API. A transport failure is fatal:
// without its Runtime API the worker has nothing left to do.
function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve) => {
    const req = request(
      {
        hostname: api.hostname,
        port: api.port,
        path: urlPath,
        method,
        agent: api.agent,
        headers:
          body === undefined
            ? headers
            : {
                "Content-Type": "application/json",
                "Content-Length": Buffer.byteLength(body),
                ...headers,
              },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", (e) => fatal(`${method} ${urlPath}: ${e.message}`));
      },
    );
    req.on("error", (e) => fatal(`${method} ${urlPath}: ${e.message}`));
    req.end(body);
  });
}

async function post(urlPath, body, headers) {
  const res = await call("POST", urlPath, body, headers);
  if (res.status >= 500) {
    // "Container error. Non-recoverable state. Runtime should exit promptly."
    fatal(`POST ${urlPath}: HTTP ${res.status}: ${res.body}`);
  }
  if (res.status < 200 || res.status > 299) {
    process.stderr.write(`switchboard nodejs bootstrap: POST ${urlPath}: HTTP ${res.status}: ${res.body}\n`);
  }
}

async function nextInvocation() {
  const res = await call("GET", `${RUNTIME_PATH}/invocation/next`);
  if (res.status !== 200) fatal(`GET next invocation: HTTP ${res.status}: ${res.body}`);
  return { bodyJson: res.body, headers: res.headers };
}

// serialize is AWS's _trySerializeResponse: undefined is sent as null.
function serialize(body) {
  let s;
  try {
    s = JSON.stringify(body === undefined ? null : body);
  } catch {
    throw new Error("Unable to stringify response body");
  }
  return s === undefined ? "null" : s;
}

// errorTypeHeader keeps the header value to what HTTP allows.
function errorTypeHeader(errorType) {
  const t = String(errorType ?? "");
  return /^[\x20-\x7e]+$/.test(t) ? { "Lambda-Runtime-Function-Error-Type": t } : {};
}

// postInvocationResponse serializes synchronously (so that a body that
// cannot be stringified throws to its caller, as in AWS's client) and
// returns the pending POST.
function postInvocationResponse(result, id) {
  const body = serialize(result);
  return post(`${RUNTIME_PATH}/invocation/${encodeURIComponent(id)}/response`, body);
}

function postInvocationError(error, id) {
  const response = toRapidResponse(error);
  return post(
    `${RUNTIME_PATH}/invocation/${encodeURIComponent(id)}/error`,
    serialize(response),
    errorTypeHeader(response.errorType),
  );
}

function postInitError(error) {
  const response = toRapidResponse(error);
  return post(`${RUNTIME_PATH}/init/error`, serialize(response), errorTypeHeader(response.errorType));
}

// ---------------------------------------------------------------------------
// Loading the handler (UserFunction.js)

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

function tryRequireFile(file, extension = "") {
  const p = file + extension;
  return fs.existsSync(p) ? require(p) : undefined;
}

async function tryAwaitImport(file, extension = "") {
  const p = file + extension;
  return fs.existsSync(p) ? await import(pathToFileURL(p).href) : undefined;
}

// hasFolderPackageJsonTypeModule looks for the nearest package.json from
// folder up, stopping at a node_modules folder or the root.
function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith("/node_modules")) return false;
  const pj = path.join(folder, "package.json");
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj, "utf8"));
      if (pkg) return pkg.type === "module";
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  const parent = path.resolve(folder, "..");
  if (parent === folder) return false;
  return hasFolderPackageJsonTypeModule(parent);
}

async function tryLoad(appRoot, moduleRoot, moduleName) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, moduleName);

  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;

  const pjHasModule = hasFolderPackageJsonTypeModule(path.dirname(lambdaStylePath));
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, ".js");
    if (loaded) return loaded;
  }

  const loaded =
    (pjHasModule && (await tryAwaitImport(lambdaStylePath, ".js"))) ||
    (await tryAwaitImport(lambdaStylePath, ".mjs")) ||
    tryRequireFile(lambdaStylePath, ".cjs");
  if (loaded) return loaded;

  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes("..")) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match) throw new MalformedHandlerName("Bad handler");
  const [, moduleName, handlerPath] = match;

  let app;
  try {
    app = await tryLoad(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e?.code === "MODULE_NOT_FOUND") throw new ImportModuleError(e);
    throw e;
  }

  const fn = handlerPath.split(".").reduce((nested, key) => nested && nested[key], app);
  if (!fn) throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  if (typeof fn !== "function") throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  return fn;
}

// ---------------------------------------------------------------------------
// The invocation loop (Runtime.js, CallbackContext.js, InvokeContext.js)

// The single beforeExit action (BeforeExitListener.js): it runs when the
// event loop has emptied during an invocation.
const noop = () => {};
let beforeExit = noop;

// errorCallbacks report an uncaught exception or unhandled rejection: as an
// init error until the first invocation, then as the current invocation's
// error. Either way the process then exits, as AWS's runtime does.
let dying = false;
const errorCallbacks = {
  uncaughtException: (error) => die(() => postInitError(error), EXIT_UNCAUGHT_EXCEPTION),
  unhandledRejection: (error) => die(() => postInitError(error), EXIT_UNHANDLED_REJECTION),
};

// die reports once, then exits: a second failure while the first report is
// in flight is only logged.
function die(report, code) {
  if (dying) return;
  dying = true;
  report().then(() => process.exit(code));
}

function buildCallbackContext(id, scheduleNext) {
  const postError = (err, next) => {
    structuredConsole.logError("Invoke Error", err);
    postInvocationError(err, id).then(next);
  };

  let isCompleteInvoked = false;
  const complete = (result, next) => {
    if (isCompleteInvoked) {
      console.error(
        "Invocation has already been reported as done. Cannot call complete more than once per invocation.",
      );
      return;
    }
    isCompleteInvoked = true;
    postInvocationResponse(result, id).then(next);
  };

  let waitForEmptyEventLoop = true;

  const callback = (err, result) => {
    beforeExit = noop;
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      beforeExit = () => setImmediate(() => complete(result, scheduleNext));
    }
  };

  const done = (err, result) => {
    beforeExit = noop;
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const succeed = (result) => done(null, result);
  const fail = (err) => (err === undefined || err === null ? done("handled") : done(err, null));

  // Only the first call of any of callback, done, succeed and fail counts.
  let finished = false;
  const once =
    (fn) =>
    (...args) => {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };

  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once(succeed),
    fail: once(fail),
    done: once(done),
  };
  const markCompleted = () => {
    isCompleteInvoked = true;
  };
  return [once(callback), context, markCompleted];
}

function parseJSONHeader(value, name) {
  if (value === undefined || value === "") return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

// attachEnvironmentData completes the context object from the environment
// and the invocation's headers (lower-cased by node:http).
function attachEnvironmentData(context, headers) {
  const trace = headers["lambda-runtime-trace-id"];
  if (trace) {
    process.env._X_AMZN_TRACE_ID = trace;
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  return Object.assign(
    context,
    {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    },
    {
      clientContext: parseJSONHeader(headers["lambda-runtime-client-context"], "ClientContext"),
      identity: parseJSONHeader(headers["lambda-runtime-cognito-identity"], "CognitoIdentity"),
      invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
      awsRequestId: headers["lambda-runtime-aws-request-id"],
      tenantId: headers["lambda-runtime-aws-tenant-id"],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    },
  );
}

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === "function";
}

function isAsyncFunction(fn) {
  try {
    return fn.constructor?.name === "AsyncFunction";
  } catch {
    return false;
  }
}

function run(handler) {
  const handlerIsAsync = isAsyncFunction(handler);

  const scheduleIteration = () => {
    setImmediate(() => {
      handleOnce().then(noop, (err) => {
        console.log(`Unexpected Top Level Error: ${err.toString()}`);
        errorCallbacks.uncaughtException(err);
      });
    });
  };

  const handleOnce = async () => {
    const { bodyJson, headers } = await nextInvocation();
    const id = headers["lambda-runtime-aws-request-id"];
    if (!id) fatal("next invocation without Lambda-Runtime-Aws-Request-Id");
    globalThis[REQUEST_ID] = id;

    const [callback, context, markCompleted] = buildCallbackContext(id, scheduleIteration);
    try {
      errorCallbacks.uncaughtException = (error) => die(() => postInvocationError(error, id), EXIT_UNCAUGHT_EXCEPTION);
      errorCallbacks.unhandledRejection = (error) => die(() => postInvocationError(error, id), EXIT_UNHANDLED_REJECTION);
      beforeExit = () => {
        markCompleted();
        if (handlerIsAsync) {
          const error = new NodeJsExit();
          structuredConsole.logError("Invoke Error", error);
          postInvocationError(error, id).then(scheduleIteration);
        } else {
          postInvocationResponse(null, id).then(scheduleIteration);
        }
      };

      const result = handler(JSON.parse(bodyJson), attachEnvironmentData(context, headers), callback);
      if (isPromise(result)) {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  };

  scheduleIteration();
}

async function main() {
  patchConsole();

  process.on("uncaughtException", (error) => {
    structuredConsole.logError("Uncaught Exception", error);
    errorCallbacks.uncaughtException(error);
  });
  process.on("unhandledRejection", (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    structuredConsole.logError("Unhandled Promise Rejection", error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on("beforeExit", () => beforeExit());

  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER ?? "");
  } catch (error) {
    // AWS's runtime lets this escape as an uncaught exception.
    structuredConsole.logError("Uncaught Exception", error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  run(handler);
}

await main();
