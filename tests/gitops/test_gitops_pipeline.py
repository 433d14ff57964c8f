"""The examples/ci pipelines: their files call one script, and that script works.

The workflow engines themselves (GitHub, GitLab, systemd, cron) cannot run
here; what they run can: every job calls ``examples/ci/fleetform-ci.sh``
(plan / apply / drift), and these tests run exactly that script, in the
order a pull request then a merge then a cron job would, against simulators.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conftest import Farm
from gitops_helpers import REPO, assert_no_secret, drift_pool, subprocess_env
from ruamel.yaml import YAML

CI = REPO / "examples" / "ci"
SCRIPT = CI / "fleetform-ci.sh"


def _commands(node: Any) -> list[str]:
    """Every shell command (run: / script: entries) in a parsed CI file."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script") and isinstance(value, str):
                found.append(value)
            elif key == "script" and isinstance(value, list):
                found += [str(v) for v in value]
            else:
                found += _commands(value)
    elif isinstance(node, list):
        for item in node:
            found += _commands(item)
    return found


def test_every_pipeline_calls_the_script() -> None:
    yaml = YAML(typ="safe")
    github = yaml.load((CI / "github-actions.yml").read_text())
    gitlab = yaml.load((CI / "gitlab-ci.yml").read_text())
    for document in (github, gitlab):
        commands = " ".join(_commands(document))
        assert "examples/ci/fleetform-ci.sh plan" in commands
        assert "examples/ci/fleetform-ci.sh apply" in commands
        assert "plan.md" in commands  # the Markdown plan becomes the PR/MR comment
    assert "examples/ci/fleetform-ci.sh drift" in (CI / "fleetform-drift.service").read_text()
    assert "fleetform-ci.sh drift" in (CI / "crontab").read_text()
    assert "OnUnitActiveSec=" in (CI / "fleetform-drift.timer").read_text()
    assert os.access(SCRIPT, os.X_OK)


def _run(step: str, farm: Farm, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), step], cwd=farm.workdir, env=env,
                          capture_output=True, text=True, timeout=120)


def test_pull_request_then_merge_then_drift_job(farm: Farm) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = subprocess_env(
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        FLEETFORM_MANIFEST=str(farm.manifest), FLEETFORM_ARGS=f"--var-file {farm.var_file}",
        FLEETFORM_STATE=str(farm.state), FLEETFORM_PLAN_FILE="site.plan",
    )
    plan = _run("plan", farm, env)  # pull request
    assert plan.returncode == 0, plan.stdout + plan.stderr
    comment = (farm.workdir / "fleetform-out" / "plan.md").read_text()
    assert comment.startswith("### :pencil2: fleetform plan: ") and "miner-3" in comment
    assert (farm.workdir / "site.plan").exists()
    assert_no_secret(plan.stdout + plan.stderr + comment + (farm.workdir / "site.plan").read_text())

    apply = _run("apply", farm, env)  # merge
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert "Apply complete" in apply.stdout
    stale = _run("apply", farm, env)  # a re-run of the merge job must not apply twice
    assert stale.returncode == 1 and "stale" in stale.stderr

    clean = _run("drift", farm, env)  # cron
    assert clean.returncode == 0, clean.stdout + clean.stderr
    drift_pool(farm.miners[2])
    drifted = _run("drift", farm, env)
    assert drifted.returncode == 2, drifted.stdout + drifted.stderr
    out = farm.workdir / "fleetform-out"
    suite = ET.parse(out / "drift.xml").getroot()  # noqa: S314 - our own report
    assert [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None] == [
        "miner-3"]
    assert "| `miner-3` | antminer | drifted |" in (out / "drift.md").read_text()
    assert json.loads((out / "drift.json").read_text())["exit_code"] == 2
