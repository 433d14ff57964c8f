"""The Antminer S9 provider: read, plan, apply and status over the web CGIs and RPC.

Credentials (why two passwords, and why the user edits one place):
``settings.admin_password`` is what the miner's web password *should* be;
``connection.credentials.password`` is what it was before fleetform touched it
(factory ``root``). Every verb logs in by trying, in order, the desired
``admin_password`` (if set) and then the bootstrap password, and remembers
which one worked. That one probe is also how the write-only password is
"read": if the desired one logs in, the live ``admin_password`` equals it (in
sync); if only the bootstrap works, it is ``Opaque("differs")`` and a change
is planned; if neither works, :class:`AuthError`. So after a rotation the next
plan still connects, without the user editing the bootstrap too. The provider
returns ``tracked=None`` for the password; hashing (with the state's salt) is
the engine's job. No message ever contains a password.

Where: the miner is looked for at ``connection.host``, then at the address
state recorded (it may have moved after a network change).

Waits: a pool write restarts bmminer; apply polls RPC ``pools`` (backoff
0.2 s → 2 s) until it shows the new pools, bounded by the device deadline and
``connection.restart_timeout``. A network write moves the miner; apply polls
``get_system_info.cgi`` at the new address until the same MAC answers.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from fleetform.device import Deadline, DeviceSpec
from fleetform.diff import diff_settings
from fleetform.errors import (
    AuthError,
    DeviceError,
    DeviceRejected,
    DeviceTimeout,
    DeviceUnreachable,
    TransportError,
    VerificationError,
)
from fleetform.planner import unwrap
from fleetform.provider import (
    ApplyRequest,
    ApplyResponse,
    DeviceRecord,
    Opaque,
    PlanRequest,
    PlanResponse,
    ReadRequest,
    ReadResponse,
    SettingSpec,
    StatusRequest,
    StatusResponse,
    device_step,
    model_part,
)
from fleetform.providers.antminer import codec
from fleetform.providers.antminer.models import AntminerConnection, AntminerSettings
from fleetform.providers.antminer.recovery import (
    READS,
    expect_ok,
    fetch,
    read_retryable,
    write_pools,
)
from fleetform.providers.antminer.transport import (
    WRITE_TIMEOUT,
    MinerHttp,
    MinerRpc,
    find_miner,
    poll,
)
from fleetform.retry import retry_call


def _connection(device: DeviceSpec) -> AntminerConnection:
    return model_part(device, "connection", AntminerConnection)


def _settings(device: DeviceSpec) -> AntminerSettings:
    return model_part(device, "settings", AntminerSettings)


def _addresses(device: DeviceSpec, record: DeviceRecord | None) -> list[str]:
    """The manifest host, then the recorded address if the miner may have moved."""
    host = _connection(device).host
    return [host] + ([record.address] if record and record.address not in ("", host) else [])


class AntminerProvider:
    """Bitmain Antminer S9 / S9 Hydro on stock firmware (web CGI + RPC port 4028).

    Why one instance holds sessions: devices run in parallel threads, each
    device in one thread at a time, and reusing its digest session saves a
    login per request; the dict of sessions is guarded by a lock.
    """

    name: str = "antminer"
    connection_model: type[BaseModel] = AntminerConnection
    settings_model: type[BaseModel] = AntminerSettings
    settings_specs: Mapping[str, SettingSpec] = {
        "pools": SettingSpec(
            name="pools", sensitive_fields=frozenset({"[].password"}), order=10,
            description="1-3 pools; written with set_miner_conf.cgi (restarts bmminer).",
        ),
        "admin_password": SettingSpec(
            name="admin_password", sensitive=True, order=20,
            description="Web password; read by probing (log in with it), written with passwd.cgi.",
        ),
        "network": SettingSpec(
            name="network", disruptive=True, order=90,
            description="DHCP/static addressing; set_network_conf.cgi moves the miner.",
        ),
    }

    def __init__(self) -> None:
        self._links: dict[str, MinerHttp] = {}
        self._lock = threading.Lock()

    # --- sessions -------------------------------------------------------------------

    def _store(self, device: DeviceSpec, http: MinerHttp) -> None:
        with self._lock:
            old = self._links.get(device.name)
            self._links[device.name] = http
        if old is not None and old is not http:
            old.close()

    def _login(self, device: DeviceSpec, address: str, deadline: Deadline) -> MinerHttp:
        """Log in at ``address`` trying the desired, then the bootstrap password."""
        conn, settings = _connection(device), _settings(device)
        with self._lock:
            http = self._links.get(device.name)
        fresh = http is None or http.host != address
        if http is None or fresh:
            http = MinerHttp(address, conn.port, conn.credentials.username, conn.timeout)
        candidates: list[tuple[str, str]] = []
        if settings.admin_password is not None:
            candidates.append(("desired", settings.admin_password.get_secret_value()))
        bootstrap = conn.credentials.password.get_secret_value()
        if all(bootstrap != password for _, password in candidates):
            candidates.append(("bootstrap", bootstrap))
        try:
            if http.login(candidates, deadline) is None:
                tried = ("the manifest's admin_password and connection.credentials.password"
                         if settings.admin_password is not None
                         else "connection.credentials.password")
                raise AuthError(
                    f"wrong password for user {conn.credentials.username} (tried {tried})"
                )
        except DeviceError:
            if fresh:
                http.close()
            raise
        self._store(device, http)
        return http

    def _probe(self, device: DeviceSpec, address: str, deadline: Deadline) -> MinerHttp:
        """Log in at ``address`` and parse the probe's reply, repeating on transient faults.

        Why parse inside the retry: an empty or garbled ``get_system_info.cgi``
        body is a fault of the moment, like a dropped connection.
        """
        def attempt() -> MinerHttp:
            http = self._login(device, address, deadline)
            codec.parse_system_info(http.system_info)
            return http

        return retry_call(attempt, deadline=deadline, policy=READS, retryable=read_retryable)

    def _find(self, device: DeviceSpec, record: DeviceRecord | None,
              deadline: Deadline) -> MinerHttp:
        """Log in at the first address that answers (manifest host, then recorded)."""
        first: TransportError | None = None
        for address in _addresses(device, record):
            try:
                return self._probe(device, address, deadline)
            except TransportError as exc:
                if first is None:
                    first = exc
                else:
                    raise type(first)(
                        f"{first.message}; at the recorded address {address}: {exc.message}"
                    ) from first
        assert first is not None
        raise first

    def _link(self, device: DeviceSpec, address: str, deadline: Deadline) -> MinerHttp:
        with self._lock:
            http = self._links.get(device.name)
        if http is not None and http.host == address and http.password is not None:
            return http
        return self._probe(device, address, deadline)

    # --- verbs ----------------------------------------------------------------------

    def read(self, request: ReadRequest) -> ReadResponse:
        """Identity, facts and live pools/network, and the password probe, of one miner.

        Why RPC is optional here: bmminer may be restarting; the web CGIs hold
        every managed setting, RPC only adds version facts (a warning if absent).
        """
        with device_step(request.device, "read"):
            return self._read(request)

    def _read(self, request: ReadRequest) -> ReadResponse:
        device, deadline = request.device, request.deadline
        conn, settings = _connection(device), _settings(device)
        http = self._find(device, request.record, deadline)
        info = codec.parse_system_info(http.system_info)
        conf = fetch(http, codec.MINER_CONF, codec.parse_miner_conf, deadline)
        live: dict[str, Any] = {
            "pools": codec.conf_pools(conf),
            "network": fetch(http, codec.NETWORK_INFO, codec.parse_network_info, deadline),
        }
        if settings.admin_password is not None:
            in_sync = http.label == "desired"
            live["admin_password"] = settings.admin_password if in_sync else Opaque("differs")
        facts: dict[str, Any] = {"hostname": info.hostname, "firmware": info.firmware,
                                 "bmminer_version": info.bmminer_version}
        warnings: list[str] = []
        try:
            version = MinerRpc(http.host, conn.rpc_port, conn.timeout).command("version", deadline)
            facts.update(codec.parse_version(version["version"]))
        except DeviceError as exc:
            warnings.append(f"RPC API not answering, version facts missing: {exc.message}")
        return ReadResponse(
            address=http.host,
            # Not the hostname: it is a managed setting, and the engine refuses a
            # device whose identity changed since state recorded it.
            identity={"mac": info.mac, "model": info.model},
            live=live, facts=facts, warnings=tuple(warnings),
        )

    def plan(self, request: PlanRequest) -> PlanResponse:
        """Diff the manifest against the live read with the engine's generic rules.

        Why unwrap SecretStr and align URLs first: the diff compares plain values;
        secrets stay out of the Changes because the specs mark them sensitive.
        """
        desired = unwrap(request.device.desired())
        live = dict(request.read.live)
        if isinstance(desired.get("pools"), list) and isinstance(live.get("pools"), list):
            live["pools"] = codec.align_pool_urls(desired["pools"], live["pools"])
        changes = diff_settings(desired, unwrap(live), self.settings_specs,
                                secret_paths=request.device.sensitive_paths)
        return PlanResponse(changes=tuple(changes))

    def apply(self, request: ApplyRequest) -> ApplyResponse:
        """Apply one step (``pools``, ``admin_password`` or ``network``) and verify it.

        Why one step per call: the engine orders steps (network last) and records
        each outcome; errors carry the step so the user sees which write failed.
        """
        steps = {"pools": self._apply_pools, "admin_password": self._apply_password,
                 "network": self._apply_network}
        with device_step(request.device, request.setting):
            if request.setting not in steps:
                raise DeviceRejected(f"antminer has no setting '{request.setting}'")
            return steps[request.setting](request)

    def _apply_pools(self, request: ApplyRequest) -> ApplyResponse:
        device, deadline = request.device, request.deadline
        conn = _connection(device)
        desired = [p.model_dump() for p in _settings(device).pools or []]
        http = self._link(device, request.read.address, deadline)
        conf = fetch(http, codec.MINER_CONF, codec.parse_miner_conf, deadline)
        request.progress("writing pools with set_miner_conf.cgi (bmminer restarts)")
        # The CGI answers once bmminer restarted: wait that long, at most WRITE_TIMEOUT;
        # a reply lost or late is settled by re-reading the configuration, not by re-posting.
        write_pools(http, desired, codec.build_miner_conf_form(desired, conf), deadline,
                    timeout=min(WRITE_TIMEOUT, conn.restart_timeout), progress=request.progress)
        wait = Deadline(min(deadline.remaining(), conn.restart_timeout))
        request.progress(f"waiting up to {wait.seconds:.0f}s for bmminer to serve the new pools")
        MinerRpc(http.host, conn.rpc_port, conn.timeout).wait_for_pools(desired, wait)
        readback = codec.conf_pools(fetch(http, codec.MINER_CONF, codec.parse_miner_conf,
                                          deadline))
        difference = codec.pools_difference(desired, readback)
        if difference:
            raise VerificationError(f"get_miner_conf.cgi after the write: {difference}")
        return ApplyResponse(observed=codec.align_pool_urls(desired, readback))

    def _apply_password(self, request: ApplyRequest) -> ApplyResponse:
        device, deadline = request.device, request.deadline
        conn, settings = _connection(device), _settings(device)
        if settings.admin_password is None:
            raise DeviceRejected("admin_password is not set in the manifest")
        new = settings.admin_password.get_secret_value()
        http = self._link(device, request.read.address, deadline)
        current = http.password or ""
        if current != new:
            request.progress("changing the web password with passwd.cgi")
            lost: TransportError | None = None
            try:
                page = http.get(codec.PASSWD, deadline,
                                query=codec.build_passwd_query(current, new), secret=True)
                codec.judge_passwd_page(page)
            except TransportError as exc:  # never re-sent: settle it by logging in with it
                lost = exc
                request.progress("passwd.cgi gave no answer; trying the new password")
            fresh = MinerHttp(http.host, conn.port, conn.credentials.username, conn.timeout)
            confirm = Deadline(min(deadline.remaining(), 10.0))
            if poll(lambda: fresh.login([("desired", new)], confirm), confirm) is None:
                fresh.close()
                if lost is not None:
                    raise lost
                raise VerificationError(
                    "passwd.cgi reported success but the new admin_password does not log in"
                )
            self._store(device, fresh)
        return ApplyResponse(observed=settings.admin_password, tracked=None)

    def _apply_network(self, request: ApplyRequest) -> ApplyResponse:
        device, deadline = request.device, request.deadline
        conn, settings = _connection(device), _settings(device)
        if settings.network is None:
            raise DeviceRejected("network is not set in the manifest")
        desired = settings.network.model_dump(mode="python", exclude_none=True)
        http = self._link(device, request.read.address, deadline)
        mac = request.read.identity.get("mac") or codec.parse_system_info(http.system_info).mac
        current = fetch(http, codec.NETWORK_INFO, codec.parse_network_info, deadline)
        body = codec.build_network_form(desired, str(current.get("hostname", "")))
        request.progress("writing network settings with set_network_conf.cgi")
        # The miner may drop this very connection as its address changes: not a failure.
        with contextlib.suppress(DeviceTimeout, DeviceUnreachable):
            expect_ok(http.post(codec.SET_NETWORK_CONF, body, deadline, timeout=30.0).strip(),
                      "set_network_conf.cgi")
        targets = ([str(desired["ip"])] if desired["mode"] == "static"
                   else list(dict.fromkeys([conn.host, http.host])))
        wait = Deadline(min(deadline.remaining(), conn.restart_timeout))
        request.progress(f"waiting up to {wait.seconds:.0f}s for the miner at {', '.join(targets)}")
        found = find_miner(targets, conn.port, conn.credentials.username, http.password or "",
                           mac, min(conn.timeout, 5.0), wait)
        found.timeout, found.label = conn.timeout, http.label
        self._store(device, found)
        observed = fetch(found, codec.NETWORK_INFO, codec.parse_network_info, deadline)
        return ApplyResponse(observed=observed, address=found.host)

    def status(self, request: StatusRequest) -> StatusResponse:
        """Hash rate, pools, temperatures and fans, with warnings for what needs a human.

        Why RPC first: the figures live in bmminer; the web UI is only probed to
        tell "bmminer stopped" (unhealthy) from "miner gone" (an error).
        """
        with device_step(request.device, "status"):
            return self._status(request)

    def _status(self, request: StatusRequest) -> StatusResponse:
        device, deadline = request.device, request.deadline
        conn = _connection(device)
        first: TransportError | None = None
        for address in _addresses(device, request.record):
            rpc = MinerRpc(address, conn.rpc_port, conn.timeout)
            try:
                replies = rpc.command("summary+pools", deadline)
                break
            except TransportError as exc:
                first = first or exc
        else:
            assert first is not None
            try:
                http = self._find(device, request.record, deadline)
            except DeviceError:
                raise first from first.__cause__
            return StatusResponse(
                address=http.host, metrics={}, healthy=False,
                warnings=(f"web UI answers but the RPC API does not ({first.message}): "
                          "bmminer is restarting or stopped",),
            )
        metrics: dict[str, Any] = codec.parse_summary(replies["summary"])
        metrics["pools"] = codec.parse_rpc_pools(replies["pools"])
        warnings: list[str] = []
        critical = False
        try:
            stats = codec.parse_stats(rpc.command("stats", deadline)["stats"])
            metrics.update(chains=stats["chains"], fans=stats["fans"], type=stats["type"])
            warnings, critical = codec.temperature_warnings(stats["chains"])
        except DeviceError as exc:
            warnings.append(f"temperatures unavailable: {exc.message}")
        warnings += [f"pool {p['priority']} {p['url']} is {p['status'] or 'not alive'}"
                     for p in metrics["pools"] if p["status"] != "Alive"]
        if metrics["hashrate_5s_ghs"] <= 0:
            warnings.append("hashrate is 0 GH/s: the miner is not hashing")
        return StatusResponse(address=rpc.host, metrics=metrics, warnings=tuple(warnings),
                              healthy=not critical, summary=_status_summary(metrics))

    def close(self) -> None:
        """Close every device's web session.

        Why: pooled keep-alive sockets would otherwise linger until garbage collection.
        """
        with self._lock:
            links, self._links = list(self._links.values()), {}
        for http in links:
            http.close()


def _status_summary(metrics: dict[str, Any]) -> str:
    """One line for ``fleetform status``: hash rate, pools alive, hottest PCB, fans."""
    pools = metrics.get("pools", [])
    alive = sum(1 for p in pools if p.get("status") == "Alive")
    configured = sum(1 for p in pools if p.get("url"))
    pcb = [c["pcb_temp"] for c in metrics.get("chains", []) if c.get("pcb_temp")]
    fans = [f["rpm"] for f in metrics.get("fans", [])]
    parts = [
        f"{metrics.get('hashrate_5s_ghs', 0):,.0f} GH/s 5s "
        f"(avg {metrics.get('hashrate_avg_ghs', 0):,.0f})",
        f"pools {alive}/{configured} alive",
    ]
    if pcb:
        parts.append(f"PCB max {max(pcb):.0f} °C")
    if fans:
        parts.append(f"{len(fans)} fans {min(fans)}-{max(fans)} rpm")
    return ", ".join(parts)
