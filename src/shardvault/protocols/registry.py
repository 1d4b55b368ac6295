"""The threshold protocols the vault runs, and the scheme and curve of each.

One table for every layer: the API validates requests against it, the SDK and
CLI translate between Dfns's ``scheme``/``curve`` and our protocol names, the
coordinator and the signers dispatch on it.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ECDSA_PROTOCOL",
    "PROTOCOLS",
    "PROTOCOL_ALIASES",
    "REFRESH_PROTOCOLS",
    "canonical_protocol",
    "protocol_for_scheme",
    "scheme_for_protocol",
]

#: The threshold ECDSA protocol (CGGMP24 on secp256k1).
ECDSA_PROTOCOL = "CGGMP24"

#: (protocol, curve) -> scheme.
PROTOCOLS: Mapping[tuple[str, str], str] = {
    ("FROST", "ed25519"): "EdDSA",
    ("FROST_BITCOIN", "secp256k1"): "Schnorr",
    ("CGGMP24", "secp256k1"): "ECDSA",
}

#: Accepted spellings of a protocol name on import; keys are stored under the value.
PROTOCOL_ALIASES: Mapping[str, str] = {"CGGMP21": "CGGMP24"}


#: Key protocol -> the session protocol that refreshes its shares (the name in every
#: refresh message's header: ``protocols.cggmp.refresh.PROTOCOL``,
#: ``protocols.frost.refresh.PROTOCOL``), for the coordinator to route a refresh epoch.
REFRESH_PROTOCOLS: Mapping[str, str] = {
    "CGGMP24": "cggmp24/refresh",
    "FROST": "frost/refresh",
    "FROST_BITCOIN": "frost/refresh",
}


def canonical_protocol(protocol: str) -> str:
    """The protocol name keys are stored under (``CGGMP21`` is an alias of ``CGGMP24``)."""
    return PROTOCOL_ALIASES.get(protocol, protocol)


def scheme_for_protocol(protocol: str, curve: str) -> str | None:
    return PROTOCOLS.get((protocol, curve))


def protocol_for_scheme(scheme: str, curve: str) -> str | None:
    for (protocol, c), s in PROTOCOLS.items():
        if s == scheme and c == curve:
            return protocol
    return None
