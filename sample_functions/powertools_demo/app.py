"""Powertools for AWS Lambda, unmodified: Tracer subsegments, structured Logger lines, EMF Metrics.

With `Tracing: Active` lambdatop passes `Sampled=1` in `_X_AMZN_TRACE_ID`, so the
Tracer's subsegments reach lambdatop's local X-Ray daemon and show under this
invocation's trace; Metrics prints one EMF line per invocation, which lambdatop
turns into the custom metrics `Orders/OrdersPlaced` and `Orders/OrderValue`.
"""

import time

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

tracer = Tracer(service="orders")
logger = Logger(service="orders")
metrics = Metrics(namespace="Orders", service="orders")


@tracer.capture_method
def price(items: list[dict]) -> float:
    total = sum(item.get("price", 0) * item.get("quantity", 1) for item in items)
    tracer.put_annotation("item_count", len(items))
    return round(total, 2)


@tracer.capture_method
def save(order_id: str, total: float) -> None:
    time.sleep(0.02)  # stands in for a DynamoDB put
    tracer.put_metadata("saved", {"order_id": order_id, "total": total})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    order_id = event.get("order_id", "unknown")
    tracer.put_annotation("order_id", order_id)
    items = event.get("items", [])
    if not items:
        logger.error("order has no items", extra={"order_id": order_id})
        raise ValueError(f"order {order_id} has no items")
    total = price(items)
    save(order_id, total)
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="OrderValue", unit=MetricUnit.NoUnit, value=total)
    logger.info("order placed", extra={"order_id": order_id, "total": total})
    return {"order_id": order_id, "total": total}
