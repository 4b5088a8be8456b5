"""The scenario loader: every bad file names its file, line and key; good files load and round-trip.

The malformed files live in ``tests/scenarios_bad/``, each stating in ``# expect:`` lines what must
be reported, so the expected line numbers sit next to the lines they count. Problems that are not
a file's content (a missing file, overrides) are tested inline.
"""

from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlssim.cli import main
from mlssim.scenario import Scenario, ScenarioError, ScenarioIssue, load_scenario, parse_scenario
from mlssim.scenario.loader import format_path, parse_path
from mlssim.scenario.schema import Empirical

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).resolve().parent / "scenarios_bad"
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))

VALID = """\
name: small
duration: 30
providers:
  - name: alpha
  - name: beta
groups:
  - name: team
    size: 4
    providers: {alpha: 1, beta: 1}
"""


def _expectations(path: Path) -> list[tuple[int, str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect:"):
            lineno, key, fragment = (p.strip() for p in line.removeprefix("# expect:").split("|", 2))
            out.append((int(lineno), key, fragment))
    return out


def _issues(exc: pytest.ExceptionInfo[ScenarioError]) -> list[ScenarioIssue]:
    return exc.value.issues


# ---- malformed files --------------------------------------------------------------------------


BAD_FILES = sorted(BAD.glob("*.yaml"))


def test_enough_bad_files() -> None:
    assert len(BAD_FILES) >= 15


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_file_reports_file_line_and_key(path: Path) -> None:
    expected = _expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    shown = str(path.relative_to(ROOT))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(shown)
    issues = _issues(exc)
    for lineno, key, fragment in expected:
        matching = [i for i in issues if i.line == lineno and i.key == key and fragment in i.message]
        assert matching, f"expected {lineno} | {key} | {fragment!r}; got:\n{exc.value}"
        text = str(matching[0])
        assert text.startswith(f"{shown}:{lineno}: "), text
        if key:
            assert text.startswith(f"{shown}:{lineno}: {key}: "), text
    assert len(issues) == len(expected), f"unexpected extra issues:\n{exc.value}"


def test_message_format_is_file_line_key_message() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(VALID.replace("size: 4", "size: 1"), "scenarios/x.yaml")
    assert str(exc.value) == "scenarios/x.yaml:8: groups[0].size: must be ≥ 2"


def test_all_problems_reported_together_in_line_order() -> None:
    text = VALID.replace("duration: 30", "duration: -1").replace("size: 4", "size: 1") + "sed: 3\n"
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, "x.yaml")
    assert [(i.line, i.key) for i in _issues(exc)] == [(2, "duration"), (8, "groups[0].size"), (10, "sed")]


# ---- problems outside the file's content --------------------------------------------------------


def test_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as exc:
        load_scenario(missing)
    assert str(exc.value) == f"{missing}: no such file"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="is a folder"):
        load_scenario(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(f)


def test_unsafe_yaml_tag_is_refused() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario("name: !!python/object/apply:os.system [echo hi]\n", "x.yaml")
    (issue,) = _issues(exc)
    assert issue.line == 1
    assert "invalid YAML" in issue.message


def test_two_documents_are_an_error() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(VALID + "---\nname: other\n", "x.yaml")
    assert _issues(exc)[0].line == 10


def test_recursive_alias() -> None:
    with pytest.raises(ScenarioError, match="refers to itself"):
        parse_scenario("name: &a [*a]\n", "x.yaml")


def test_alias_bomb_is_bounded() -> None:
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, cur in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(ScenarioError, match=r"more than \d+ values"):
        parse_scenario("\n".join(lines) + "\n", "x.yaml")


def test_error_pickles_with_its_issues() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(VALID.replace("size: 4", "size: 1"), "x.yaml")
    again = pickle.loads(pickle.dumps(exc.value))
    assert again.issues == exc.value.issues
    assert str(again) == str(exc.value)


# ---- overrides ------------------------------------------------------------------------------------


def test_overrides_set_values_and_create_sections() -> None:
    s = parse_scenario(
        VALID,
        "x.yaml",
        {"seed": 3, "groups[0].size": 50, "network.ds_ds.loss": 0.1, "crypto.family": "model"},
    )
    assert (s.seed, s.groups[0].size, s.network.ds_ds.loss, s.crypto.family) == (3, 50, 0.1, "model")


def test_override_of_an_aliased_item_changes_only_that_item() -> None:
    text = VALID.replace("groups:\n  - name: team", "groups:\n  - &g\n    name: team") + "  - *g\n"
    s = parse_scenario(text, "x.yaml", {"groups[0].size": 9})
    assert [g.size for g in s.groups] == [9, 4]


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("groups[0].sise", "groups[0].sise: unknown key 'sise'; did you mean 'size'?"),
        ("sed", "sed: unknown key 'sed'; did you mean 'seed'?"),
        ("groups[5].size", "groups[5]: no such item (groups has 1 in the file)"),
        ("seed.x", "seed.x: seed is a single value; it has no keys"),
        ("groups[x", "cannot read key path 'groups[x'"),
        ("network..loss", "cannot read key path"),
    ],
)
def test_bad_override_path(key: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(VALID, "scenarios/x.yaml", {key: 1})
    (issue,) = _issues(exc)
    assert (issue.file, issue.line, issue.key) == ("scenarios/x.yaml", None, "(override)")
    assert fragment in issue.message
    assert str(issue).startswith("scenarios/x.yaml: (override): ")


def test_bad_override_value_says_it_came_from_the_override() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(VALID, "x.yaml", {"groups[0].size": 1})
    assert str(exc.value) == "x.yaml: groups[0].size: must be ≥ 2 (set by override groups[0].size=1)"


def test_path_syntax_round_trips() -> None:
    for text in ["seed", "groups[0].workload.app_rate", 'groups[1].providers["a b"]', "providers[0].name"]:
        assert format_path(parse_path(text)) == text


# ---- empirical files --------------------------------------------------------------------------------


def test_empirical_file_is_found_relative_to_the_scenario_and_kept_relative(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rtt.csv").write_text("0.01\n0.02\n", encoding="utf-8")
    f = tmp_path / "s.yaml"
    f.write_text(VALID + "network:\n  client_ds:\n    latency: {dist: empirical, file: data/rtt.csv}\n")
    s = load_scenario(f)
    latency = s.network.client_ds.latency
    assert isinstance(latency, Empirical)
    assert latency.file == "data/rtt.csv"  # no machine path in the scenario


def test_empirical_file_without_numbers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rtt.csv").write_text("latency\nfast\n", encoding="utf-8")
    f = tmp_path / "s.yaml"
    f.write_text(VALID + "network:\n  client_ds:\n    latency: {dist: empirical, file: rtt.csv}\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    (issue,) = _issues(exc)
    assert issue.key == "network.client_ds.latency.file" and "no numeric samples" in issue.message


def test_empirical_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    f = tmp_path / "s.yaml"
    f.write_text(VALID + "network:\n  ds_as:\n    latency:\n      dist: empirical\n      file: data\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    (issue,) = _issues(exc)
    assert (issue.line, issue.key) == (14, "network.ds_as.latency.file")
    assert issue.message.startswith("a folder, not a file: data")


# ---- valid files ------------------------------------------------------------------------------------


def _round_trip(s: Scenario, tmp_path: Path, beside: Path | None = None) -> None:
    """Dump ``s`` and load it again; ``beside`` is a scenario whose relative sample files it names."""
    if beside is not None and (beside.parent / "data").is_dir():
        shutil.copytree(beside.parent / "data", tmp_path / "data")
    f = tmp_path / "again.yaml"
    f.write_text(yaml.safe_dump(s.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    assert load_scenario(f) == s


def test_valid_text_loads_with_defaults(tmp_path: Path) -> None:
    s = parse_scenario(VALID, "x.yaml")
    assert (
        s.name == "small"
        and s.groups[0].size == 4
        and s.network.ds_ds.latency.model_dump()
        == {
            "dist": "constant",
            "value": 0.03,
        }
    )
    _round_trip(s, tmp_path)


def test_yaml_merge_keys_work_and_keep_lines() -> None:
    text = VALID.replace("  - name: team", "  - &team\n    name: team") + "  - <<: *team\n    count: 0\n"
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, "x.yaml")
    assert str(exc.value) == "x.yaml:12: groups[1].count: must be ≥ 1"
    s = parse_scenario(text.replace("count: 0", "count: 2"), "x.yaml")
    assert (s.groups[1].size, s.groups[1].count, s.groups[1].name) == (4, 2, "team")


@pytest.mark.parametrize(
    "path",
    SHIPPED or [pytest.param(None, marks=pytest.mark.skip(reason="no scenarios/*.yaml shipped yet"))],
    ids=lambda p: p.name if isinstance(p, Path) else "none",
)
def test_shipped_scenario_validates_and_round_trips(path: Path, tmp_path: Path) -> None:
    s = load_scenario(path)
    _round_trip(s, tmp_path, beside=path)


# ---- the command line ---------------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_cli_ok(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text(VALID.replace("  - name: team", "  - name: team\n    count: 3"), encoding="utf-8")
    code, out = _run(str(f))
    assert (code, out) == (0, f"{f}: ok (3 groups, 12 members)\n")


def test_cli_bad_files_exit_1_with_one_line_per_issue() -> None:
    files = [str(BAD / "missing_required.yaml"), str(BAD / "yaml_syntax.yaml"), str(BAD / "nope.yaml")]
    code, out = _run(*files)
    assert code == 1
    assert out.splitlines() == [
        f"{files[0]}:4: duration: required key is missing",
        f"{files[0]}:8: groups[0].size: required key is missing",
        f"{files[1]}:5: invalid YAML: mapping values are not allowed here",
        f"{files[2]}: no such file",
    ]


def test_cli_mixed_files_report_each_and_fail(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(VALID, encoding="utf-8")
    code, out = _run(str(good), str(BAD / "loss_one.yaml"))
    assert code == 1
    assert out.splitlines()[0] == f"{good}: ok (1 group, 4 members)"
    assert re.fullmatch(r".*loss_one\.yaml:8: network\.ds_ds\.loss: must be < 1", out.splitlines()[1])


def test_cli_every_bad_fixture_fails_cleanly() -> None:
    code, out = _run(*map(str, BAD_FILES))
    assert code == 1
    assert ": ok (" not in out


def test_cli_without_files_is_a_usage_error() -> None:
    code, out = _run()
    assert code == 2
    assert "give one or more scenario files" in out


def test_cli_docs_prints_the_reference() -> None:
    code, out = _run("--docs")
    assert code == 0
    assert out.startswith("# Scenario files\n")


def test_a_link_class_given_without_latency_keeps_its_class_default() -> None:
    text = VALID + "network:\n  ds_ds: {loss: 0.1}\n  ds_as: {bandwidth: 1000000}\n"
    s = parse_scenario(text, "x.yaml")
    default = parse_scenario(VALID, "x.yaml").network
    assert s.network.ds_ds.latency == default.ds_ds.latency != default.client_ds.latency
    assert s.network.ds_as.latency == default.ds_as.latency and s.network.ds_ds.loss == 0.1


def test_override_inside_an_omitted_section_keeps_its_defaults() -> None:
    s = parse_scenario(VALID, "x.yaml", {"network.ds_ds.latency.value": 0.2, "churn.enabled": True})
    default = parse_scenario(VALID, "x.yaml")
    assert s.network.ds_ds.latency == type(default.network.ds_ds.latency)(value=0.2)
    assert s.network.client_ds == default.network.client_ds
    assert s.churn.enabled and s.churn.mean_online == default.churn.mean_online
