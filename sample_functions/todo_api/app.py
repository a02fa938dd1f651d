"""A REST API behind API Gateway: Powertools' APIGatewayRestResolver, unmodified.

Its `Api` events put three routes on the API port (`lambdatop serve` prints them):

    curl http://127.0.0.1:3000/todos
    curl http://127.0.0.1:3000/todos/1
    curl -X POST http://127.0.0.1:3000/todos -H 'Content-Type: application/json' -d '{"title": "ship it"}'

State lives in the environment (a warm worker keeps it; a cold one starts over), as it would on Lambda.
"""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

app = APIGatewayRestResolver()
TODOS: dict[str, dict] = {"1": {"id": "1", "title": "try lambdatop", "done": False}}


@app.get("/todos")
def list_todos() -> dict:
    return {"todos": list(TODOS.values())}


@app.get("/todos/<todo_id>")
def get_todo(todo_id: str) -> dict:
    if todo_id not in TODOS:
        raise NotFoundError(f"no todo {todo_id}")
    return TODOS[todo_id]


@app.post("/todos")
def create_todo() -> tuple[dict, int]:
    todo_id = str(len(TODOS) + 1)
    TODOS[todo_id] = {"id": todo_id, "title": app.current_event.json_body.get("title", ""), "done": False}
    return TODOS[todo_id], 201


def handler(event, context):
    return app.resolve(event, context)
