"""Questions and alerts while a fifth of the bot's calls to Telegram fail (429 with retry_after,
5xx, timeouts, connection resets): every question answered or cleanly failed, every alert
delivered exactly once, the bot still running. The issue's full size (1,000 + 1,000) is
`python scripts/fault_burst.py`; this is the same burst, smaller."""

from __future__ import annotations

import pytest
from tests.support.fault_burst import burst

pytestmark = pytest.mark.timeout(600)


async def test_a_burst_under_20_percent_faults_loses_nothing(fresh_engine):
    report = await burst(fresh_engine(), questions=100, chats=20, fault_rate=0.2)
    print(report)
    assert sum(report["faults"].values()) > 20  # the faults did happen
    assert report["answered"] + report["failed_cleanly"] == report["questions"]
    assert report["answered"] >= 0.95 * report["questions"]
    assert report["alerts_delivered"] == report["alerts_expected"] and report["alert_duplicates"] == 0
    assert report["outbox"]["sent"] == report["alerts_expected"] and report["outbox"]["failed"] == 0
    assert not [r for r in report["refused"] if r.startswith("sendMessage")]  # every text was valid HTML
