"""Calls another function through Lambda's API with plain boto3, exactly as deployed code would.

Under lambdatop the worker's AWS_ENDPOINT_URL_LAMBDA points boto3 at lambdatop's
endpoint (`lambdatop serve` or the dashboard), and botocore forwards this
invocation's trace header, so the callee shows up as its child in the trace view.

Event: {"target": "hello", "payload": {...}, "async": false}
"""

import json
import os

import boto3

# Created once in Init and reused by warm invocations, as on Lambda.
lambda_client = boto3.client("lambda")


def handler(event, context):
    if not os.environ.get("AWS_ENDPOINT_URL_LAMBDA"):
        # Without lambdatop's endpoint boto3 would call the real AWS Lambda.
        raise RuntimeError("no Lambda endpoint: run this under `lambdatop serve` or the lambdatop dashboard")
    target = event.get("target", "hello")
    payload = event.get("payload", {"name": context.function_name})
    invocation_type = "Event" if event.get("async") else "RequestResponse"
    response = lambda_client.invoke(
        FunctionName=target, InvocationType=invocation_type, Payload=json.dumps(payload).encode()
    )
    body = response["Payload"].read()
    print(f"invoked {target} ({invocation_type}): status {response['StatusCode']}")
    return {
        "target": target,
        "status_code": response["StatusCode"],
        "function_error": response.get("FunctionError"),
        "executed_version": response.get("ExecutedVersion"),
        "request_id": response["ResponseMetadata"]["RequestId"],
        "response": json.loads(body) if body else None,
    }
