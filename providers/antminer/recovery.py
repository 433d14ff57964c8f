"""How the Antminer provider rides out a hostile network: what it repeats, and what it re-reads.

Why a module of its own: the rules are the safety argument, so they stand
in one place.

- Reads (``get_*.cgi``, the login probe) are idempotent: repeated on a
  dropped connection, a timeout or an empty/garbled body, :data:`READS`.
- ``set_miner_conf.cgi`` is NOT repeated blindly: the firmware writes the
  configuration and restarts bmminer even when its reply is lost. When the
  reply is lost (timeout, reset), :func:`write_pools` re-reads
  ``get_miner_conf.cgi`` (patiently:
  the miner may be rebooting, :data:`REREAD`). If the pools are there the
  write took effect and nothing is sent again; only if they are not is the
  form posted once more (at most :data:`POOL_WRITE_ATTEMPTS` posts). An
  empty answer means another writer holds the miner's configuration lock:
  that is reported (``miner busy``), never overwritten by a second post.
- ``passwd.cgi`` is never repeated; a lost reply is settled by logging in
  with the new password (see the provider).
- Authentication failures are never retried (the miner might lock us out,
  and a wrong password stays wrong).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fleetform.device import Deadline
from fleetform.errors import DeviceRejected, ProtocolError, TransportError
from fleetform.provider import ProgressCallback
from fleetform.providers.antminer import codec
from fleetform.providers.antminer.transport import MinerHttp
from fleetform.retry import RetryPolicy, is_transient, retry_call

T = TypeVar("T")

#: Idempotent reads: three tries, 0.2 s then 0.4 s apart (+ up to 0.1 s jitter).
READS = RetryPolicy(attempts=3, base_delay=0.2, max_delay=2.0, jitter=0.1)
#: The re-read after a lost write reply: the miner may be rebooting (~8 s of patience).
REREAD = RetryPolicy(attempts=7, base_delay=0.2, max_delay=2.0, jitter=0.1)
#: set_miner_conf.cgi posts per step, each after a re-read found the pools missing.
POOL_WRITE_ATTEMPTS = 2


def read_retryable(error: Exception) -> bool:
    """Reads repeat on transport failures and on empty or garbled replies (not on 401)."""
    return is_transient(error) or isinstance(error, ProtocolError)


def fetch(http: MinerHttp, path: str, parse: Callable[[str], T], deadline: Deadline,
          policy: RetryPolicy = READS) -> T:
    """GET ``path`` and parse it, repeating the pair on transient failures."""
    return retry_call(lambda: parse(http.get(path, deadline)), deadline=deadline,
                      policy=policy, retryable=read_retryable)


def expect_ok(reply: str, cgi: str, secrets: Sequence[str] = ()) -> None:
    """Judge a write CGI's body: ``ok`` succeeded, empty means another write holds the lock."""
    if reply == "ok":
        return
    if not reply:
        raise DeviceRejected("miner busy: another configuration write is in progress")
    shown = codec.excerpt(reply, list(secrets))
    raise DeviceRejected(f"{cgi} answered {shown!r} instead of 'ok'")


def write_pools(http: MinerHttp, desired: Sequence[Mapping[str, Any]], form: bytes,
                deadline: Deadline, *, timeout: float, progress: ProgressCallback) -> None:
    """POST the pools; after a lost reply, re-read and post again only if they are not there.

    Raises the last transport error when every post was lost and the pools
    never showed up, saying what the re-read found.
    """
    secrets = [str(p.get("password", "")) for p in desired]
    lost: TransportError | None = None
    for attempt in range(1, POOL_WRITE_ATTEMPTS + 1):
        try:
            reply = http.post(codec.SET_MINER_CONF, form, deadline, timeout=timeout).strip()
            expect_ok(reply, "set_miner_conf.cgi", secrets)
            return
        except TransportError as exc:
            lost = exc
        progress(f"set_miner_conf.cgi gave no answer ({lost.message}); re-reading the "
                 "configuration to see whether the pools were written")
        conf = fetch(http, codec.MINER_CONF, codec.parse_miner_conf, deadline, REREAD)
        missing = codec.pools_difference(desired, codec.conf_pools(conf))
        if missing is None:
            progress("the miner did write the pools; not posting them again")
            return
        if attempt < POOL_WRITE_ATTEMPTS:
            progress(f"the pools were not written ({missing}); posting them again")
    assert lost is not None
    lost.message = (f"{lost.message}; after {POOL_WRITE_ATTEMPTS} posts get_miner_conf.cgi "
                    "still shows the old pools")
    lost.args = (lost.message,)
    raise lost
