"""The environment variables a worker starts with: Lambda's reserved set plus the function's own.

Nothing else of the developer's shell leaks in, except HOME. PATH and
LD_LIBRARY_PATH are Lambda's lists with this machine's folders in place of
/var/lang (the interpreter's), and LANG is Lambda's en_US.UTF-8 whatever the
shell's is.
In particular not the host's AWS keys: Lambda always has credentials, so
workers get dummy ones (and a dummy session token, as a role's would have),
which the local AWS services accept and real AWS refuses. The AWS services
(runtime/aws/) put the host's keys in `shared` only when the config says
`aws: {credentials: host}`; then nothing dummy is mixed in. See LAMBDA.md §3.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

from lambdatop.runtime.config import FleetConfig, FunctionConfig

_PASSED_THROUGH = ("HOME",)
# Lambda's PATH for the Python runtimes, after /var/lang/bin (the interpreter's folder: here, this one's).
_LAMBDA_PATH = ("/usr/local/bin", "/usr/bin/", "/bin", "/opt/bin")
_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Lambda always has credentials; dummy ones keep SDK clients constructible and reach only local services.
_PLACEHOLDER_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIALAMBDATOPLOCAL00",
    "AWS_SECRET_ACCESS_KEY": "lambdatop-local-secret-access-key",
    "AWS_SESSION_TOKEN": "lambdatop-local-session-token",
}
RUNTIME_DIR = str(Path(__file__).resolve().parent)
XRAY_DAEMON = ("127.0.0.1", 2000)


def lambda_environment(
    function: FunctionConfig,
    fleet: FleetConfig,
    *,
    version: str,
    tmpdir: Path,
    log_stream: str,
    xray_daemon: tuple[str, int] = XRAY_DAEMON,
    runtime_api: str | None = None,
    shared: dict[str, str] | None = None,
) -> dict[str, str]:
    host, port = xray_daemon
    environ = {
        "_HANDLER": function.handler,
        "AWS_REGION": fleet.region,
        "AWS_DEFAULT_REGION": fleet.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name or function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name or function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
        "_AWS_XRAY_DAEMON_ADDRESS": host,
        "_AWS_XRAY_DAEMON_PORT": str(port),
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "TMPDIR": str(tmpdir),
        "PATH": search_path(),
        "LD_LIBRARY_PATH": library_path(str(function.code_dir)),
    }
    environ.update(function.logging_config.environment())
    if function.logging_config.log_group:
        environ["AWS_LAMBDA_LOG_GROUP_NAME"] = function.logging_config.log_group
    if runtime_api:
        environ["AWS_LAMBDA_RUNTIME_API"] = runtime_api
    for name in _PASSED_THROUGH:
        if name in os.environ:
            environ[name] = os.environ[name]
    shared = shared or {}
    # Credentials the fleet hands out (aws: {credentials: host}) replace the dummy set whole: a real key
    # beside a dummy session token would be refused by AWS.
    given = {name: shared[name] for name in _CREDENTIALS if name in shared}
    environ.update(given or _PLACEHOLDER_CREDENTIALS)
    environ["AWS_ACCESS_KEY"] = environ["AWS_ACCESS_KEY_ID"]
    # What the running fleet adds (AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, the X-Ray daemon's address).
    environ.update(shared)
    # The function's own variables last: Lambda refuses reserved names at deploy, we let them win locally.
    environ.update(function.environment)
    return environ


def search_path() -> str:
    """PATH as Lambda sets it (`/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin`), this interpreter's folder first."""
    return ":".join((os.path.dirname(sys.executable), *_LAMBDA_PATH))


def library_path(task_root: str) -> str:
    """LD_LIBRARY_PATH as Lambda sets it, /var/lang/lib being this interpreter's library folder.

    Lambda: /var/lang/lib:/lib64:/usr/lib64:$LAMBDA_RUNTIME_DIR:$LAMBDA_RUNTIME_DIR/lib:$LAMBDA_TASK_ROOT:
    $LAMBDA_TASK_ROOT/lib:/opt/lib. A library path the shell needed to start Python (a conda or
    custom build) stays in front, or a subprocess Python could not start.
    """
    own = [part for part in os.environ.get("LD_LIBRARY_PATH", "").split(":") if part]
    lang_lib = sysconfig.get_config_var("LIBDIR") or os.path.join(sys.base_prefix, "lib")
    lambda_parts = [lang_lib, "/lib64", "/usr/lib64", RUNTIME_DIR, f"{RUNTIME_DIR}/lib", task_root, f"{task_root}/lib", "/opt/lib"]
    return ":".join(dict.fromkeys([*own, *lambda_parts]))
