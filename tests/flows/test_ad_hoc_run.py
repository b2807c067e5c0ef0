"""Ad hoc CLI runs (rerun, rescore) start no flow-run heartbeat thread unless the operator asks for one."""

from __future__ import annotations

import pytest
from prefect import flow
from prefect.settings import get_current_settings

from flows.cli.main import HEARTBEAT_ENV, ad_hoc_run

pytestmark = pytest.mark.usefixtures("prefect_harness")


@flow
def _heartbeat_seen() -> int | None:
    from prefect.context import FlowRunContext

    assert FlowRunContext.get() is not None
    return get_current_settings().flows.heartbeat_frequency


def test_ad_hoc_run_has_no_heartbeat_unless_set(monkeypatch):
    for k in HEARTBEAT_ENV:
        monkeypatch.delenv(k, raising=False)
    default = get_current_settings().flows.heartbeat_frequency
    assert default  # Prefect's default (180 s): the scheduled flows keep it
    with ad_hoc_run():
        assert _heartbeat_seen() is None
    assert get_current_settings().flows.heartbeat_frequency == default
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "45")
    with ad_hoc_run():  # set by the operator: Prefect's settings are left as they are
        assert _heartbeat_seen() == default
