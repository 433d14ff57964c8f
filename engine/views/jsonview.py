"""JSON rendering: versioned documents, each with a ``type``.

Why: pipelines parse fleetform's output; every document names its ``type``
and ``format_version`` (see README, "JSON output") so consumers can check
what they read. Secrets are absent by construction in plans; here state
hashes are masked as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fleetform.plan import to_plain
from fleetform.provider import DeviceRecord
from fleetform.secrets import is_secret_hash

STATE_VIEW_FORMAT_VERSION = "1.0"


def dumps(document: dict[str, Any]) -> str:
    """Serialise a document deterministically (sorted keys, 2-space indent)."""
    return json.dumps(to_plain(document), indent=2, sort_keys=True, ensure_ascii=False)


def record_json(record: DeviceRecord) -> dict[str, Any]:
    """One state record with secret hashes masked."""
    return {
        "name": record.name,
        "provider": record.provider,
        "address": record.address,
        "identity": dict(record.identity),
        "tracked": {
            k: "(sensitive)" if is_secret_hash(v) else v for k, v in record.tracked.items()
        },
        "updated_at": record.updated_at,
        "fingerprint": record.fingerprint,
    }


def state_document(
    records: Iterable[DeviceRecord], *, serial: int, lineage: str, source: str
) -> dict[str, Any]:
    """The ``type: state`` document printed by ``fleetform show --json``."""
    return {
        "type": "state",
        "format_version": STATE_VIEW_FORMAT_VERSION,
        "source": source,
        "serial": serial,
        "lineage": lineage,
        "devices": [record_json(r) for r in records],
    }
