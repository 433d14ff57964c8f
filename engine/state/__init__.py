"""State: the versioned record of what fleetform applied, with its lock.

Why a package of its own: state is what lets fleetform notice a swapped
device, remember write-only settings (secrets only as salted hashes) and stop
two runs from interleaving. It is split like OpenTofu's ``states`` /
``statefile``: an immutable in-memory :class:`State` (``model``), the on-disk
versioned envelope (``codec``), where the file lives (``local``, a
:class:`StateBackend`) and the lock guarding every writer (``lock``).

Typical use by the engine::

    backend = LocalStateBackend(DEFAULT_PATH)
    with backend.lock("apply", timeout=5):
        state = backend.read()
        state = backend.write(state.with_device(record))
"""

from fleetform.state.codec import FORMAT_VERSION, MIGRATIONS, decode, encode
from fleetform.state.local import DEFAULT_PATH, LocalStateBackend
from fleetform.state.lock import hold_lock, read_lock_holder
from fleetform.state.model import LockInfo, State, StateBackend

__all__ = [
    "DEFAULT_PATH",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "LocalStateBackend",
    "LockInfo",
    "State",
    "StateBackend",
    "decode",
    "encode",
    "hold_lock",
    "read_lock_holder",
]
