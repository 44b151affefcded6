"""What verifying endpoints found: each check's last attempt, and the whole run.

Result types only, apart from ``endpoints`` (which runs the checks) so that what reads a
verification (the transcript, the runbooks, ``CheckFailedError``) need not import the
machinery that makes one. Every result is redacted when made; ``to_dict()`` is JSON-ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lumiku_ops.verify.probe import Exchange
from lumiku_ops.verify.specs import Check


@dataclass(frozen=True)
class CheckResult:
    """One attempt at a check (the last one, after retries), and what was wrong.

    ``failures`` holds hurl-style lines (``expected <200>, actual <500>``); ``category``
    names the first problem (``server error``, ``token rejected``, ``connection refused``,
    ``unexpected body``, ``shape mismatch``, ``too slow``...); ``evidence`` is one line
    from the response or the connection error.
    """

    check: Check
    exchange: Exchange
    failures: list[str]
    passed: bool
    attempts: int = 1
    category: str | None = None
    evidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, free of secrets."""
        return {
            "name": self.check.name,
            "passed": self.passed,
            "attempts": self.attempts,
            "category": self.category,
            "failures": list(self.failures),
            "evidence": self.evidence,
            "status": self.exchange.status,
            "latency_ms": self.exchange.latency_ms,
            "check": self.check.to_dict(),
            "exchange": self.exchange.to_dict(),
        }


@dataclass(frozen=True)
class Verification:
    """Every check's final result, against one API URL (password masked)."""

    api_url: str
    checks: list[CheckResult]
    duration_ms: int
    deadline_s: float = 0.0

    @property
    def failed(self) -> list[CheckResult]:
        """The results of the checks that did not pass, in order."""
        return [result for result in self.checks if not result.passed]

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return not self.failed

    def outcomes(self) -> list[dict[str, Any]]:
        """Per check, what it asked and what it got: the part worth recording and comparing
        (no latency, header or retry count, which legitimately change from run to run)."""
        return [
            {
                "name": result.check.name,
                "method": result.check.method,
                "path": result.check.path,
                "expected_status": result.check.status,
                "status": result.exchange.status,
                "passed": result.passed,
                "category": result.category,
                "failures": list(result.failures),
            }
            for result in self.checks
        ]

    def to_dict(self) -> dict[str, Any]:
        """The verification as JSON-ready data, free of secrets."""
        return {
            "api_url": self.api_url,
            "passed": self.passed,
            "checked": len(self.checks),
            "passed_count": len(self.checks) - len(self.failed),
            "failed_count": len(self.failed),
            "duration_ms": self.duration_ms,
            "deadline_s": self.deadline_s,
            "checks": [result.to_dict() for result in self.checks],
        }
