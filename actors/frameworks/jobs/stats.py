"""A job's counters and run times, as Chronos reports them (the job's successCount,
errorCount, lastSuccess, lastError, errorsSinceLastSuccess; /job/stat/NAME's
histogram; /stats/<percentile>).

>>> s = Stats()
>>> for t in (1.0, 2.0, 3.0, 4.0):
...     s.success("2024-01-01T00:00:00.000Z", t)
>>> s.histogram()["median"], s.histogram()["count"]
(2.5, 4)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import mean, quantiles

KEEP_TIMES = 100  # the last run times a job keeps for its percentiles
PERCENTILES = {"median": 50, "75thPercentile": 75, "95thPercentile": 95, "98thPercentile": 98,
               "99thPercentile": 99}


@dataclass
class Stats:
    successCount: int = 0
    errorCount: int = 0
    lastSuccess: str = ""
    lastError: str = ""
    errorsSinceLastSuccess: int = 0
    skipped: int = 0  # runs missed by more than epsilon (mesobus)
    lastMessage: str = ""
    times: list[float] = field(default_factory=list)  # seconds, oldest first

    @classmethod
    def from_dict(cls, data: dict) -> "Stats":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)

    def success(self, when: str, seconds: float) -> None:
        self.successCount += 1
        self.errorsSinceLastSuccess = 0
        self.lastSuccess = when
        self.times = (self.times + [round(max(seconds, 0.0), 3)])[-KEEP_TIMES:]

    def failure(self, when: str, message: str) -> None:
        self.errorCount += 1
        self.errorsSinceLastSuccess += 1
        self.lastError = when
        self.lastMessage = message[:1000]

    def last_result(self) -> str:
        if not self.lastSuccess and not self.lastError:
            return "fresh"
        return "success" if self.lastSuccess > self.lastError else "failure"

    def chronos(self) -> dict:
        return {k: getattr(self, k) for k in ("successCount", "errorCount", "lastSuccess", "lastError",
                                              "errorsSinceLastSuccess")}

    def percentile(self, which: str) -> float | None:
        if which == "mean":
            return mean(self.times) if self.times else None
        if not self.times:
            return None
        if len(self.times) == 1:
            return self.times[0]
        return quantiles(self.times, n=100, method="inclusive")[PERCENTILES[which] - 1]

    def histogram(self) -> dict:
        out: dict = {name: self.percentile(name) for name in PERCENTILES}
        out.update(mean=self.percentile("mean"), count=len(self.times))
        return out
