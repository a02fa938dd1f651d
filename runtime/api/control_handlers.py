"""The control-plane handlers of the endpoint: read the request, ask ControlPlane (or the mappings), answer JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdatop.runtime.api import function_settings, layers_api
from lambdatop.runtime.api.control_plane import ControlPlane
from lambdatop.runtime.api.parsing import qualified_name, split_qualifier
from lambdatop.runtime.api.responses import json_response
from lambdatop.runtime.apigateway.url_configs import FunctionUrlNotFound
from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.errors import InvalidRequestContent, PreconditionFailed, UnknownOperation

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

    # Versions and aliases: the bodies are versions_api.py's, the state the fleet's VersionRegistry.
    async def list_versions(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        return json_response(self.control.versions.list_versions(request.match_info["function"], query.get("Marker"),
                                                                 query.get("MaxItems")))

    async def publish_version(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        return json_response(self.control.versions.publish_version(request.match_info["function"], body), status=201)

    async def list_aliases(self, request: web.Request) -> web.StreamResponse:
        versions, query = self.control.versions, request.query
        return json_response(versions.list_aliases(request.match_info["function"], query.get("FunctionVersion"),
                                                   query.get("Marker"), query.get("MaxItems")))

    async def create_alias(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        return json_response(self.control.versions.create_alias(request.match_info["function"], body), status=201)

    async def get_alias(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return json_response(self.control.versions.get_alias(info["function"], info["alias"]))

    async def update_alias(self, request: web.Request) -> web.StreamResponse:
        info, body = request.match_info, await _json_body(request)
        return json_response(self.control.versions.update_alias(info["function"], info["alias"], body))

    async def delete_function(self, request: web.Request) -> web.StreamResponse:
        """DeleteFunction of a published version (`Qualifier=2`); deleting the function itself is not done here."""
        from lambdatop.runtime.api.routes import unknown_operation_message  # routes imports this module

        qualifier = request.query.get("Qualifier") or split_qualifier(request.match_info["function"])[1]
        if qualifier is None:
            raise UnknownOperation(unknown_operation_message(request))
        function = self._function(request)
        self.fleet.versions.delete_version(function.name, qualifier)
        return web.Response(status=204)

    async def delete_alias(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        self.control.versions.delete_alias(info["function"], info["alias"])
        return web.Response(status=204)

    async def get_function_url_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._url_config(request.match_info["function"]))

    async def list_function_url_configs(self, request: web.Request) -> web.StreamResponse:
        try:
            configs = [self._url_config(request.match_info["function"])]
        except FunctionUrlNotFound:
            configs = []  # a function without a FunctionUrlConfig has no URL to list
        return json_response({"FunctionUrlConfigs": configs})

    # -- settings read from the template --------------------------------------------

    async def get_event_invoke_config(self, request: web.Request) -> web.StreamResponse:
        function = self._function(request)
        return json_response(function_settings.event_invoke_config(self.fleet, function, self._modified(function)))

    async def list_event_invoke_configs(self, request: web.Request) -> web.StreamResponse:
        function = self._function(request)
        configs = [function_settings.event_invoke_config(self.fleet, function, self._modified(function))] \
            if function.event_invoke_config else []
        return json_response({"FunctionEventInvokeConfigs": configs})

    async def get_policy(self, request: web.Request) -> web.StreamResponse:
        return json_response(function_settings.policy(self.fleet, self._function(request)))

    async def list_tags(self, request: web.Request) -> web.StreamResponse:
        function = self.fleet.resolve(request.match_info["resource"])
        return json_response({"Tags": self.control.tags(function)})

    async def get_runtime_management_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(function_settings.runtime_management(self.fleet, self._function(request)))

    async def get_code_signing_config(self, request: web.Request) -> web.StreamResponse:
        return json_response(function_settings.code_signing(self._function(request)))

    async def provisioned_concurrency(self, request: web.Request) -> web.StreamResponse:
        """GetProvisionedConcurrencyConfig, or ListProvisionedConcurrencyConfigs (`?List=ALL`, the same path)."""
        function = self.fleet.resolve(request.match_info["function"])
        if request.query.get("List") == "ALL":
            return json_response({"ProvisionedConcurrencyConfigs": []})
        return json_response(function_settings.provisioned_concurrency(function))

    async def layers(self, request: web.Request) -> web.StreamResponse:
        """ListLayers, or GetLayerVersionByArn (`?find=LayerVersion&Arn=...`, the same path)."""
        if request.query.get("find") == "LayerVersion":
            return json_response(layers_api.get_layer_version_by_arn(self.fleet, request.query.get("Arn", "")))
        return json_response(layers_api.list_layers(self.fleet))

    async def list_layer_versions(self, request: web.Request) -> web.StreamResponse:
        return json_response(layers_api.list_layer_versions(self.fleet, request.match_info["layer"]))

    async def get_layer_version(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return json_response(layers_api.get_layer_version(self.fleet, info["layer"], info["version"]))

    # -- write calls, applied to the running fleet -----------------------------------

    async def put_function_concurrency(self, request: web.Request) -> web.StreamResponse:
        function = self._function(request)
        return json_response(self.control.updates.put_concurrency(function, await _json_body(request)))

    async def delete_function_concurrency(self, request: web.Request) -> web.StreamResponse:
        self.control.updates.delete_concurrency(self._function(request))
        return web.Response(status=204)

    async def update_function_configuration(self, request: web.Request) -> web.StreamResponse:
        function, body = self._function(request), await _json_body(request)
        revision = body.get("RevisionId")
        if revision is not None and revision != self.control.configuration(function)["RevisionId"]:
            raise PreconditionFailed("The Revision Id provided does not match the latest Revision Id. "
                                     "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        updated = self.control.updates.update_configuration(function, body)
        return json_response(self.control.configuration(updated))

    async def put_event_invoke_config(self, request: web.Request) -> web.StreamResponse:
        """PutFunctionEventInvokeConfig (PUT, replaces) and UpdateFunctionEventInvokeConfig (POST, merges)."""
        function = self._function(request)
        updated = self.control.updates.put_event_invoke_config(function, await _json_body(request), merge=request.method == "POST")
        return json_response(function_settings.event_invoke_config(self.fleet, updated, self._modified(updated)))

    async def delete_event_invoke_config(self, request: web.Request) -> web.StreamResponse:
        function = self._function(request)
        function_settings.event_invoke_config(self.fleet, function, 0.0)  # Lambda's 404 when there is none
        self.control.updates.delete_event_invoke_config(function)
        return web.Response(status=204)

    # -- internals --------------------------------------------------------------------

    def _function(self, request: web.Request) -> FunctionConfig:
        return self.fleet.resolve(qualified_name(request.match_info["function"], request.query.get("Qualifier")))

    def _modified(self, function: FunctionConfig) -> float:
        """When a function's settings last changed: an API write, else the config file."""
        updated = self.control.updates.updated_at.get(function.name)
        if updated is not None:
            return updated
        try:
            return self.fleet.config.path.stat().st_mtime
        except OSError:
            return 0.0

    def _url_config(self, name: str) -> dict[str, Any]:
        function = self.fleet.resolve(name)
        return self.control.function_url_config(name, self.url_of(function.function_name or function.name))


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise InvalidRequestContent("Could not parse request body into json") from None
    if not isinstance(body, dict):
        raise InvalidRequestContent("Could not parse request body into json: it must be an object")
    return body
