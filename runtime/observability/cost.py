"""What an invocation would cost on Lambda: requests plus GB-seconds at the published price.

Prices are us-east-1's first tier (LAMBDA.md §10): $0.20 per million requests;
$0.0000166667 per GB-s on x86_64, $0.0000133334 on arm64. Billed duration
already includes Init on cold starts (the post-2025 formula the records use).
The free tier and the cheaper tiers past 6 B / 7.5 B GB-s a month are left out:
this is the price of the work, not a bill.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUEST_PRICE_USD = 0.20 / 1_000_000
GB_SECOND_PRICE_USD = {"x86_64": 0.0000166667, "arm64": 0.0000133334}


def gb_seconds(billed_duration_ms: float, memory_size_mb: int) -> float:
    """Billed duration times the configured memory, in GB-seconds (1 GB = 1,024 MB as Lambda counts)."""
    return (billed_duration_ms / 1000.0) * (memory_size_mb / 1024.0)


def price_per_gb_second(architecture: str) -> float:
    return GB_SECOND_PRICE_USD.get(architecture, GB_SECOND_PRICE_USD["x86_64"])


@dataclass(slots=True)
class CostEstimate:
    """Requests and GB-seconds for one function (or the fleet), and what they cost."""

    requests: int = 0
    gb_seconds: float = 0.0
    compute_usd: float = 0.0

    @property
    def requests_usd(self) -> float:
        return self.requests * REQUEST_PRICE_USD

    @property
    def total_usd(self) -> float:
        return self.requests_usd + self.compute_usd

    def add(self, billed_duration_ms: float, memory_size_mb: int, architecture: str) -> None:
        """One billed request (throttled requests are never billed, so callers skip them)."""
        seconds = gb_seconds(billed_duration_ms, memory_size_mb)
        self.requests += 1
        self.gb_seconds += seconds
        self.compute_usd += seconds * price_per_gb_second(architecture)

    def merge(self, other: CostEstimate) -> None:
        self.requests += other.requests
        self.gb_seconds += other.gb_seconds
        self.compute_usd += other.compute_usd

    def per_million(self) -> float:
        """The cost of a million invocations like these (the figure people compare)."""
        return self.total_usd / self.requests * 1_000_000 if self.requests else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "requests": self.requests, "gb_seconds": round(self.gb_seconds, 6), "requests_usd": round(self.requests_usd, 8),
            "compute_usd": round(self.compute_usd, 8), "total_usd": round(self.total_usd, 8),
            "per_million_usd": round(self.per_million(), 4),
        }
