"""The local file backend: real files, real permissions, real killed writers."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetform.errors import StateError
from fleetform.provider import DeviceRecord
from fleetform.state import FORMAT_VERSION, LocalStateBackend, State


def _record(name: str = "miner-001", address: str = "127.0.1.1") -> DeviceRecord:
    return DeviceRecord(
        name=name,
        provider="antminer",
        address=address,
        identity={"mac": "aa:bb", "model": "S19"},
        tracked={"admin_password": "pbkdf2-sha256$1$s$d"},
        fingerprint="f",
    )


@pytest.fixture
def backend(tmp_path: Path) -> LocalStateBackend:
    return LocalStateBackend(tmp_path / ".fleetform" / "state.json")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_file_reads_as_empty_and_is_not_persisted(backend: LocalStateBackend) -> None:
    state = backend.read()
    assert state.serial == 0
    assert state.devices == {}
    assert not backend.path.parent.exists()


def test_round_trip(backend: LocalStateBackend) -> None:
    stored = backend.write(backend.read().with_device(_record()))
    again = backend.read()
    assert again == stored
    assert again.record("miner-001") == _record()
    assert again.updated_at is not None


def test_serial_increments_by_one_per_write(backend: LocalStateBackend) -> None:
    first = backend.write(backend.read())
    second = backend.write(first.with_device(_record()))
    assert (first.serial, second.serial) == (1, 2)
    assert backend.read().serial == 2
    assert json.loads(backend.path.read_text())["serial"] == 2


def test_file_is_pretty_json_with_envelope(backend: LocalStateBackend) -> None:
    backend.write(backend.read().with_device(_record()))
    text = backend.path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["format_version"] == FORMAT_VERSION
    assert data["devices"]["miner-001"]["address"] == "127.0.1.1"


def test_files_are_private(backend: LocalStateBackend) -> None:
    state = backend.write(backend.read())
    backend.write(state)
    assert _mode(backend.path.parent) == 0o700
    assert _mode(backend.path) == 0o600
    assert _mode(backend.backup_path) == 0o600
    assert _mode(backend.lock_path) == 0o600


def test_backup_keeps_previous_version(backend: LocalStateBackend) -> None:
    first = backend.write(backend.read())
    previous_text = backend.path.read_text()
    backend.write(first.with_device(_record()))
    assert backend.backup_path.read_text() == previous_text
    assert json.loads(backend.backup_path.read_text())["serial"] == 1


def test_corrupt_file_error_names_file_line_and_backup(backend: LocalStateBackend) -> None:
    backend.write(backend.write(backend.read()))
    backend.path.write_text('{\n  "serial": 2,\n  garbage\n')
    with pytest.raises(StateError) as caught:
        backend.read()
    message = str(caught.value)
    assert str(backend.path) in message
    assert "line 3" in message
    assert str(backend.backup_path) in message


def test_corrupt_file_is_not_overwritten(backend: LocalStateBackend) -> None:
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text("not json")
    with pytest.raises(StateError, match="corrupt"):
        backend.write(State.empty())
    assert backend.path.read_text() == "not json"


def test_newer_format_version_is_refused(backend: LocalStateBackend) -> None:
    backend.write(backend.read())
    data = json.loads(backend.path.read_text())
    data.update(format_version=FORMAT_VERSION + 1, fleetform_version="2.0.0")
    backend.path.write_text(json.dumps(data))
    with pytest.raises(StateError, match=r"needs fleetform 2\.0\.0 or newer"):
        backend.read()


def test_lineage_mismatch_is_refused(backend: LocalStateBackend) -> None:
    stored = backend.write(backend.read())
    stranger = State(serial=stored.serial, lineage="another-lineage", salt=stored.salt)
    before = backend.path.read_bytes()
    with pytest.raises(StateError, match="different state"):
        backend.write(stranger)
    assert backend.path.read_bytes() == before


def test_two_first_runs_cannot_both_create_state(backend: LocalStateBackend) -> None:
    mine, theirs = backend.read(), backend.read()
    backend.write(theirs)
    with pytest.raises(StateError, match="created by another run"):
        backend.write(mine.with_device(_record()))


def test_concurrent_writer_is_detected_by_base_serial(backend: LocalStateBackend) -> None:
    backend.write(backend.read())
    mine, theirs = backend.read(), backend.read()
    backend.write(theirs.with_device(_record("miner-002")))
    with pytest.raises(StateError, match=r"another run.*serial 2 on disk, read at 1"):
        backend.write(mine.with_device(_record()))
    assert set(backend.read().devices) == {"miner-002"}


def test_writes_inside_a_held_lock_do_not_relock(backend: LocalStateBackend) -> None:
    with backend.lock("apply", timeout=0):
        state = backend.write(backend.read())
        state = backend.write(state.with_device(_record()))
    assert backend.read() == state


_WRITER = """
import sys
from pathlib import Path
from fleetform.provider import DeviceRecord
from fleetform.state import LocalStateBackend

backend = LocalStateBackend(Path(sys.argv[1]))
state = backend.read()
for i in range(1, 100_000):
    record = DeviceRecord(name=f"miner-{i % 40:03d}", provider="antminer",
                          address=f"10.0.{i % 250}.1", tracked={"blob": "x" * 4000})
    state = backend.write(state.with_device(record))
    if i == 2:
        print("writing", flush=True)
"""


@contextlib.contextmanager
def _writer(path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_killed_writer_leaves_old_or_new_complete_file(backend: LocalStateBackend) -> None:
    rng = random.Random(1234)
    last_serial = 0
    for _ in range(8):
        with _writer(backend.path) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "writing\n"
            time.sleep(rng.uniform(0, 0.05))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        state = backend.read()
        assert state.serial >= last_serial + 2
        assert json.loads(backend.backup_path.read_text())["serial"] <= state.serial
        last_serial = state.serial
    final = backend.write(backend.read())
    assert final.serial == last_serial + 1
    assert not list(backend.path.parent.glob("*.tmp"))
