"""The concurrency gate: Lambda's account limit and per-function reserved concurrency.

Reserved concurrency is both a floor and a ceiling: a function with R reserved
runs at most R at once, and those R are not available to anyone else. Every
other function shares what is left of the account limit.
"""

from __future__ import annotations

from collections.abc import Mapping

from lambdatop.runtime.errors import Throttled


class ConcurrencyGate:
    def __init__(self, account_limit: int, reserved: Mapping[str, int | None]) -> None:
        self.account_limit = account_limit
        self.reserved: dict[str, int] = {name: value for name, value in reserved.items() if value is not None}
        self.in_use: dict[str, int] = {}
        self.unreserved_in_use = 0

    @property
    def unreserved_capacity(self) -> int:
        return self.account_limit - sum(self.reserved.values())

    @property
    def total_in_use(self) -> int:
        return sum(self.in_use.values())

    def limit_for(self, function: str) -> int:
        """The most this function can run at once right now (its reserved value, or the shared pool)."""
        return self.reserved.get(function, self.unreserved_capacity)

    def acquire(self, function: str) -> None:
        """Take one concurrency slot for `function`, or raise Throttled with Lambda's reason."""
        in_use = self.in_use.get(function, 0)
        reserved = self.reserved.get(function)
        if reserved is not None:
            if in_use >= reserved:
                raise Throttled(Throttled.RESERVED)
        elif self.unreserved_in_use >= self.unreserved_capacity:
            raise Throttled(Throttled.ACCOUNT)
        else:
            self.unreserved_in_use += 1
        self.in_use[function] = in_use + 1

    def release(self, function: str) -> None:
        self.in_use[function] -= 1
        if function not in self.reserved:
            self.unreserved_in_use -= 1

    def set_reserved(self, function: str, value: int | None) -> None:
        """Change a function's reservation (config reload); slots already held stay counted."""
        in_use = self.in_use.get(function, 0)
        was_reserved = function in self.reserved
        if value is None:
            self.reserved.pop(function, None)
        else:
            self.reserved[function] = value
        now_reserved = function in self.reserved
        if was_reserved and not now_reserved:
            self.unreserved_in_use += in_use
        elif now_reserved and not was_reserved:
            self.unreserved_in_use -= in_use
