"""New task, issue 5: predicted passes for the point and window (summary, chart, the option that
excludes each), from the sandbox's constellation or, live, from ICEYE_TLE_SOURCE; place search
and typed coordinates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle
from tests.app.conftest import APP, RUN_TIMEOUT_S, no_exception, texts

NEW_TASK = "views/new_task.py"
HELSINKI = {"contract_id": seed.BROAD_CONTRACT_ID, "poi_lat": 60.1699, "poi_lon": 24.9384}


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def passes_summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "predicted passes satisfy" in m.value).replace(
        "\\", ""
    )


def charts(at: AppTest) -> list[object]:
    return list(at.get("vega_lite_chart"))


def test_passes_are_summarised_and_charted_for_the_point_and_window(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)

    no_exception(at)
    summary = passes_summary(at)
    assert "of" in summary and "Next: SANDSAT-" in summary
    (chart,) = charts(at)
    spec = chart.proto.spec  # type: ignore[attr-defined]
    assert "Time (UTC)" in spec and "Incidence angle" in spec and '"reason"' in spec
    assert '"empty"' not in spec  # the points layer takes the data sent with the chart


def test_changing_an_option_relabels_the_passes_with_the_option_that_excludes_them(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, **HELSINKI)
    before = passes_summary(at)

    at.radio(key="nt_look").set_value("LEFT").run()

    after = passes_summary(at)
    assert "by look side" in after and "by look side" not in before
    kept_before, kept_after = (int(s.split("**")[1].split(" of ")[0]) for s in (before, after))
    assert kept_after < kept_before


def test_a_narrow_incidence_range_excludes_by_incidence(open_app: Callable[..., AppTest]) -> None:
    at = open_app(NEW_TASK, **HELSINKI, nt_incidence="range", nt_inc_min=30, nt_inc_max=31)

    assert "by incidence" in passes_summary(at)


def test_without_a_point_the_panel_says_what_it_needs(open_app: Callable[..., AppTest]) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID)

    assert "Set the point of interest to see when satellites can image it." in shown(at)
    assert not charts(at)


def test_place_search_sets_the_point(open_app: Callable[..., AppTest]) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID, nt_place_query="helsinki")

    pick = at.selectbox(key="nt_place_pick")
    assert pick.options[0].startswith("Helsinki, Finland")
    pick.select_index(0).run()

    no_exception(at)
    assert at.session_state["poi_lat"] == pytest.approx(60.17, abs=0.05)
    assert at.session_state["poi_lon"] == pytest.approx(24.94, abs=0.05)
    assert at.session_state["nt_center"] == pytest.approx((60.17, 24.94), abs=0.05)


def test_typed_coordinates_accept_dms_and_refuse_with_the_rule(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(NEW_TASK, contract_id=seed.BROAD_CONTRACT_ID)

    at.text_input(key="nt_coords").input("60°10'12\"N 24°56'18\"E").run()
    assert at.session_state["poi_lat"] == pytest.approx(60.17)
    assert "Point: 60°10'12.0\"N 24°56'18.0\"E" in shown(at)

    at.text_input(key="nt_coords").input("95 N, 10 E").run()
    assert "latitude must be between -90 and 90" in shown(at)
    assert "latitude-range rule" not in shown(at)  # the rule id is for logs and tests only
    assert at.session_state["poi_lat"] == pytest.approx(60.17)  # the last good point stays


@pytest.fixture
def live_env(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> pytest.MonkeyPatch:
    """Live mode (complete credentials, no sandbox started) against the sandbox's API."""
    monkeypatch.delenv("ICEYE_SANDBOX_URL", raising=False)
    monkeypatch.delenv("ICEYE_TLE_SOURCE", raising=False)
    monkeypatch.setenv("ICEYE_API_URL", sandbox.api_url)
    monkeypatch.setenv("ICEYE_AUTH_URL", sandbox.url)
    monkeypatch.setenv("ICEYE_CLIENT_ID", seed.DEMO_CLIENT_ID)
    monkeypatch.setenv("ICEYE_CLIENT_SECRET", seed.DEMO_CLIENT_SECRET)
    monkeypatch.setenv("ICEYE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _live(**state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.run().switch_page(NEW_TASK)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_live_mode_without_elements_says_how_to_provide_them(live_env: pytest.MonkeyPatch) -> None:
    at = _live(**HELSINKI)

    no_exception(at)
    assert "set ICEYE_TLE_SOURCE to a TLE file" in shown(at)
    assert not charts(at)


def test_live_mode_reads_the_elements_from_ICEYE_TLE_SOURCE(
    live_env: pytest.MonkeyPatch, control: SandboxControl, tmp_path: Path
) -> None:
    elements = tmp_path / "constellation.tle"
    elements.write_text(control.constellation_tle(), encoding="utf-8")
    live_env.setenv("ICEYE_TLE_SOURCE", str(elements))

    at = _live(**HELSINKI)

    no_exception(at)
    assert "Next: SANDSAT-" in passes_summary(at)
