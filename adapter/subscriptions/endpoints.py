"""Where a rest-hook may point: no server-side request forgery into the server's own network.

An endpoint is accepted when
- it is an absolute `https://` URL without user info or fragment (`http://` only for a host the
  operator listed exactly: a test receiver, a sidecar),
- its host matches DTHUB_SUBSCRIPTION_ALLOWED_HOSTS: an exact host (or IP literal), `*.domain`
  (any name below the domain, not the domain itself) or `*` (any host),
- and, unless the host is listed exactly, every address it resolves to is a global one (no
  loopback, private, link-local, shared, reserved or multicast address).
The same check runs when the Subscription is written and again before each notification, which
then connects to the address just checked (`Target.address`), so a DNS answer that changes in
between (DNS rebinding) cannot redirect it.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

# host, port -> the addresses it resolves to (socket.getaddrinfo by default; a test may pass another).
Resolver = Callable[[str, int], list[str]]


class EndpointRefused(ValueError):
    """The endpoint may not be used; the message says why (for an OperationOutcome or the error text)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str          # as in the URL (for Host, SNI and certificate checks)
    port: int
    address: str       # the checked address to connect to
    path: str          # path and query, as given


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise EndpointRefused(f"the endpoint host {host!r} does not resolve") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def listing(host: str, allowed: tuple[str, ...]) -> str | None:
    """'exact', 'wildcard' or None: how `host` matches the allow-list."""
    host = host.lower().rstrip(".")
    if host in allowed:
        return "exact"
    if "*" in allowed:
        return "wildcard"
    if not _is_ip(host) and any(a.startswith("*.") and host.endswith(a[1:]) and len(host) > len(a) - 1
                                for a in allowed):
        return "wildcard"
    return None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_endpoint(url: str, allowed: tuple[str, ...], resolve: Resolver = system_resolver) -> Target:
    """The target to connect to, or EndpointRefused."""
    if not allowed:
        raise EndpointRefused("subscriptions are not enabled on this server (no allowed endpoint hosts are configured)")
    if not isinstance(url, str) or any(c in url for c in "\r\n\t "):
        raise EndpointRefused("the endpoint must be an absolute URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointRefused(f"the endpoint is not a valid URL: {exc}") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("https", "http") or not host:
        raise EndpointRefused("the endpoint must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("the endpoint must not carry user information (send credentials in channel.header)")
    if parts.fragment:
        raise EndpointRefused("the endpoint must not have a fragment")
    how = listing(host, allowed)
    if how is None:
        raise EndpointRefused(f"the endpoint host {host!r} is not among the hosts this server may notify")
    if parts.scheme == "http" and how != "exact":
        raise EndpointRefused("the endpoint must use https (plain http only for hosts the operator listed exactly)")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = [host] if _is_ip(host) else resolve(host, port)
    if not addresses:
        raise EndpointRefused(f"the endpoint host {host!r} does not resolve")
    if how != "exact":
        hidden = [a for a in addresses if not _public(a)]
        if hidden:
            raise EndpointRefused(f"the endpoint host {host!r} resolves to a non-public address ({hidden[0]}); "
                                  "only hosts the operator listed exactly may be on a private network")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, addresses[0], path)
