"""I/O for one Antminer: the digest-authenticated web CGIs and the RPC socket.

Why separate from the codec: this is the only place that opens sockets, so
every ``requests``/``socket`` failure is mapped here (with ``raise ... from``)
onto the fleetform error tree, and every wait is bounded by the caller's
:class:`~fleetform.device.Deadline`.

Retries: a GET may be retried once after a connection reset (a keep-alive
socket the miner dropped); a POST, or the password GET, never is, because the
firmware acts on it even when the reply is lost.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import requests

from fleetform.device import Deadline
from fleetform.errors import (
    AuthError,
    DeviceError,
    DeviceRejected,
    DeviceTimeout,
    DeviceUnreachable,
    IdentityMismatch,
    ProtocolError,
    TransportError,
    VerificationError,
)
from fleetform.providers.antminer.codec import (
    REALM,
    SYSTEM_INFO,
    decode_rpc_reply,
    encode_rpc_command,
    parse_rpc_pools,
    parse_system_info,
    rpc_pools_match,
)
from fleetform.providers.antminer.digest import DigestSession

T = TypeVar("T")

#: set_miner_conf.cgi answers only after bmminer restarted (1-30 s on real miners).
WRITE_TIMEOUT = 60.0
_SECRET_QUERY = re.compile(r"(passwd\.cgi)\?\S*")


class _RedactPasswdQuery(logging.Filter):
    """Mask the ``passwd.cgi`` query in urllib3's debug log of each request line.

    Why: that query carries the current and new passwords, and ``--debug`` output
    ends up in tickets and CI logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1?<redacted>", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactPasswdQuery())


def _causes(exc: BaseException) -> Iterator[object]:
    """Every exception (or reason object) wrapped inside ``exc``, depth-first."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, BaseException):
            stack += [a for a in item.args if isinstance(a, BaseException)]
            stack += [c for c in (item.__cause__, item.__context__) if c is not None]
            reason = getattr(item, "reason", None)
            if isinstance(reason, BaseException):
                stack.append(reason)


def _map_requests_error(exc: requests.RequestException, what: str, timeout: float) -> DeviceError:
    """Turn a ``requests`` failure into the fleetform error tree.

    Why by cause, not message: the message of a ``requests`` error contains the
    URL, and the ``passwd.cgi`` URL carries passwords.
    """
    causes = list(_causes(exc))
    if isinstance(exc, requests.Timeout) or any(
        isinstance(c, TimeoutError) or type(c).__name__.endswith("TimeoutError")
        for c in causes
    ):
        return DeviceTimeout(f"{what}: no answer within {timeout:.3g}s")
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return DeviceUnreachable(f"{what}: connection refused")
    if any(isinstance(c, ConnectionResetError) or type(c).__name__ == "RemoteDisconnected"
           for c in causes):
        return DeviceUnreachable(f"{what}: connection reset by the device")
    if isinstance(exc, requests.ConnectionError):
        return DeviceUnreachable(f"{what}: cannot connect ({type(exc).__name__})")
    return ProtocolError(f"{what}: malformed HTTP exchange ({type(exc).__name__})")


def check_deadline(deadline: Deadline, what: str) -> None:
    """Raise :class:`DeviceTimeout` naming ``what`` once the device's time budget is spent.

    Why not ``Deadline.check``: that fills in the error's *step* with the request,
    while the step belongs to the provider (``pools``, ``read``...).
    """
    if deadline.remaining() <= 0:
        raise DeviceTimeout(f"{what}: per-device timeout of {deadline.seconds:g}s exceeded")


def _is_reset(error: DeviceError) -> bool:
    return isinstance(error, DeviceUnreachable) and "reset" in error.message


class MinerHttp:
    """One miner's web CGIs over one reused ``requests.Session`` with digest auth.

    Why one session per device: keep-alive and the digest challenge kept in
    :class:`DigestSession` (not per thread) save a 401 round trip per request,
    per login candidate and per phase. ``login`` tries candidate passwords in
    order and remembers the one that worked (``password``/``label``).
    """

    def __init__(self, host: str, port: int, username: str, timeout: float) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.timeout = timeout
        self.base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.password: str | None = None
        self.label: str | None = None
        self.system_info = ""
        self._session = requests.Session()
        self._session.trust_env = False  # never route a miner through an environment proxy
        self._digest = DigestSession()
        self.requests = 0
        """HTTP requests sent (401 challenges included), for benchmarks and tests."""

    def login(self, candidates: Sequence[tuple[str, str]], deadline: Deadline) -> str | None:
        """Try ``(label, password)`` pairs in order; return the label that logged in.

        Returns ``None`` if every password got a 401 from an Antminer realm. The
        reply to the successful probe (``get_system_info.cgi``) is kept in
        ``system_info``. Raises :class:`ProtocolError` for a non-Antminer 401.
        """
        self.password = self.label = None
        for label, password in candidates:
            response = self._send("GET", SYSTEM_INFO, deadline, self.timeout, retry=True,
                                  password=password)
            if response.status_code == 401:
                continue
            self._check(response, f"GET {SYSTEM_INFO}")
            self.password, self.label = password, label
            self.system_info = response.content.decode("utf-8", errors="replace")
            return label
        return None

    def get(self, path: str, deadline: Deadline, *, query: str | None = None,
            secret: bool = False) -> str:
        """GET a CGI and return its body text.

        ``secret`` marks a query carrying passwords: it is never retried and no
        exception chained to the error can show its URL.
        """
        url_path = f"{path}?{query}" if query else path
        response = self._send("GET", url_path, deadline, self.timeout, retry=not secret,
                              what=f"GET {path}", secret=secret)
        return self._check(response, f"GET {path}")

    def post(self, path: str, body: bytes, deadline: Deadline, *,
             timeout: float = WRITE_TIMEOUT) -> str:
        """POST a positional form and return the body text.

        Why never retried: the firmware applies the write even if the reply is lost.
        """
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response = self._send("POST", path, deadline, max(timeout, self.timeout),
                              data=body, headers=headers)
        return self._check(response, f"POST {path}")

    def _send(self, method: str, path: str, deadline: Deadline, cap: float, *,
              retry: bool = False, what: str | None = None, secret: bool = False,
              password: str | None = None, **kwargs: Any) -> requests.Response:
        """One request, signed with ``password`` (default: the logged-in one).

        A 401 is answered once with the new challenge, unless the request was
        already signed with a nonce the miner had just sent: then the password
        is wrong and the 401 is returned to the caller.
        """
        what = what or f"{method} {path}"
        password = self.password if password is None else password
        attempts = 2 if retry else 1
        attempt = 0
        challenged = False
        while True:
            check_deadline(deadline, what)
            timeout = (deadline.timeout(self.timeout), deadline.timeout(cap))
            signed = self._digest.fresh
            headers = dict(kwargs.pop("headers", None) or {})
            header = (self._digest.authorization(self.username, password, method, path)
                      if password is not None else None)
            if header is not None:
                headers["Authorization"] = header
            kwargs["headers"] = headers
            try:
                self.requests += 1
                response = self._session.request(
                    method, self.base + path, timeout=timeout, allow_redirects=False, **kwargs
                )
            except requests.RequestException as exc:
                error = _map_requests_error(exc, what, timeout[1])
                attempt += 1
                if attempt < attempts and _is_reset(error) and deadline.remaining() > 0:
                    continue
                if secret:
                    raise error from None
                raise error from exc
            if response.status_code != 401:
                self._digest.answered()
                return response
            self._check_realm(response)
            learned = self._digest.learn(response.headers.get("WWW-Authenticate", ""))
            if challenged or not learned or password is None or (header is not None and signed):
                return response
            challenged = True
            response.close()

    @staticmethod
    def _check_realm(response: requests.Response) -> None:
        challenge = response.headers.get("WWW-Authenticate", "")
        if f'realm="{REALM}"' not in challenge:
            raise ProtocolError(
                "not an Antminer: the web server asks for a login outside the "
                f"'{REALM}' realm"
            )

    def _check(self, response: requests.Response, what: str) -> str:
        code = response.status_code
        if code == 401:
            raise AuthError(f"{what}: the miner no longer accepts the password for {self.username}")
        if code == 404:
            raise ProtocolError(f"{what}: not found (not a stock S9 firmware?)")
        if code >= 400:
            raise DeviceRejected(f"{what}: HTTP {code} {response.reason}")
        if code >= 300:
            raise ProtocolError(f"{what}: unexpected redirect (HTTP {code})")
        return response.content.decode("utf-8", errors="replace")

    def close(self) -> None:
        """Close the session's pooled connections (the provider's ``close`` calls this)."""
        self._session.close()


class MinerRpc:
    """The bmminer RPC API: one TCP connection per command, as the server expects.

    Why no connection reuse: the server answers one request, then closes; the
    reply ends with NUL or at close, whichever comes first.
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def command(self, command: str, deadline: Deadline,
                parameter: str | None = None) -> dict[str, dict[str, Any]]:
        """Send one (possibly joined) command; return ``{command: reply}``.

        Why read until NUL or close: bmminer does both, and some builds only one.
        """
        what = f"RPC {command} at {self.host}:{self.port}"
        check_deadline(deadline, what)
        chunks: list[bytes] = []
        try:
            with socket.create_connection((self.host, self.port),
                                          timeout=deadline.timeout(self.timeout)) as sock:
                sock.sendall(encode_rpc_command(command, parameter))
                while True:
                    sock.settimeout(deadline.timeout(self.timeout))
                    data = sock.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
                    if b"\x00" in data:
                        break
        except TimeoutError as exc:
            raise DeviceTimeout(f"{what}: no answer within the time left") from exc
        except ConnectionRefusedError as exc:
            raise DeviceUnreachable(f"{what}: connection refused") from exc
        except OSError as exc:
            raise DeviceUnreachable(f"{what}: {exc.strerror or type(exc).__name__}") from exc
        raw = b"".join(chunks)
        if not raw.strip(b"\x00 \r\n"):
            raise ProtocolError(f"{what}: empty reply")
        return decode_rpc_reply(raw, command)

    def wait_for_pools(self, desired: Sequence[Mapping[str, Any]], wait: Deadline) -> None:
        """Poll ``pools`` until bmminer serves ``desired`` (URLs normalised, workers, order).

        Why: a pool write restarts bmminer, whose RPC port is closed for a while
        and may first answer with the old pools. Raises :class:`VerificationError`
        if it answers with other pools until ``wait`` ends, :class:`DeviceTimeout`
        if it never answers.
        """
        seen: list[list[dict[str, Any]]] = []
        errors: list[DeviceError] = []

        def restarted() -> bool | None:
            try:
                pools = parse_rpc_pools(self.command("pools", wait)["pools"])
            except ProtocolError as exc:  # a half-started bmminer; keep waiting
                errors.append(exc)
                return None
            seen.append(pools)
            return True if rpc_pools_match(desired, pools) else None

        if poll(restarted, wait, errors=errors) is None:
            if seen:
                shown = [f"{p['url']} ({p['user']})" for p in seen[-1]]
                raise VerificationError(f"after the restart RPC pools shows {shown}")
            last = f": {errors[-1].message}" if errors else ""
            raise DeviceTimeout(
                f"bmminer did not serve RPC pools within {wait.seconds:.0f}s of the write{last}"
            )


def find_miner(targets: Sequence[str], port: int, username: str, password: str, mac: str,
               timeout: float, wait: Deadline) -> MinerHttp:
    """Poll ``targets`` until the miner with ``mac`` answers; return a session there.

    Why: after ``set_network_conf.cgi`` the miner restarts networking and
    reappears at its new address (or the same one, for DHCP); the MAC proves
    it is the same machine. Raises :class:`IdentityMismatch` if only another
    device answered, :class:`DeviceTimeout` if nothing did before ``wait`` ended.
    """
    strangers: list[str] = []

    def moved() -> MinerHttp | None:
        for target in targets:
            probe = MinerHttp(target, port, username, timeout)
            try:
                if probe.login([("current", password)], wait) is not None:
                    if parse_system_info(probe.system_info).mac == mac:
                        return probe
                    strangers.append(target)
            except (TransportError, ProtocolError):
                pass
            probe.close()
        return None

    found = poll(moved, wait)
    if found is None:
        if strangers:
            raise IdentityMismatch(f"another device (not MAC {mac}) answers at {strangers[-1]}")
        raise DeviceTimeout(
            f"the miner did not answer at {', '.join(targets)} within {wait.seconds:.0f}s"
        )
    return found


def poll(
    attempt: Callable[[], T | None],
    deadline: Deadline,
    *,
    first: float = 0.2,
    longest: float = 2.0,
    errors: list[DeviceError] | None = None,
) -> T | None:
    """Call ``attempt`` with backoff (``first`` doubling to ``longest``) until it returns a value.

    Why a helper: every wait of this provider (bmminer restart, network move,
    new password) must be bounded by a deadline and must not hammer a miner
    that is restarting. Returns ``None`` when the deadline ran out.
    :class:`TransportError` from ``attempt`` counts as "not yet" and is
    appended to ``errors`` so the caller can say what it last saw.
    """
    delay = first
    while True:
        try:
            result = attempt()
        except TransportError as exc:
            if errors is not None:
                errors.append(exc)
            result = None
        if result is not None:
            return result
        if deadline.remaining() <= delay:
            return None
        time.sleep(delay)
        delay = min(longest, delay * 2)
