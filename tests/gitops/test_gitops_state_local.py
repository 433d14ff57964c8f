"""state show / unlock / migrate on the local file backend (no database needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import Farm
from gitops_helpers import assert_no_secret


def test_local_unlock_explains_and_show_and_migrate_to_a_file(  # type: ignore[no-untyped-def]
    farm: Farm, cli, tmp_path: Path
) -> None:
    state = ["--state", str(farm.state)]
    free = cli("state", "unlock", *state)
    assert free.code == 0 and "is not locked" in free.out and "released automatically" in free.out
    assert cli(*farm.args("apply", "--auto-approve")).code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from fleetform.state import hold_lock\n"
         f"with hold_lock(Path({str(farm.state) + '.lock'!r}), 'apply', 0):\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        held = cli("state", "unlock", *state)
        assert held.code == 1 and f"locked by apply (pid {holder.pid}" in held.out
        assert f"kill {holder.pid}" in held.out and "cannot be stuck" in held.out
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    assert "is not locked" in cli("state", "unlock", *state).out

    shown = cli("state", "show", "miner-2", *state)
    assert shown.code == 0 and "miner-2" in shown.out and "miner-1" not in shown.out
    assert "(sensitive, salted hash)" in shown.out
    assert_no_secret(shown.all)
    missing = cli("state", "show", "miner-9", *state)
    assert missing.code == 1 and "not in state: miner-9" in missing.err

    copy = tmp_path / "copy" / "state.json"
    moved = cli("state", "migrate", *state, "--to", str(copy))
    assert moved.code == 0, moved.all
    original, copied = json.loads(farm.state.read_text()), json.loads(copy.read_text())
    assert copied["lineage"] == original["lineage"] and copied["devices"] == original["devices"]
    again = cli("state", "migrate", *state, "--to", str(copy))
    assert again.code == 1 and "already holds state" in again.err
