"""Reading the template's APIs: OpenAPI DefinitionBody routes, `$default`, Globals, and the `api:` section."""

from __future__ import annotations

import json

import pytest

from lambdatop.runtime.config.api_settings import ApiSettings
from lambdatop.runtime.apigateway.template import read_routes
from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError

from tests.apigw_support import api_running, call, write_sam_project

ECHO = """
    import json, os

    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps({"fn": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
                                                      "routeKey": event.get("routeKey"), "resource": event.get("resource"),
                                                      "stageVariables": event.get("stageVariables")})}
"""
TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Stage: {Type: String, Default: beta}
    Globals:
      Function: {Runtime: python3.12, Handler: app.handler}
    Resources:
      PetsApi:
        Type: AWS::Serverless::Api
        Properties:
          StageName: !Ref Stage
          Variables: {color: green}
          DefinitionBody:
            openapi: "3.0.1"
            paths:
              /pets/{petId}:
                get:
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    httpMethod: POST
                    uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Pets.Arn}/invocations"
      Pets:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: Pets/}
      Fallback:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Fallback/
          Events:
            Everything: {Type: HttpApi}
      Named:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Named/
          Events:
            One: {Type: HttpApi, Properties: {Path: /named, Method: get}}
"""


@pytest.fixture
def project(tmp_path):
    return write_sam_project(tmp_path, TEMPLATE, {name: ECHO for name in ("Pets", "Fallback", "Named")})


def test_routes_from_events_definition_bodies_and_parameters(project):
    found = read_routes(load_config(project))
    routes = {r.route_key: r for r in found.routes}
    assert set(routes) == {"GET /pets/{petId}", "$default", "GET /named"}
    pets = routes["GET /pets/{petId}"]
    assert (pets.function, pets.api.logical_id, pets.api.stage, pets.source) == ("Pets", "PetsApi", "beta",
                                                                                 "PetsApi.DefinitionBody")
    assert routes["$default"].api.logical_id == "ServerlessHttpApi" and routes["$default"].payload_version == "2.0"
    assert found.warnings == []


async def test_openapi_routes_and_the_default_route_answer(project):
    async with api_running(project) as api:
        _, _, body = await call("GET", f"{api.url}/pets/7")
        assert json.loads(body) == {"fn": "Pets", "routeKey": None, "resource": "/pets/{petId}",
                                    "stageVariables": {"color": "green"}}
        _, _, body = await call("GET", f"{api.url}/named")
        assert json.loads(body)["fn"] == "Named"  # a route beats $default
        for method, path in (("POST", "/named"), ("GET", "/anything/at/all")):
            status, _, body = await call(method, f"{api.url}{path}")
            assert (status, json.loads(body)["fn"], json.loads(body)["routeKey"]) == (200, "Fallback", "$default")


def test_the_api_section_is_checked_when_the_config_loads(tmp_path, project):
    config = tmp_path / "lambdatop.yaml"
    config.write_text("template: template.yaml\napi: {port: 0, integration_timeout: 5}\n")
    settings = ApiSettings.from_config(load_config(config))
    assert (settings.port, settings.integration_timeout_s, settings.enabled) == (0, 5.0, True)
    config.write_text("template: template.yaml\napi: {prot: 1}\n")
    with pytest.raises(ConfigError, match="did you mean 'port'"):
        load_config(config)
    config.write_text("template: template.yaml\napi: false\n")
    assert ApiSettings.from_config(load_config(config)).enabled is False
