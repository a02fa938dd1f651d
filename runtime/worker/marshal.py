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
    """One per environment, built after the environment's variables are in place (the encoder reads them).

    `Encoder.encode` builds simplejson's C encoder anew on every call (~4 µs,
    a tenth of a warm invoke here); this builds it once, with the arguments
    `JSONEncoder.iterencode` passes, and clears its memo and circular-check
    markers after each use, as a fresh one would start.
    """

    def __init__(self) -> None:
        self._encoder = encoder = Encoder()
        self._markers: dict[int, Any] = {}
        self._key_memo: dict[Any, str] = {}
        make = simplejson.encoder.c_make_encoder
        self._chunks = None if make is None else make(
            self._markers, encoder.default,
            simplejson.encoder.encode_basestring_ascii if encoder.ensure_ascii else simplejson.encoder.encode_basestring,
            encoder.indent, encoder.key_separator, encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
            encoder.allow_nan, self._key_memo, encoder.use_decimal, encoder.namedtuple_as_object, encoder.tuple_as_array,
            53 if encoder.bigint_as_string else encoder.int_as_string_bitcount, encoder.item_sort_key, encoder.encoding,
            encoder.for_json, encoder.ignore_nan, decimal.Decimal, encoder.iterable_as_array,
        )

    def to_json(self, value: Any) -> bytes:
        """JSON as the runtime writes it; TypeError, ValueError or OverflowError for what it cannot write."""
        if self._chunks is None or isinstance(value, str):
            return self._encoder.encode(value).encode("utf-8")
        try:
            return "".join(self._chunks(value, 0)).encode("utf-8")
        finally:
            self._key_memo.clear()
            self._markers.clear()

    def marshal_response(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        return self.to_json(value)


def unmarshal_request(payload: bytes) -> Any:
    """The event; ValueError (simplejson's JSONDecodeError) with the runtime's message when it is not JSON."""
    return simplejson.loads(payload)
