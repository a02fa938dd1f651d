"""The endpoint's routing table: which method and path is which Lambda operation, and who answers it.

Paths are botocore's lambda 2015-03-31 model's requestUri values (each API
generation keeps its own date prefix). A path lambdatop does not route is
answered by the endpoint's middleware as UnknownOperationException.
"""

from __future__ import annotations

import functools
import re

from aiohttp import web

from lambdatop.runtime.api import function_url
from lambdatop.runtime.api.control_handlers import ControlHandlers
from lambdatop.runtime.api.invoke_handlers import InvokeHandlers


def route_table(invoke: InvokeHandlers, control: ControlHandlers) -> list[web.RouteDef]:
    c = control
    return [
        web.post("/2015-03-31/functions/{function}/invocations", invoke.invoke),
        web.post("/2015-03-31/functions/{function}/invocations/", invoke.invoke),
        web.post("/2014-11-13/functions/{function}/invoke-async/", invoke.invoke_async),
        web.post("/2014-11-13/functions/{function}/invoke-async", invoke.invoke_async),
        web.get("/2015-03-31/functions", c.list_functions, allow_head=False),
        web.get("/2015-03-31/functions/", c.list_functions, allow_head=False),
        web.get("/2015-03-31/functions/{function}", c.get_function, allow_head=False),
        web.delete("/2015-03-31/functions/{function}", c.delete_function),
        web.get("/2015-03-31/functions/{function}/configuration", c.get_function_configuration, allow_head=False),
        web.get("/2015-03-31/functions/{function}/versions", c.list_versions, allow_head=False),
        web.post("/2015-03-31/functions/{function}/versions", c.publish_version),
        web.get("/2015-03-31/functions/{function}/aliases", c.list_aliases, allow_head=False),
        web.post("/2015-03-31/functions/{function}/aliases", c.create_alias),
        web.get("/2015-03-31/functions/{function}/aliases/{alias}", c.get_alias, allow_head=False),
        web.put("/2015-03-31/functions/{function}/aliases/{alias}", c.update_alias),
        web.delete("/2015-03-31/functions/{function}/aliases/{alias}", c.delete_alias),
        web.get("/2019-09-30/functions/{function}/concurrency", c.get_function_concurrency, allow_head=False),
        web.get("/2021-10-31/functions/{function}/url", c.get_function_url_config, allow_head=False),
        web.get("/2021-10-31/functions/{function}/urls", c.list_function_url_configs, allow_head=False),
        web.get("/2016-08-19/account-settings", c.account_settings, allow_head=False),
        web.get("/2016-08-19/account-settings/", c.account_settings, allow_head=False),
        web.get("/2015-03-31/event-source-mappings/", c.list_event_source_mappings, allow_head=False),
        web.get("/2015-03-31/event-source-mappings", c.list_event_source_mappings, allow_head=False),
        web.get("/2015-03-31/event-source-mappings/{uuid}", c.get_event_source_mapping, allow_head=False),
        web.put("/2015-03-31/event-source-mappings/{uuid}", c.update_event_source_mapping),
        web.put("/2017-10-31/functions/{function}/concurrency", c.put_function_concurrency),
        web.delete("/2017-10-31/functions/{function}/concurrency", c.delete_function_concurrency),
        web.put("/2015-03-31/functions/{function}/configuration", c.update_function_configuration),
        web.get("/2019-09-25/functions/{function}/event-invoke-config", c.get_event_invoke_config, allow_head=False),
        web.put("/2019-09-25/functions/{function}/event-invoke-config", c.put_event_invoke_config),
        web.post("/2019-09-25/functions/{function}/event-invoke-config", c.put_event_invoke_config),
        web.delete("/2019-09-25/functions/{function}/event-invoke-config", c.delete_event_invoke_config),
        web.get("/2019-09-25/functions/{function}/event-invoke-config/list", c.list_event_invoke_configs, allow_head=False),
        web.get("/2015-03-31/functions/{function}/policy", c.get_policy, allow_head=False),
        web.get("/2017-03-31/tags/{resource}", c.list_tags, allow_head=False),
        web.get("/2021-07-20/functions/{function}/runtime-management-config", c.get_runtime_management_config, allow_head=False),
        web.get("/2020-06-30/functions/{function}/code-signing-config", c.get_code_signing_config, allow_head=False),
        web.get("/2019-09-30/functions/{function}/provisioned-concurrency", c.provisioned_concurrency, allow_head=False),
        web.get("/2018-10-31/layers", c.layers, allow_head=False),
        web.get("/2018-10-31/layers/{layer}/versions", c.list_layer_versions, allow_head=False),
        web.get("/2018-10-31/layers/{layer}/versions/{version}", c.get_layer_version, allow_head=False),
        web.route("*", function_url.URL_PREFIX + "/{function}", invoke.function_url_request),
        web.route("*", function_url.URL_PREFIX + "/{function}/{path:.*}", invoke.function_url_request),
    ]


def unknown_operation_message(request: web.Request) -> str:
    if request.path in ("", "/"):
        return (
            "lambdatop serves Lambda's Invoke API at POST /2015-03-31/functions/{name}/invocations "
            "and function URLs at /fn/{name}/"
        )
    operation = operation_of(request.method, request.path, dict(request.query))
    if operation is not None:
        return (
            f"lambdatop does not implement the Lambda operation {operation} ({request.method} {request.path}); "
            f"the README's HTTP endpoint section lists the operations it answers"
        )
    return f"Unknown operation: {request.method} {request.path}"


def operation_of(method: str, path: str, query: dict[str, str]) -> str | None:
    """The name botocore's Lambda model gives a request (`DeleteFunction`), or None for a path Lambda lacks."""
    best: tuple[int, str] | None = None
    for name, verb, pattern, required, weight in _operations():
        if verb != method or not pattern.fullmatch(path.rstrip("/") or "/"):
            continue
        if any(query.get(key) != value for key, value in required.items()):
            continue
        if best is None or weight > best[0]:
            best = (weight, name)
    return best[1] if best is not None else None


@functools.cache
def _operations() -> list[tuple[str, str, re.Pattern[str], dict[str, str], int]]:
    """(name, method, path pattern, fixed query parameters, specificity) of every operation in botocore's model.

    botocore comes with boto3, a dependency; its model is the list of what Lambda has, so an unknown
    call can be named in the error.
    """
    from botocore.loaders import Loader

    model = Loader().load_service_model("lambda", "service-2")
    found = []
    for name, operation in model["operations"].items():
        uri, _, query = operation["http"]["requestUri"].partition("?")
        required = dict(part.partition("=")[::2] for part in query.split("&") if "=" in part)
        parts = re.split(r"(\{[^}]+\})", uri.rstrip("/") or "/")
        pattern = "".join(
            (".+" if part.endswith("+}") else "[^/]+") if part.startswith("{") else re.escape(part) for part in parts
        )
        literal = sum(len(part) for part in parts if not part.startswith("{"))
        found.append((name, operation["http"]["method"], re.compile(pattern), required, literal + 100 * len(required)))
    return found
