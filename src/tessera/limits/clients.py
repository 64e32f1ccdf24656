"""Whom a per-client limit counts. An IPv6 host is usually given a whole /64 and can pick a
new address in it for every request, so counting by address would hand it 2^64 budgets: IPv6
clients are counted by their /64 (and IPv4-mapped IPv6 addresses as the IPv4 address)."""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def client_key(ip: str | None) -> str:
    """The IPv4 address, or the IPv6 /64 it lies in; "unknown" without an address."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)
