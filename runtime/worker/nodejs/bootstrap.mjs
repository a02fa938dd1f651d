// lambdatop's Node.js runtime: speaks the Lambda Runtime API like AWS's aws-lambda-nodejs-runtime-interface-client.
//
// Started by the zygote (fork + exec of `node bootstrap.mjs`, runtime/worker/exec_runtime.py) with Lambda's
// environment: _HANDLER (`index.handler`, `src/app.nested.fn`), LAMBDA_TASK_ROOT, AWS_LAMBDA_RUNTIME_API.
// Loads the handler module (CommonJS or ESM: .js, .mjs, .cjs, by import()), then serves one invocation at a
// time: async handlers, callback handlers (three parameters), Lambda's context object, console lines in
// Lambda's format (`<time>\t<request id>\tINFO\t<message>`), errors as {errorType, errorMessage, trace}.
// Node's core modules only: no npm, nothing to build.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { pathToFileURL } from "node:url";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
let currentRequestId = undefined;

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const request = http.request({ host, port, method, agent, path: "/2018-06-01/runtime" + urlPath,
      headers: data ? { ...headers, "Content-Type": "application/json", "Content-Length": data.length } : headers },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }));
      });
    request.on("error", reject);
    if (data) request.write(data);
    request.end();
  });
}

// -- console, as the Node.js runtime formats it on stdout (a message's newlines become \r: one log event) --
function patchConsole() {
  const write = (level) => (...args) => {
    const message = util.format(...args).replace(/\n/g, "\r");
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${message}\n`);
  };
  console.log = write("INFO");
  console.info = write("INFO");
  console.warn = write("WARN");
  console.error = write("ERROR");
  console.debug = write("DEBUG");
  console.trace = write("TRACE");
}

function errorResponse(error, fallbackType = "Error") {
  const isError = error instanceof Error;
  return {
    errorType: isError ? error.name || fallbackType : typeof error === "string" ? "string" : fallbackType,
    errorMessage: isError ? error.message : typeof error === "string" ? error : util.inspect(error),
    trace: isError && error.stack ? error.stack.split("\n") : [],
  };
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

// -- Init: find and load the handler ----------------------------------------------------------------------
function moduleFile(moduleName) {
  for (const extension of [".js", ".mjs", ".cjs"]) {
    const file = path.resolve(taskRoot, moduleName + extension);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

async function loadHandler(handlerString) {
  const base = path.basename(handlerString);
  const dot = base.indexOf(".");
  if (dot < 1 || dot === base.length - 1) {
    throw new RuntimeError("Runtime.MalformedHandlerName", `Bad handler ${handlerString}`);
  }
  const moduleName = path.join(path.dirname(handlerString), base.slice(0, dot));
  const functionPath = base.slice(dot + 1).split(".");
  const file = moduleFile(moduleName);
  if (file === null) {
    throw new RuntimeError("Runtime.ImportModuleError",
      `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${new URL(import.meta.url).pathname}`);
  }
  let module;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error instanceof SyntaxError) throw new RuntimeError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}`);
    throw error;
  }
  let target = functionPath[0] in module ? module : module.default;
  for (const part of functionPath) target = target === undefined || target === null ? undefined : target[part];
  if (typeof target !== "function") {
    throw new RuntimeError("Runtime.HandlerNotFound", `${base} is undefined or not exported`);
  }
  return target;
}

// -- Invoke -----------------------------------------------------------------------------------------------
function makeContext(headers, settle) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const parse = (value) => (value ? JSON.parse(value) : undefined);
  const clientContext = parse(headers["lambda-runtime-client-context"]);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    clientContext,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    // The legacy context methods.
    done: (error, result) => settle(error, result),
    succeed: (result) => settle(null, result),
    fail: (error) => settle(error ?? "handled"),
  };
}

function invoke(handler, event, headers) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (error, result) => {
      if (!settled) {
        settled = true;
        resolve({ error, result });
      }
    };
    const context = makeContext(headers, settle);
    try {
      const returned = handler(event, context, settle);
      if (returned && typeof returned.then === "function") {
        returned.then((result) => settle(null, result), (error) => settle(error ?? new Error("rejected")));
      } else if (handler.length < 3) {
        settle(null, returned);
      }
    } catch (error) {
      settle(error);
    }
  });
}

async function serve(handler) {
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const headers = next.headers;
    const requestId = headers["lambda-runtime-aws-request-id"];
    currentRequestId = requestId;
    if (headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body.toString("utf8") || "{}");
    } catch (error) {
      await postError(requestId, new RuntimeError("Runtime.UnmarshalError", `Unable to parse event: ${error.message}`));
      continue;
    }
    const { error, result } = await invoke(handler, event, headers);
    if (error !== null && error !== undefined) {
      await postError(requestId, error);
    } else {
      let body;
      try {
        body = JSON.stringify(result === undefined ? null : result);
      } catch (cause) {
        await postError(requestId, new RuntimeError("Runtime.MarshalError", `Unable to stringify response body: ${cause.message}`));
        continue;
      }
      await call("POST", `/invocation/${requestId}/response`, body);
    }
  }
}

async function postError(requestId, error) {
  const response = errorResponse(error);
  console.error("Invoke Error", "\t" + JSON.stringify({ errorType: response.errorType, errorMessage: response.errorMessage, stack: response.trace }));
  await call("POST", `/invocation/${requestId}/error`, JSON.stringify(response),
    { "Lambda-Runtime-Function-Error-Type": response.errorType });
}

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || "index.handler");
  } catch (error) {
    const response = errorResponse(error);
    console.error("Uncaught Exception", "\t" + JSON.stringify({ errorType: response.errorType, errorMessage: response.errorMessage,
      stack: response.trace.length ? response.trace : [`${response.errorType}: ${response.errorMessage}`] }));
    await call("POST", "/init/error", JSON.stringify(response), { "Lambda-Runtime-Function-Error-Type": response.errorType });
    process.exit(1);
  }
  process.on("uncaughtException", async (error) => {
    const response = errorResponse(error);
    console.error("Uncaught Exception", "\t" + JSON.stringify({ errorType: response.errorType, errorMessage: response.errorMessage, stack: response.trace }));
    if (currentRequestId !== undefined) await postError(currentRequestId, error).catch(() => {});
    process.exit(129);
  });
  await serve(handler);
}

main();
