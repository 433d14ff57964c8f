"""A small synchronous ONVIF SOAP client on ``requests``.

Why not zeep: fleetform needs about thirty operations, read-modify-write that
keeps elements it does not understand (zeep re-serialises from its own
objects and drops unknown content), precise fault mapping, and request
counting; a thin client over :mod:`soap` and :mod:`auth` does exactly that.

Retries (:data:`REPEATABLE`): every Get, and every Set of absolute values,
leaves the camera in the same state however often it runs, so it is sent
again after a dropped connection, a timeout or an empty/garbled reply
(:data:`RETRIES`: three tries, backoff 0.2 s → 0.4 s, bounded by the
deadline). Operations that create, delete, reboot or move the camera
(:data:`NOT_REPEATABLE`) are sent once: a lost reply fails the step, and the
next apply re-reads what the camera holds. Faults and authentication
failures are never retried.

Authentication: the first authenticated request goes out with HTTP Digest
(what current ONVIF Core asks for). If the camera does not offer Digest (a
401 without a Digest challenge, or a ``ter:NotAuthorized`` fault to a request
that carried no credentials), the client switches to WS-UsernameToken for
the rest of its life. A request never carries both. The UsernameToken's
``Created`` is corrected by the clock skew measured from the unauthenticated
``GetSystemDateAndTime``.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from typing import Literal
from urllib.parse import urlsplit

import requests

from fleetform.device import Deadline
from fleetform.errors import (
    AuthError,
    DeviceError,
    DeviceTimeout,
    DeviceUnreachable,
    GarbledReply,
    ProtocolError,
    TransportError,
)
from fleetform.providers.onvif.auth import ClockSkew, UsernameToken, http_digest
from fleetform.providers.onvif.soap import (
    CONTENT_TYPE,
    NS,
    TDS,
    TIMG,
    TR2,
    TRT,
    SoapFault,
    build_envelope,
    fault_error,
    local_name,
    node,
    parse_envelope,
    q,
)
from fleetform.retry import RetryPolicy, is_transient, retry_call

Scheme = Literal["unknown", "digest", "token"]
SERVICES: dict[str, str] = {"device": TDS, "media": TRT, "media2": TR2, "imaging": TIMG}
DEVICE_PATH = "/onvif/device_service"
#: Operations whose effect is not the same when run twice: never sent again.
NOT_REPEATABLE: frozenset[str] = frozenset({
    "CreateOSD", "CreateMask", "DeleteOSD", "DeleteMask", "SystemReboot",
    "SetNetworkInterfaces",
})
RETRIES = RetryPolicy(attempts=3, base_delay=0.2, max_delay=2.0, jitter=0.1)


def repeatable(operation: str) -> bool:
    """True for Gets and absolute Sets (see :data:`NOT_REPEATABLE`)."""
    return operation not in NOT_REPEATABLE


class OnvifClient:
    """One camera's ONVIF endpoint: transport, authentication, service discovery.

    Not thread-safe on purpose: the engine drives one device from one thread
    at a time; the provider keeps one client per device.
    """

    def __init__(self, host: str, port: int, username: str, password: str,
                 timeout: float) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.timeout = timeout
        self.scheme: Scheme = "unknown"
        self.skew = ClockSkew()
        self.paths: dict[str, str] = {}
        self.requests = 0
        self.authenticated = False
        self._session = requests.Session()
        self._digest = http_digest(username, password)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    # --- transport ---------------------------------------------------------------------

    def _post(self, service: str, payload: bytes, deadline: Deadline,
              auth: requests.auth.AuthBase | None) -> requests.Response:
        path = self.paths.get(service, DEVICE_PATH if service == "device" else "")
        if not path:
            raise ProtocolError(f"the camera does not offer the ONVIF {service} service "
                                f"({SERVICES[service]})")
        url = f"http://{self.host}:{self.port}{path}"
        try:
            response = self._session.post(
                url, data=payload, auth=auth, timeout=deadline.timeout(self.timeout),
                headers={"Content-Type": CONTENT_TYPE},
            )
        except requests.Timeout as exc:
            raise DeviceTimeout(f"no answer from {self.host}:{self.port} within "
                                f"{self.timeout:g}s") from exc
        except requests.ConnectionError as exc:
            raise DeviceUnreachable(f"cannot connect to {self.host}:{self.port}: "
                                    f"{_reason(exc)}") from exc
        except requests.RequestException as exc:
            raise TransportError(f"HTTP request to {self.host}:{self.port} failed: "
                                 f"{_reason(exc)}") from exc
        self.requests += 1 + len(response.history)
        return response

    @staticmethod
    def _outcome(response: requests.Response) -> ET.Element | SoapFault:
        try:
            return parse_envelope(response.content).body
        except SoapFault as fault:
            return fault
        except ValueError as exc:
            if response.status_code == 401:
                raise AuthError("the camera asks for a login (HTTP 401) for an operation "
                                "ONVIF allows without one") from exc
            if response.status_code != 200:
                raise GarbledReply(f"camera answered HTTP {response.status_code} "
                                   "without a SOAP fault") from exc
            if not response.content.strip():
                raise GarbledReply("camera answered an empty reply") from exc
            raise GarbledReply(f"camera answered something that is not SOAP: {exc}") from exc

    def call(self, service: str, body: ET.Element, deadline: Deadline, what: str,
             *, auth: bool = True) -> ET.Element:
        """Send one operation and return the response body element.

        ``what`` names, in the user's words, what this request is for; every
        error says it (``camera refused to set video.main (...): ...``).
        """
        operation = local_name(body.tag)
        if not repeatable(operation):
            return self._call_once(service, body, deadline, what, auth=auth)
        return retry_call(lambda: self._call_once(service, body, deadline, what, auth=auth),
                          deadline=deadline, policy=RETRIES, retryable=is_transient)

    def _call_once(self, service: str, body: ET.Element, deadline: Deadline, what: str,
                   *, auth: bool) -> ET.Element:
        label = f"{what} ({local_name(body.tag)})"
        if not auth:
            outcome = self._outcome(self._post(service, build_envelope(body), deadline, None))
        else:
            outcome = self._authenticated(service, body, deadline, label)
        if isinstance(outcome, SoapFault):
            if outcome.has("NotAuthorized") and auth and not self.authenticated:
                raise AuthError(self._wrong_password())
            raise fault_error(outcome, label)
        if auth:
            self.authenticated = True
        return outcome

    def _authenticated(self, service: str, body: ET.Element, deadline: Deadline,
                       label: str) -> ET.Element | SoapFault:
        if self.scheme in ("unknown", "digest"):
            response = self._post(service, build_envelope(body), deadline, self._digest)
            answered = "Authorization" in response.request.headers
            if response.status_code == 401:
                offered = "digest" in response.headers.get("WWW-Authenticate", "").lower()
                if answered or (offered and self.scheme == "digest"):
                    raise AuthError(self._wrong_password())
                if self.scheme == "digest":
                    raise AuthError(f"camera refused HTTP Digest credentials for {label}")
                self.scheme = "token"
            else:
                outcome = self._outcome(response)
                if isinstance(outcome, SoapFault) and outcome.has("NotAuthorized") and (
                        not answered and self.scheme == "unknown"):
                    self.scheme = "token"
                else:
                    if answered:
                        self.scheme = "digest"
                    return outcome
        token = UsernameToken.create(self.username, self._password, self.skew.camera_now())
        payload = build_envelope(body, [token.header()])
        response = self._post(service, payload, deadline, None)
        if response.status_code == 401:
            raise AuthError(self._wrong_password())
        return self._outcome(response)

    def _wrong_password(self) -> str:
        scheme = {"digest": "HTTP Digest", "token": "WS-UsernameToken"}.get(self.scheme, "ONVIF")
        return (f"wrong username or password: the camera refused ONVIF user "
                f"'{self.username}' ({scheme}); check connection.username/password and that "
                "ONVIF is enabled for this user in the Ajax app")

    # --- discovery ---------------------------------------------------------------------

    def connect(self, deadline: Deadline) -> ET.Element:
        """Measure clock skew and discover service addresses; return SystemDateAndTime.

        Why both here: ``GetSystemDateAndTime`` and ``GetServices`` need no
        authentication, so they work before we know which scheme the camera
        wants, and the date reply also carries the time zone the plan reads.
        """
        reply = self.call("device", node(q(TDS, "GetSystemDateAndTime")), deadline,
                          "read the camera clock", auth=False)
        info = reply.find("tds:SystemDateAndTime", NS)
        self._measure(info)
        request = node(q(TDS, "GetServices"), children=[node(q(TDS, "IncludeCapability"),
                                                              "false")])
        try:
            services = self.call("device", request, deadline, "discover services", auth=False)
        except AuthError:
            services = self.call("device", request, deadline, "discover services")
        for service in services.findall("tds:Service", NS):
            namespace = (service.findtext("tds:Namespace", "", NS) or "").strip()
            xaddr = (service.findtext("tds:XAddr", "", NS) or "").strip()
            for key, known in SERVICES.items():
                if namespace == known and xaddr:
                    # Keep only the path: cameras behind NAT advertise addresses we cannot use.
                    parts = urlsplit(xaddr)
                    self.paths[key] = parts.path + (f"?{parts.query}" if parts.query else "")
        self.paths.setdefault("device", DEVICE_PATH)
        if info is None:
            raise ProtocolError("GetSystemDateAndTime answered without SystemDateAndTime")
        return info

    def _measure(self, info: ET.Element | None) -> None:
        from fleetform.providers.onvif.mapping import camera_utc

        moment = camera_utc(info)
        if moment is not None:
            self.skew.measure(moment)


def _reason(exc: Exception) -> str:
    """The innermost readable cause of a requests exception (no URLs with secrets)."""
    text = str(exc.__context__ or exc)
    return text.split(": ", 1)[-1][:200] if text else type(exc).__name__


def renamed(element: ET.Element, tag: str) -> ET.Element:
    """A deep copy of ``element`` under another tag.

    Why: Get answers ``tr2:Configurations``, Set takes ``tr2:Configuration``.
    """
    out = copy.deepcopy(element)
    out.tag = tag
    return out


def wrap(error: DeviceError, prefix: str) -> DeviceError:
    """Prefix a device error's message (keeps its class)."""
    error.message = f"{prefix}: {error.message}"
    error.args = (error.message,)
    return error
