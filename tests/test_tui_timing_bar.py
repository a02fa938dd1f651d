"""The invocation screen's timing bar tells the Init the REPORT line tells, even after a reload's early Init."""

from __future__ import annotations

from lambdatop.runtime.records import InvocationRecord
from lambdatop.tui.widgets.timing_bar import TimingBar

ACCEPTED = 1_750_000_000.0


def record(**fields: object) -> InvocationRecord:
    return InvocationRecord(request_id="r", function="fn", version="$LATEST", code_version="v2", trigger="key",
                            invocation_type="RequestResponse", started_at=ACCEPTED, **fields)  # type: ignore[arg-type]


def test_an_early_init_shows_its_own_duration_not_the_idle_wait_after_it() -> None:
    # Initialised 6.6 s before the request by a reload's pre-warm; Init Duration 7.84 ms.
    early = record(cold_start=True, init_duration_ms=7.84, init_started_at=ACCEPTED - 6.65,
                   init_ended_at=ACCEPTED - 6.65 + 0.00784, invoke_started_at=ACCEPTED + 0.0002,
                   invoke_ended_at=ACCEPTED + 0.0012, duration_ms=1.0, ended_at=ACCEPTED + 0.0015)
    text = TimingBar(early).render_bar().plain
    assert "init 7.84ms" in text
    assert "6649" not in text and "6650" not in text


def test_an_ordinary_cold_start_shows_init_from_its_start_to_the_invoke() -> None:
    cold = record(cold_start=True, init_duration_ms=200.0, init_started_at=ACCEPTED + 0.001,
                  init_ended_at=ACCEPTED + 0.201, invoke_started_at=ACCEPTED + 0.201,
                  invoke_ended_at=ACCEPTED + 0.204, duration_ms=3.0, ended_at=ACCEPTED + 0.205)
    assert "init 200ms" in TimingBar(cold).render_bar().plain
