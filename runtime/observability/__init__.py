"""Traces, metrics, custom metrics (EMF), alarms, cost and the local X-Ray daemon, fed by the telemetry bus.

May import: config and the shared vocabulary.
"""
