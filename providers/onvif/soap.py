"""SOAP 1.2 envelopes for ONVIF: safe parsing, deterministic writing, typed faults.

Why hand-rolled on the standard library: the only XML needs are a tree and a
serializer that declares the ONVIF prefixes once on the envelope (fault codes
are QNames such as ``ter:InvalidArgVal`` and need their prefix in scope).
Parsing goes through expat directly so that any document type declaration is
refused outright: SOAP 1.2 forbids DTDs, so refusing them turns off entity
expansion (billion laughs) and external entities (network access) without an
extra dependency such as ``defusedxml``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from fleetform.errors import AuthError, DeviceError, DeviceRejected, ProtocolError

ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TR2 = "http://www.onvif.org/ver20/media/wsdl"
TIMG = "http://www.onvif.org/ver20/imaging/wsdl"
TT = "http://www.onvif.org/ver10/schema"
TER = "http://www.onvif.org/ver10/error"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: Prefixes declared on every envelope we write (the ones ONVIF documents use).
PREFIXES: dict[str, str] = {
    "env": ENV, "tds": TDS, "trt": TRT, "tr2": TR2, "timg": TIMG, "tt": TT, "ter": TER,
    "wsse": WSSE, "wsu": WSU,
}
#: The same map for ``Element.find`` paths such as ``"tt:Resolution/tt:Width"``.
NS: dict[str, str] = dict(PREFIXES)

CONTENT_TYPE = "application/soap+xml; charset=utf-8"


def q(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local`` (how ElementTree names elements)."""
    return f"{{{namespace}}}{local}"


def local_name(tag: str) -> str:
    """``{ns}Name`` → ``Name``."""
    return tag.rsplit("}", 1)[-1]


def node(tag: str, text: str | None = None, attrib: Mapping[str, str] | None = None,
         children: Iterable[ET.Element] = ()) -> ET.Element:
    """Build an element in one expression.

    Why: request bodies are small trees; building them inline keeps each ONVIF
    operation readable next to the specification's example.
    """
    element = ET.Element(tag, dict(attrib or {}))
    if text is not None:
        element.text = text
    element.extend(children)
    return element


def child(parent: ET.Element, tag: str, text: str | None = None,
          attrib: Mapping[str, str] | None = None) -> ET.Element:
    """Append and return a sub-element."""
    element = ET.SubElement(parent, tag, dict(attrib or {}))
    if text is not None:
        element.text = text
    return element


def ensure(parent: ET.Element, tag: str, before: Iterable[str] = ()) -> ET.Element:
    """The first ``tag`` child of ``parent``, created if missing.

    Why: read-modify-write must keep every element it does not manage, but the
    schema fixes element order; ``before`` lists the sibling tags the new
    element must precede, so a created element lands where the XSD wants it.
    """
    found = parent.find(tag)
    if found is not None:
        return found
    element = ET.Element(tag)
    stops = set(before)
    for index, existing in enumerate(list(parent)):
        if existing.tag in stops:
            parent.insert(index, element)
            return element
    parent.append(element)
    return element


def text_of(element: ET.Element | None, path: str, default: str | None = None) -> str | None:
    """Stripped text at ``path`` below ``element`` (prefixes from :data:`NS`)."""
    if element is None:
        return default
    found = element.find(path, NS)
    if found is None or found.text is None:
        return default
    return found.text.strip()


# --- parsing ---------------------------------------------------------------------------


class _SafeTreeBuilder:
    """Expat callbacks building an ElementTree, refusing DTDs and entities."""

    def __init__(self) -> None:
        self.builder = ET.TreeBuilder()

    @staticmethod
    def _name(raw: str) -> str:
        if " " in raw:
            namespace, local = raw.split(" ", 1)
            return q(namespace, local)
        return raw

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self.builder.start(self._name(name), {self._name(k): v for k, v in attributes.items()})

    def end(self, name: str) -> None:
        self.builder.end(self._name(name))

    def data(self, text: str) -> None:
        self.builder.data(text)

    @staticmethod
    def refuse(*_args: object) -> NoReturn:
        raise ValueError("document type declarations and entities are not allowed in SOAP")


def parse_xml(data: bytes) -> ET.Element:
    """Parse untrusted XML into an element tree with DTDs, entities and network off.

    Raises ``ValueError`` for anything that is not a plain, well-formed document.
    """
    handler = _SafeTreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = handler.refuse
    parser.EntityDeclHandler = handler.refuse
    parser.UnparsedEntityDeclHandler = handler.refuse
    parser.ExternalEntityRefHandler = handler.refuse
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
        return handler.builder.close()
    except expat.ExpatError as exc:
        raise ValueError(f"malformed XML: {exc}") from exc


@dataclass(frozen=True)
class Envelope:
    """A parsed SOAP message: its header blocks and the first body element."""

    header: ET.Element | None
    body: ET.Element


@dataclass(eq=False)
class SoapFault(Exception):
    """A SOAP 1.2 fault as the camera sent it.

    ``subcodes`` are local names (``InvalidArgVal``, ``NoConfig``) from the
    outermost to the innermost ``env:Subcode``.
    """

    code: str
    subcodes: tuple[str, ...]
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        codes = "/".join((self.code, *self.subcodes))
        return f"{codes}: {self.reason}" if self.reason else codes

    def has(self, subcode: str) -> bool:
        """True if ``subcode`` (a local name) appears anywhere in the fault code chain."""
        return subcode == self.code or subcode in self.subcodes


def parse_envelope(data: bytes) -> Envelope:
    """Parse a SOAP 1.2 response; raise :class:`SoapFault` for a fault body.

    Raises ``ValueError`` if it is not a SOAP 1.2 envelope.
    """
    root = parse_xml(data)
    if root.tag != q(ENV, "Envelope"):
        raise ValueError(f"not a SOAP 1.2 envelope (root element {local_name(root.tag)})")
    body = root.find(q(ENV, "Body"))
    if body is None:
        raise ValueError("SOAP envelope without a Body")
    first = next(iter(body), None)
    if first is None:
        raise ValueError("SOAP Body is empty")
    if first.tag == q(ENV, "Fault"):
        raise read_fault(first)
    return Envelope(header=root.find(q(ENV, "Header")), body=first)


def read_fault(fault: ET.Element) -> SoapFault:
    """Turn an ``env:Fault`` element into a :class:`SoapFault`."""
    code = fault.find("env:Code", NS)
    value = (text_of(code, "env:Value") or "").rsplit(":", 1)[-1]
    subcodes: list[str] = []
    level = code.find("env:Subcode", NS) if code is not None else None
    while level is not None:
        subcodes.append((text_of(level, "env:Value") or "").rsplit(":", 1)[-1])
        level = level.find("env:Subcode", NS)
    reason = text_of(fault, "env:Reason/env:Text") or ""
    detail_element = fault.find("env:Detail", NS)
    detail = " ".join(t.strip() for t in detail_element.itertext() if t.strip()) if (
        detail_element is not None) else ""
    return SoapFault(code=value, subcodes=tuple(subcodes), reason=reason, detail=detail)


# --- writing ---------------------------------------------------------------------------


class _Writer:
    """Serialise a tree with every namespace it uses declared once on the root."""

    def __init__(self, root: ET.Element) -> None:
        self.prefix_of = {uri: prefix for prefix, uri in PREFIXES.items()}
        self.prefix_of[XML_NS] = "xml"
        self.declare = {f"xmlns:{p}": uri for p, uri in PREFIXES.items()}
        for element in root.iter():
            for name in (element.tag, *element.attrib):
                if name.startswith("{"):
                    uri = name[1:].split("}", 1)[0]
                    if uri not in self.prefix_of:
                        prefix = f"ns{len(self.prefix_of)}"
                        self.prefix_of[uri] = prefix
                        self.declare[f"xmlns:{prefix}"] = uri
        self.parts: list[str] = []

    def name(self, tag: str) -> str:
        if not tag.startswith("{"):
            return tag
        uri, local = tag[1:].split("}", 1)
        return f"{self.prefix_of[uri]}:{local}"

    def write(self, element: ET.Element, root: bool = False) -> None:
        tag = self.name(element.tag)
        attrs = [f"{self.name(k)}={quoteattr(v)}" for k, v in element.attrib.items()]
        declared = [f"{k}={quoteattr(v)}" for k, v in self.declare.items()] if root else []
        opening = " ".join([tag, *declared, *attrs])
        text = escape(element.text) if element.text else ""
        if not text and len(element) == 0:
            self.parts.append(f"<{opening}/>")
        else:
            self.parts.append(f"<{opening}>{text}")
            for sub in element:
                self.write(sub)
                if sub.tail:
                    self.parts.append(escape(sub.tail))
            self.parts.append(f"</{tag}>")


def to_bytes(element: ET.Element) -> bytes:
    """UTF-8 XML for ``element`` with the ONVIF prefixes declared on it."""
    writer = _Writer(element)
    writer.write(element, root=True)
    return ('<?xml version="1.0" encoding="UTF-8"?>' + "".join(writer.parts)).encode("utf-8")


def build_envelope(body: ET.Element | None, header: Iterable[ET.Element] = ()) -> bytes:
    """A complete SOAP 1.2 envelope around ``body`` (an empty Body if None)."""
    envelope = ET.Element(q(ENV, "Envelope"))
    blocks = list(header)
    if blocks:
        node_header = child(envelope, q(ENV, "Header"))
        node_header.extend(blocks)
    body_node = child(envelope, q(ENV, "Body"))
    if body is not None:
        body_node.append(body)
    return to_bytes(envelope)


def build_fault(code: str, subcodes: Iterable[str], reason: str) -> bytes:
    """A fault envelope; ``code`` is Sender/Receiver, subcodes like ``ter:InvalidArgVal``."""
    fault = ET.Element(q(ENV, "Fault"))
    level = child(fault, q(ENV, "Code"))
    child(level, q(ENV, "Value"), f"env:{code}")
    for subcode in subcodes:
        level = child(level, q(ENV, "Subcode"))
        child(level, q(ENV, "Value"), subcode)
    reason_node = child(fault, q(ENV, "Reason"))
    child(reason_node, q(ENV, "Text"), reason, {q(XML_NS, "lang"): "en"})
    return build_envelope(fault)


# --- faults → fleetform errors ---------------------------------------------------------

#: ONVIF error subcode → (error class, what it means to the user). Checked in order.
FAULT_MEANINGS: tuple[tuple[str, type[DeviceError], str], ...] = (
    ("NotAuthorized", AuthError, "the ONVIF user is not allowed to do this (needs the "
     "Administrator level, or the password is wrong)"),
    ("ActionNotSupported", DeviceRejected, "the camera does not support this operation over "
     "ONVIF; manage it in the Ajax app"),
    ("MaxMasks", DeviceRejected, "the camera already holds its maximum number of privacy masks"),
    ("ConfigModify", DeviceRejected, "the camera refused to modify the configuration "
     "(the combination of values is not supported)"),
    ("InvalidArgVal", DeviceRejected, "the camera reports a value outside what it supports"),
    ("InvalidArgs", DeviceRejected, "the camera could not understand the request"),
    ("NoConfig", DeviceRejected, "the configuration token does not exist on the camera"),
    ("NoProfile", DeviceRejected, "the media profile does not exist on the camera"),
    ("NoSource", DeviceRejected, "the video source does not exist on the camera"),
)


def fault_error(fault: SoapFault, what: str) -> DeviceError:
    """The fleetform error for a fault, naming what was refused and why.

    ``what`` says what fleetform was doing in the user's words, e.g.
    ``"set video.main (SetVideoEncoderConfiguration)"``.
    """
    for subcode, error, meaning in FAULT_MEANINGS:
        if fault.has(subcode):
            detail = f": {fault.reason}" if fault.reason else ""
            return error(f"camera refused to {what}: {meaning} (ter:{subcode}{detail})")
    return ProtocolError(f"camera answered a SOAP fault to {what}: {fault}")
