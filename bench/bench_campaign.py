"""Creating 100 tasks from one campaign (issue 12): requests and seconds.

    python bench/bench_campaign.py                    # 100 targets, SQLite store
    python bench/bench_campaign.py --targets 50 --store postgresql+psycopg://user@host/db

The sandbox runs in this process (``sandbox_meter``: it counts every request it answers, by kind)
at 1× speed; the service is the app's own (``build_service`` over that sandbox, no worker), with a
new store. Four runs, each on a campaign of its own:

* batch feasibility of the targets (one ``POST /feasibility``);
* ``create_campaign`` of all targets in one go;
* ``resume_campaign`` of that finished campaign (nothing to send);
* a campaign stopped half-way from its progress callback, then resumed by a new service instance
  over the same store (what an app restart does).

Prints figures; asserts only that each campaign ends with exactly one task per target.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox_meter import start_metered_sandbox  # noqa: E402  (bench/)

from tasking import rules  # noqa: E402
from tasking.campaigns import TargetResult, TargetState  # noqa: E402
from tasking.config import load_settings  # noqa: E402
from tasking.rules import TaskDraft  # noqa: E402
from tasking.sandbox import seed  # noqa: E402
from tasking.service import TaskingService, build_service  # noqa: E402
from tasking.targets import Target  # noqa: E402


class Stop(Exception):
    pass


def targets(count: int) -> list[Target]:
    return [
        Target(name=f"site {i + 1}", lat=35.0 + (i % 25) * 1.0, lon=-10.0 + (i // 25) * 5.0)
        for i in range(count)
    ]


def by_kind(counts: Counter[tuple[str, str]]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for (caller, kind), n in counts.items():
        if caller != "bench":
            kinds[kind] += n
    return kinds


def measured(meter: Any, work: Callable[[], Any]) -> tuple[Any, float, Counter[str]]:
    before = meter.snapshot()
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    return result, seconds, by_kind(meter.snapshot() - before)


def tasks_of(service: TaskingService, campaign_id: str) -> int:
    tag = f"[{campaign_id[:8]}/"
    since = service.now() - timedelta(days=1)
    return sum(
        1
        for t in service.client.iter_tasks(contract_id=seed.BROAD_CONTRACT_ID, created_after=since)
        if t.reference and tag in t.reference
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--store", default=None, help="SQLAlchemy URL (default: a new SQLite file)")
    args = parser.parse_args()
    count = args.targets

    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        work = Path(tmp)
        metered = start_metered_sandbox(work / "sandbox", speed=1.0)
        store = args.store or f"sqlite:///{work / 'store.sqlite'}"
        settings = load_settings(
            data_dir=work / "data", sandbox_url=metered.url, history_url=store, worker="off"
        )
        rows: list[tuple[str, float, Counter[str], str]] = []
        try:
            service = build_service(settings)
            contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
            start, end = rules.default_window(service.now(), "COMMERCIAL")
            draft = TaskDraft(
                contract_id=contract.id, lat=None, lon=None, window_start=start,
                window_end=end, imaging_mode="SPOTLIGHT",
            )  # fmt: skip
            sites = targets(count)

            cid, requests = service.campaign_requests("Bench", draft, sites, contract)
            verdicts, s, k = measured(
                metered.meter, lambda: service.check_feasibility_batch(requests)
            )
            feasible = sum(v.feasible for v in verdicts)
            rows.append((f"feasibility, {count} targets", s, k, f"{feasible} feasible"))

            run, s, k = measured(
                metered.meter,
                lambda: service.create_campaign(
                    "Bench", draft, sites, contract, requests=requests, campaign_id=cid
                ),
            )
            made = tasks_of(service, cid)
            assert made == count, made
            rows.append(
                (f"create_campaign, {count} targets", s, k, f"{run.sent} sent, {made} tasks")
            )

            again, s, k = measured(metered.meter, lambda: service.resume_campaign(cid))
            rows.append(("resume_campaign, finished campaign", s, k, f"{again.sent} sent"))

            def stop_half_way(settled: int, total: int, _r: TargetResult) -> None:
                if settled == total // 2:
                    raise Stop

            def interrupted() -> str:
                campaign_id, reqs = service.campaign_requests("Bench-2", draft, sites, contract)
                with contextlib.suppress(Stop):
                    service.create_campaign(
                        "Bench-2", draft, sites, contract, requests=reqs,
                        campaign_id=campaign_id, on_progress=stop_half_way,
                    )  # fmt: skip
                return campaign_id

            cid2, s, k = measured(metered.meter, interrupted)
            rows.append((f"create_campaign stopped at {count // 2}", s, k, ""))
            service.close()

            service = build_service(settings)
            resumed, s, k = measured(metered.meter, lambda: service.resume_campaign(cid2))
            made = tasks_of(service, cid2)
            assert made == count and resumed.count(TargetState.PLACED) == count, made
            rows.append(("resume by a new service", s, k, f"{resumed.sent} sent, {made} tasks"))
            service.close()
        finally:
            metered.stop()

    print(f"{count} targets, store {store.split(':')[0]}, sandbox in-process at 1x")
    print(f"{'run':40} {'s':>7} {'api':>5} {'token':>5} {'clock':>5}  note")
    for name, seconds, kinds, note in rows:
        print(
            f"{name:40} {seconds:7.2f} {kinds['api']:5d} {kinds['token']:5d} "
            f"{kinds['sandbox']:5d}  {note}"
        )


if __name__ == "__main__":
    main()
