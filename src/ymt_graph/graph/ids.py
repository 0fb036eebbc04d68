"""Opaque Relay global ids: base64url("Type:pk") without padding."""

from __future__ import annotations

import base64
import binascii


def encode_gid(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).rstrip(b"=").decode()


MAX_BIGINT = 2**63 - 1


def decode_gid(gid: str) -> tuple[str, int] | None:
    """(type name, pk), or None when the id is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        if not type_name or not pk.isdigit() or int(pk) > MAX_BIGINT:
            return None  # past a bigint: no row has it (and PostgreSQL would refuse the number)
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
