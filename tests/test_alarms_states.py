"""Alarms: CloudWatch's M-of-N evaluation, missing data, config, and a real alarm going to ALARM and back to OK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from lambdatop.runtime.observability.alarms import (
    AlarmDefinition,
    AlarmSet,
    AlarmState,
    Comparison,
    MissingData,
    parse_rules,
)
from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.metrics import MetricsRegistry
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.runtime.records import InvocationRecord, InvocationStatus

BASE = 1_800_000_000  # a multiple of 60: periods align on it


def record(second: float, error: bool = False) -> InvocationRecord:
    return InvocationRecord(request_id=f"r{second}-{error}", function="fn", version="$LATEST", code_version="v1",
                            trigger="api", invocation_type="RequestResponse", started_at=second, ended_at=second,
                            duration_ms=10.0, status=InvocationStatus.ERROR if error else InvocationStatus.SUCCESS)


def test_m_out_of_n_datapoints() -> None:
    metrics = MetricsRegistry()
    alarms = AlarmSet([AlarmDefinition("fn-errors", "Errors", "fn", "Sum", period=10, evaluation_periods=3,
                                       datapoints_to_alarm=2, threshold=0, comparison=Comparison.GT)])
    alarm = alarms.alarms["fn-errors"]
    assert alarm.state is AlarmState.INSUFFICIENT_DATA
    # Period 1: one error. Period 2: clean. Period 3: one error -> 2 of the last 3 breach.
    metrics.add_record(record(BASE + 1, error=True))
    metrics.add_record(record(BASE + 12))
    alarms.evaluate(metrics, BASE + 10.6)
    assert alarm.state is AlarmState.OK and alarm.last_datapoints == [None, None, 1.0]
    alarms.evaluate(metrics, BASE + 20.6)
    assert alarm.state is AlarmState.OK  # 1 of 3 breaching is not enough
    metrics.add_record(record(BASE + 25, error=True))
    changes = alarms.evaluate(metrics, BASE + 30.6)
    assert alarm.state is AlarmState.ALARM and alarm.last_datapoints == [1.0, 0.0, 1.0]
    assert [(t.old, t.new) for _, t in changes] == [(AlarmState.OK, AlarmState.ALARM)]
    assert alarm.reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints")
    # The same period is judged once: evaluating again before the next one ends changes nothing.
    assert alarms.evaluate(metrics, BASE + 35) == []
    metrics.add_record(record(BASE + 32))
    alarms.evaluate(metrics, BASE + 40.6)  # [0, 1, 0]: 1 of 3
    assert alarm.state is AlarmState.OK
    assert [(t.old, t.new) for t in alarm.history] == [
        (AlarmState.INSUFFICIENT_DATA, AlarmState.OK), (AlarmState.OK, AlarmState.ALARM), (AlarmState.ALARM, AlarmState.OK)]


def test_a_period_the_evaluation_runs_late_for_is_still_judged() -> None:
    # The service ticks about once a second on a loop that may be busy: two ticks 1.1 s apart can cross two
    # period ends, and the one-second period between them, the one with the error, must be judged all the same.
    metrics = MetricsRegistry()
    alarms = AlarmSet([AlarmDefinition("fn-errors", "Errors", "fn", "Sum", period=1, threshold=0,
                                       treat_missing_data=MissingData.NOT_BREACHING)])
    metrics.add_record(record(BASE + 0.2, error=True))
    alarms.evaluate(metrics, BASE + 1.45)  # judges [-1, 0): nothing there
    changes = alarms.evaluate(metrics, BASE + 2.55)  # [0, 1) and [1, 2) are both due now
    assert [(t.old, t.new, t.at) for _, t in changes] == [
        (AlarmState.OK, AlarmState.ALARM, BASE + 1.5), (AlarmState.ALARM, AlarmState.OK, BASE + 2.5)]
    # Whoever polls the state between ticks (a canary's rollback) learns of it from the history.
    assert alarms.fired_since("fn-errors", BASE + 1) and not alarms.fired_since("fn-errors", BASE + 2)


def test_a_one_second_alarm_stays_in_alarm_until_the_next_tick_whatever_the_drains_drift() -> None:
    # The service drains its bus every ~0.1 s, late by a little each time. Its ticks must each judge one
    # period, so an alarm that fires for one second is in ALARM for a reader polling between drains.
    for error_second in range(BASE + 2, BASE + 25):
        obs = ObservabilityService()
        obs.alarms = AlarmSet([AlarmDefinition("fn-errors", "Errors", "fn", "Sum", period=1, threshold=0,
                                               treat_missing_data=MissingData.NOT_BREACHING)], now=BASE)
        obs.metrics.add_record(record(error_second + 0.3, error=True))
        seen = []
        drain = BASE + 0.0
        while drain < BASE + 30:
            obs.turn(drain)
            seen.append(obs.alarm_state("fn-errors"))
            drain += 0.105
        assert "ALARM" in seen, f"an error in second {error_second - BASE} was never seen as ALARM"
        assert obs.alarm_state("fn-errors") == "OK"


def test_the_service_still_ticks_after_the_clock_is_set_back() -> None:
    obs = ObservabilityService()
    obs.turn(BASE + 10.6)
    assert obs.summary.at == BASE + 10.6
    obs.turn(BASE + 5.0)  # NTP stepped the clock back five seconds
    assert obs.summary.at == BASE + 5.0
    obs.turn(BASE + 5.1)  # and the ticks go on from there, once a second
    assert obs.summary.at == BASE + 5.0
    obs.turn(BASE + 5.6)
    assert obs.summary.at == BASE + 5.6


def test_missing_data_treatments_and_percentile_statistic() -> None:
    metrics = MetricsRegistry()
    definitions = [
        AlarmDefinition(f"d-{m.value}", "Duration", "fn", "p90", period=1, threshold=100, treat_missing_data=m) for m in MissingData
    ]
    alarms = AlarmSet(definitions)
    alarms.evaluate(metrics, BASE + 5.6)  # nothing at all
    states = {a.definition.treat_missing_data: a.state for a in alarms.alarms.values()}
    assert states == {MissingData.MISSING: AlarmState.INSUFFICIENT_DATA, MissingData.NOT_BREACHING: AlarmState.OK,
                      MissingData.BREACHING: AlarmState.ALARM, MissingData.IGNORE: AlarmState.INSUFFICIENT_DATA}
    slow = record(BASE + 6.2)
    slow.duration_ms = 250.0
    metrics.add_record(slow)
    alarms.evaluate(metrics, BASE + 7.6)  # judges the period [6, 7)
    assert all(a.state is AlarmState.ALARM for a in alarms.alarms.values())
    assert alarms.open == 4 and alarms.states_by_function() == {"fn": "ALARM"}


def test_config_defaults_rules_and_clear_errors() -> None:
    defaults = parse_rules(None, ["a", "b"])
    assert sorted(d.name for d in defaults) == ["a-Errors", "a-Throttles", "b-Errors", "b-Throttles"]
    assert all(d.period == 60 and d.threshold == 0 and d.comparison is Comparison.GT for d in defaults)
    rules = parse_rules({"defaults": False, "rules": [
        {"name": "slow", "function": "a", "metric": "Duration", "statistic": "p99", "period": 5, "evaluation_periods": 3,
         "datapoints_to_alarm": 2, "threshold": 500, "comparison": ">="},
        {"metric": "Orders", "namespace": "Shop", "function": "b", "statistic": "Sum", "threshold": 1, "comparison": "<"},
    ]}, ["a", "b"])
    assert [r.name for r in rules] == ["slow", "b-Shop-Orders-2"]
    assert rules[0].comparison is Comparison.GE and rules[1].metric == "Shop/Orders"
    for bad, message in (
        ({"rules": [{"metric": "Latency", "threshold": 1}]}, "unknown metric 'Latency'"),
        ({"rules": [{"metric": "Errors", "threshold": 1, "statistic": "p100"}]}, "unknown statistic 'p100'"),
        ({"rules": [{"metric": "Errors"}]}, "threshold is required"),
        ({"rules": [{"metric": "Errors", "threshold": 0, "function": "nope"}]}, "no function named 'nope'"),
        ({"rules": [{"metric": "Errors", "threshold": 0, "evaluation_periods": 2, "datapoints_to_alarm": 3}]}, "datapoints_to_alarm"),
        ({"rules": [{"metric": "Errors", "threshold": 0, "comparison": "~"}]}, "unknown comparison"),
        ({"bogus": 1}, "unknown key(s) bogus"),
    ):
        with pytest.raises(ConfigError, match=None) as info:
            parse_rules(bad, ["a", "b"], "lambdatop.yaml")
        assert message in str(info.value), (bad, str(info.value))


FLAKY = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("broken")
    return "ok"
"""


async def test_alarm_goes_to_alarm_after_the_configured_datapoints_and_back_to_ok(make_project: Callable[..., Any]) -> None:
    config = make_project({"flaky": FLAKY}, """
        functions:
          flaky: {handler: app.handler, code: flaky, timeout: 2}
        alarms:
          defaults: false
          rules:
            - {name: flaky-errors, function: flaky, metric: Errors, statistic: Sum, period: 1,
               evaluation_periods: 2, datapoints_to_alarm: 2, threshold: 0, comparison: ">"}
    """)
    fleet = Fleet(config)
    obs = ObservabilityService()
    fleet.add_service(obs)
    events = fleet.subscribe("test-alarms")
    async with fleet:
        alarm = obs.alarms.alarms["flaky-errors"]
        assert list(obs.alarms.alarms) == ["flaky-errors"]

        async def invoke_until(fail: bool, state: AlarmState, limit: float = 15.0) -> None:
            deadline = time.monotonic() + limit
            while alarm.state is not state:
                assert time.monotonic() < deadline, f"alarm stayed {alarm.state}: {alarm.reason}"
                await fleet.invoke("flaky", {"fail": fail})
                await asyncio.sleep(0.1)

        await invoke_until(fail=True, state=AlarmState.ALARM)
        assert alarm.last_datapoints and all(v and v > 0 for v in alarm.last_datapoints[-2:])
        assert fleet.snapshot().alarms.open == 1
        assert fleet.snapshot().alarms.states == {"flaky": "ALARM"}
        await invoke_until(fail=False, state=AlarmState.OK)
        assert fleet.snapshot().alarms.open == 0
        assert [t.new for t in alarm.history][-2:] == [AlarmState.ALARM, AlarmState.OK]
        await asyncio.sleep(0.2)
        notices = [e for e in events.drain() if isinstance(e, FleetEvent) and e.kind == "alarm"]
        assert [e.detail["new"] for e in notices][-2:] == ["ALARM", "OK"]
        assert all(e.function == "flaky" for e in notices)


async def test_a_reloaded_alarms_section_takes_effect_and_keeps_unchanged_alarms(make_project: Callable[..., Any]) -> None:
    from lambdatop.runtime.config import load_config

    config = make_project({"flaky": FLAKY}, "functions:\n  flaky: {handler: app.handler, code: flaky}\n")
    fleet = Fleet(config)
    obs = ObservabilityService()
    fleet.add_service(obs)
    events = fleet.subscribe("test-reload")
    async with fleet:
        obs.tick(time.time())
        kept = obs.alarms.alarms["flaky-Errors"]
        assert kept.state is AlarmState.OK and set(obs.alarms.alarms) == {"flaky-Errors", "flaky-Throttles"}
        config.write_text(config.read_text() + "alarms:\n  rules:\n    - {name: slow, function: flaky, metric: Duration, statistic: p99, threshold: 100}\n")
        fleet.replace_config(load_config(config))
        obs.tick(time.time())
        assert set(obs.alarms.alarms) == {"flaky-Errors", "flaky-Throttles", "slow"}
        assert obs.alarms.alarms["flaky-Errors"] is kept  # same definition: same alarm, same history
        # A broken section is reported and the alarms in force stay.
        config.write_text(config.read_text().replace("threshold: 100", "threshold: high"))
        fleet.replace_config(load_config(config))
        obs.tick(time.time())
        assert "slow" in obs.alarms.alarms
        await asyncio.sleep(0.2)
        errors = [e.message for e in events.drain() if isinstance(e, FleetEvent) and e.kind == "error"]
        assert any("alarms not reloaded" in m and "threshold is required and must be a number" in m for m in errors)
