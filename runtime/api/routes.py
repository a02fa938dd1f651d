"""The endpoint's routing table: which method and path is which Lambda operation, and who answers it.

Paths are botocore's lambda 2015-03-31 model's requestUri values (each API
generation keeps its own date prefix). A path lambdatop does not route is
answered by the endpoint's middleware as UnknownOperationException.
"""

from __future__ import annotations

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
        web.get("/2015-03-31/functions/{function}/configuration", c.get_function_configuration, allow_head=False),
        web.get("/2015-03-31/functions/{function}/versions", c.list_versions, allow_head=False),
        web.get("/2015-03-31/functions/{function}/aliases", c.list_aliases, allow_head=False),
        web.get("/2019-09-30/functions/{function}/concurrency", c.get_function_concurrency, allow_head=False),
        web.get("/2021-10-31/functions/{function}/url", c.get_function_url_config, allow_head=False),
        web.get("/2021-10-31/functions/{function}/urls", c.list_function_url_configs, allow_head=False),
        web.get("/2016-08-19/account-settings", c.account_settings, allow_head=False),
        web.get("/2016-08-19/account-settings/", c.account_settings, allow_head=False),
        web.get("/2015-03-31/event-source-mappings/", c.list_event_source_mappings, allow_head=False),
        web.get("/2015-03-31/event-source-mappings", c.list_event_source_mappings, allow_head=False),
        web.get("/2015-03-31/event-source-mappings/{uuid}", c.get_event_source_mapping, allow_head=False),
        web.put("/2015-03-31/event-source-mappings/{uuid}", c.update_event_source_mapping),
        web.route("*", function_url.URL_PREFIX + "/{function}", invoke.function_url_request),
        web.route("*", function_url.URL_PREFIX + "/{function}/{path:.*}", invoke.function_url_request),
    ]


def unknown_operation_message(request: web.Request) -> str:
    if request.path in ("", "/"):
        return (
            "lambdatop serves Lambda's Invoke API at POST /2015-03-31/functions/{name}/invocations "
            "and function URLs at /fn/{name}/"
        )
    return f"Unknown operation: {request.method} {request.path}"
