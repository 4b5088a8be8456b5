"""Labels from one place (issue 24, item 4): the figures' labels and docs/metrics.md agree,
and every metric a run produces has a label, so no axis shows a raw key."""

from __future__ import annotations

import re
from pathlib import Path

from mlssim.report.labels import label_of, markdown
from mlssim.runner.summaries import flatten
from mlssim.scenario import load_scenario
from mlssim.sim.world import World

ROOT = Path(__file__).resolve().parents[1]
#: maps whose keys are data (groups, message types, join modes): labelled by their family
DATA_MAPS = (
    "groups.",
    "bytes_by_type_and_role.",
    "client_bytes_by_type.",
    "joins.by_mode.",
    "workload_skipped.",
)


def test_the_metrics_doc_holds_the_labels_the_figures_use() -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    section = re.search(r"<!-- labels:start -->\n(.*)<!-- labels:end -->", doc, re.S)
    assert section is not None and section.group(1) == markdown(), (
        "docs/metrics.md is out of date: paste `python -m mlssim.report.labels` between the markers"
    )


def test_every_metric_of_a_run_has_a_label() -> None:
    w = World(load_scenario(ROOT / "scenarios" / "every-key.yaml", {}), base_dir=ROOT / "scenarios")
    w.run()
    numeric = [
        k
        for k, v in flatten(w.summary()).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and not k.startswith(DATA_MAPS)
    ]
    assert len(numeric) > 50
    assert not [k for k in numeric if label_of(k) == k]


def test_a_statistic_goes_before_the_unit() -> None:
    assert label_of("commit_latency_s.p95") == "commit latency p95 (s)"
    assert label_of("client_download_bytes.mean") == "download per client mean (bytes)"
    assert label_of("commits.sent") == "commit attempts"
    assert label_of("not.a.metric") == "not.a.metric"
