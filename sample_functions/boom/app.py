"""Raises: an unhandled exception, as Lambda reports it."""

import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    logger.info("about to look up %s", "action")
    return {"action": event["action"]}
