"""Events in, results out: JSON as the Python runtime reads and writes it.

awslambdaric does this with simplejson (awslambdaric/lambda_runtime_marshaller.py,
`Encoder` and `LambdaMarshaller`, 4.x), and so does this module, with the
same settings, because the differences are visible to a function:

- a `Decimal` (what boto3's DynamoDB layer returns) is written exactly as
  `str(value)`: `Decimal("1.10")` is `1.10`, a 30-digit number keeps its
  digits; NaN becomes `NaN`. The stdlib's json refuses Decimal.
- a namedtuple becomes an object (simplejson's `namedtuple_as_object`).
- a `bytes` result is returned as it is, not JSON (content type
  application/unknown in the runtime).
- on python3.12 and later (read from AWS_EXECUTION_ENV, as the runtime
  does), text is raw UTF-8 (`ensure_ascii=False`); 3.11 escapes it as \\uXXXX.

Decoded with simplejson too, so a malformed event fails with the runtime's
own message.
"""

from __future__ import annotations

import decimal
import math
import os
from typing import Any

import simplejson

# awslambdaric/lambda_runtime_marshaller.py: the runtimes whose encoder writes raw UTF-8.
_RAW_UTF8_RUNTIMES = frozenset({
    "AWS_Lambda_python3.12", "AWS_Lambda_python3.13", "AWS_Lambda_python3.14", "AWS_Lambda_python3.15",
})


class Encoder(simplejson.JSONEncoder):
    """awslambdaric's `Encoder`, setting for setting."""

    def __init__(self) -> None:
        if os.environ.get("AWS_EXECUTION_ENV") in _RAW_UTF8_RUNTIMES:
            super().__init__(use_decimal=False, ensure_ascii=False, allow_nan=True)
        else:
            super().__init__(use_decimal=False, allow_nan=True)

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return math.nan
            return simplejson.RawJSON(str(o))
        return super().default(o)


class Marshaller:
    """One per environment, built after the environment's variables are in place (the encoder reads them)."""

    def __init__(self) -> None:
        self._encoder = Encoder()

    def to_json(self, value: Any) -> bytes:
        """JSON as the runtime writes it; TypeError, ValueError or OverflowError for what it cannot write."""
        return self._encoder.encode(value).encode("utf-8")

    def marshal_response(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        return self.to_json(value)


def unmarshal_request(payload: bytes) -> Any:
    """The event; ValueError (simplejson's JSONDecodeError) with the runtime's message when it is not JSON."""
    return simplejson.loads(payload)
