"""Powertools' API Gateway resolvers, unmodified, route the events the API port builds."""

from __future__ import annotations

import json

import pytest

from tests.apigw_support import api_running, call, write_sam_project

REST_APP = """
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    app = APIGatewayRestResolver()
    TODOS = {"1": {"id": "1", "title": "write tests"}}


    @app.get("/todos")
    def list_todos():
        done = app.current_event.get_query_string_value("done", default_value="any")
        return {"todos": list(TODOS.values()), "done": done}


    @app.get("/todos/<todo_id>")
    def get_todo(todo_id: str):
        return TODOS[todo_id]


    @app.post("/todos")
    def create_todo():
        todo = app.current_event.json_body
        TODOS[todo["id"]] = todo
        return {"created": todo["id"]}, 201


    def handler(event, context):
        return app.resolve(event, context)
"""
HTTP_APP = """
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    app = APIGatewayHttpResolver()


    @app.get("/users/<user_id>")
    def get_user(user_id: str):
        return {"user": user_id, "agent": app.current_event.request_context.http.user_agent}


    @app.delete("/users/<user_id>")
    def delete_user(user_id: str):
        return {"deleted": user_id}


    def handler(event, context):
        return app.resolve(event, context)
"""
POWERTOOLS = "aws-lambda-powertools\n"
TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, Handler: app.handler, Timeout: 10}
    Resources:
      Todos:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Todos/
          Events:
            List: {Type: Api, Properties: {Path: /todos, Method: get}}
            One: {Type: Api, Properties: {Path: "/todos/{todo_id}", Method: get}}
            Create: {Type: Api, Properties: {Path: /todos, Method: post}}
      UsersApi:
        Type: AWS::Serverless::HttpApi
        Properties: {StageName: v1}
      Users:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: Users/
          Events:
            All: {Type: HttpApi, Properties: {ApiId: !Ref UsersApi, Path: "/users/{proxy+}", Method: ANY}}
"""


@pytest.fixture
def project(tmp_path):
    # Declared as a SAM app declares them: each folder's requirements.txt is installed (once, then reused).
    return write_sam_project(tmp_path, TEMPLATE, {"Todos": REST_APP, "Users": HTTP_APP, "Todos/requirements.txt": POWERTOOLS,
                                                  "Users/requirements.txt": POWERTOOLS})


async def test_a_rest_resolver_app_routes_get_post_and_path_parameters(project):
    async with api_running(project) as api:
        status, _, body = await call("GET", f"{api.url}/todos?done=false")
        assert (status, json.loads(body)["done"]) == (200, "false")
        status, _, body = await call("POST", f"{api.url}/todos", json={"id": "2", "title": "ship"})
        assert (status, json.loads(body)) == (201, {"created": "2"})
        status, headers, body = await call("GET", f"{api.url}/todos/2")
        assert (status, json.loads(body)) == (200, {"id": "2", "title": "ship"})
        assert headers["Content-Type"] == "application/json"


async def test_an_http_resolver_app_routes_under_a_named_stage(project):
    async with api_running(project) as api:
        status, _, body = await call("GET", f"{api.url}/users/ada", headers={"User-Agent": "pt-test"})
        assert (status, json.loads(body)) == (200, {"user": "ada", "agent": "pt-test"})
        status, _, body = await call("DELETE", f"{api.url}/users/ada")
        assert (status, json.loads(body)) == (200, {"deleted": "ada"})
        status, _, body = await call("PATCH", f"{api.url}/users/ada")
        assert status == 404  # Powertools' own not-found: the route reached the function, which had no handler
        assert json.loads(body)["message"] == "Not found"


async def test_the_sample_todo_api_answers_on_the_api_port_and_its_default_event_works():
    from tests.conftest import SAMPLE_TEMPLATE

    async with api_running(SAMPLE_TEMPLATE) as api:
        status, _, body = await call("POST", f"{api.url}/todos", json={"title": "ship it"})
        assert status == 201
        created = json.loads(body)
        status, _, body = await call("GET", f"{api.url}/todos/{created['id']}")
        assert (status, json.loads(body)["title"]) == (200, "ship it")
        status, _, _ = await call("GET", f"{api.url}/todos/404")
        assert status == 404
        event = (SAMPLE_TEMPLATE.parent / "todo_api" / "events" / "basic.json").read_bytes()
        result = await api.fleet.invoke("todo_api", event)  # what `i` sends in the dashboard
        assert json.loads(result.response)["statusCode"] == 200
