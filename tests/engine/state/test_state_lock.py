"""The state lock, contended by real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetform.errors import LockError
from fleetform.state import LocalStateBackend, hold_lock, read_lock_holder

_HOLDER = """
import sys
from pathlib import Path
from fleetform.state import LocalStateBackend

backend = LocalStateBackend(Path(sys.argv[1]))
with backend.lock(sys.argv[2], timeout=float(sys.argv[3])):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@contextlib.contextmanager
def _holder(
    path: Path, operation: str = "apply", timeout: float = 0
) -> Iterator[subprocess.Popen[str]]:
    """A child process holding the lock until a line arrives on its stdin."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), operation, str(timeout)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _wait_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()


@pytest.fixture
def backend(tmp_path: Path) -> LocalStateBackend:
    return LocalStateBackend(tmp_path / "state.json")


def test_second_locker_waits_then_gets_error_naming_holder(backend: LocalStateBackend) -> None:
    with _holder(backend.path, "apply") as proc:
        assert _wait_line(proc) == "locked"
        with pytest.raises(LockError) as caught, backend.lock("plan", timeout=0.2):
            pytest.fail("lock acquired while another process holds it")
        message = str(caught.value)
        assert message.startswith("state is locked by apply (pid ")
        assert f"pid {proc.pid} on host " in message
        assert "waited 0.2s" in message
        assert "released automatically" in message


def test_lock_holder_is_readable_while_held(backend: LocalStateBackend) -> None:
    assert read_lock_holder(backend.lock_path) is None
    with _holder(backend.path, "refresh") as proc:
        assert _wait_line(proc) == "locked"
        holder = read_lock_holder(backend.lock_path)
        assert holder is not None
        assert (holder.pid, holder.operation) == (proc.pid, "refresh")
        assert holder.since.endswith("Z")
        _release(proc)
        assert _wait_line(proc) == "released"
    assert read_lock_holder(backend.lock_path) is None


def test_waiter_acquires_once_holder_releases(backend: LocalStateBackend) -> None:
    with _holder(backend.path) as proc:
        assert _wait_line(proc) == "locked"
        timer = threading.Timer(0.2, _release, args=(proc,))
        timer.start()
        try:
            with backend.lock("apply", timeout=30) as info:
                assert info.pid == os.getpid()
                assert _wait_line(proc) == "released"
        finally:
            timer.cancel()


def test_lock_is_freed_when_holder_is_sigkilled(backend: LocalStateBackend) -> None:
    with _holder(backend.path) as proc:
        assert _wait_line(proc) == "locked"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert backend.lock_path.read_text()  # the dead holder's note is still there
    assert read_lock_holder(backend.lock_path) is None
    with backend.lock("apply", timeout=0) as info:
        assert read_lock_holder(backend.lock_path) == info


def test_lock_is_released_on_context_exit_even_after_error(backend: LocalStateBackend) -> None:
    with pytest.raises(RuntimeError), backend.lock("apply", timeout=0):
        raise RuntimeError("boom")
    with _holder(backend.path, timeout=0) as proc:
        assert _wait_line(proc) == "locked"
        _release(proc)
        assert _wait_line(proc) == "released"
        assert proc.wait(timeout=30) == 0


def test_lock_is_exclusive_within_one_process_too(backend: LocalStateBackend) -> None:
    with (
        backend.lock("apply", timeout=0),
        pytest.raises(LockError, match="locked by apply"),
        hold_lock(backend.lock_path, "plan", timeout=0),
    ):
        pytest.fail("second lock acquired")


def test_write_outside_lock_takes_it_and_refuses_when_held(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json", write_lock_timeout=0)
    with _holder(backend.path) as proc:
        assert _wait_line(proc) == "locked"
        with pytest.raises(LockError, match=f"pid {proc.pid}"):
            backend.write(backend.read())
    assert not backend.path.exists()
    assert backend.write(backend.read()).serial == 1
