"""The control-plane handlers of the endpoint: read the request, ask ControlPlane (or the mappings), answer JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdatop.runtime.api.control_plane import ControlPlane
from lambdatop.runtime.api.parsing import qualified_name
from lambdatop.runtime.api.responses import json_response
from lambdatop.runtime.apigateway.url_configs import FunctionUrlNotFound

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet


class ControlHandlers:
    """One handler per control-plane operation; `url_of(name)` is the local URL of a function's function URL."""

    def __init__(self, fleet: Fleet, control: ControlPlane, url_of: Callable[[str], str]) -> None:
        self.fleet = fleet
        self.control = control
        self.url_of = url_of

    async def list_functions(self, request: web.Request) -> web.StreamResponse:
        body = self.control.list_functions(request.query.get("Marker"), request.query.get("MaxItems"))
        return json_response(body)

    async def get_function(self, request: web.Request) -> web.StreamResponse:
        name = qualified_name(request.match_info["function"], request.query.get("Qualifier"))
        return json_response(self.control.get_function(name))

    async def get_function_configuration(self, request: web.Request) -> web.StreamResponse:
        name = qualified_name(request.match_info["function"], request.query.get("Qualifier"))
        return json_response(self.control.get_function_configuration(name))

    async def get_function_concurrency(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.control.get_function_concurrency(request.match_info["function"]))

    # Event source mappings: the bodies live with the pollers (runtime/triggers/mappings_api.py).
    async def list_event_source_mappings(self, request: web.Request) -> web.StreamResponse:
        from lambdatop.runtime.triggers import mappings_api

        query = request.query
        return json_response(mappings_api.list_mappings(self.fleet, query.get("FunctionName"), query.get("EventSourceArn")))

    async def get_event_source_mapping(self, request: web.Request) -> web.StreamResponse:
        from lambdatop.runtime.triggers import mappings_api

        return json_response(mappings_api.get_mapping(self.fleet, request.match_info["uuid"]))

    async def update_event_source_mapping(self, request: web.Request) -> web.StreamResponse:
        from lambdatop.runtime.triggers import mappings_api

        body = json.loads(await request.read() or b"{}")
        return json_response(mappings_api.update_mapping(self.fleet, request.match_info["uuid"], body), status=202)

    async def account_settings(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.control.account_settings())

    async def list_versions(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.control.list_versions(request.match_info["function"]))

    async def list_aliases(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.control.list_aliases(request.match_info["function"]))

    async def get_function_url_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._url_config(request.match_info["function"]))

    async def list_function_url_configs(self, request: web.Request) -> web.StreamResponse:
        try:
            configs = [self._url_config(request.match_info["function"])]
        except FunctionUrlNotFound:
            configs = []  # a function without a FunctionUrlConfig has no URL to list
        return json_response({"FunctionUrlConfigs": configs})

    def _url_config(self, name: str) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        return self.control.function_url_config(name, self.url_of(function.function_name or function.name))
