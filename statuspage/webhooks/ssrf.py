"""Where a webhook may go: URL rules and the addresses actually connected to (SSRF safety).

Lessons from GitLab, Mastodon and Sentry: check the address the connection really uses, not
the name in the URL. At every delivery the host is resolved, the attempt is refused if *any*
address is forbidden, and the request connects to the checked address itself (the URL keeps
the hostname for ``Host`` and TLS SNI/certificate checks), so a DNS answer that changes between
check and connect (rebinding) cannot reach an inside address. Resolution failure refuses (fail
closed). Redirects are never followed.

Forbidden: anything Python's ``ipaddress`` does not call global (loopback, private, link-local
incl. 169.254.169.254 cloud metadata, shared 100.64/10, unspecified, reserved, documentation),
multicast, and IPv6 forms that embed such an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64,
Teredo). Decimal and octal IPv4 spellings (``2130706433``, ``0177.0.0.1``) resolve to what they
mean and are judged by that. ``allow_private`` (a setting for tests and the local demo) allows
plain ``http`` and every address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

__all__ = [
    "MAX_URL",
    "Target",
    "UrlRefused",
    "address_allowed",
    "check_url",
    "resolve_checked",
]

MAX_URL = 2000
_LEGACY_V4 = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ValueError):
    """A URL or address that webhooks may not use; the message is fit for the subscriber."""


@dataclass(frozen=True)
class Target:
    """A checked URL: scheme, host (as written, lowercased), port and the endpoint key."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        """``scheme://host:port``, the key of per-endpoint limits and back-off."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def check_url(url: str, *, allow_private: bool) -> Target:
    """Parse and check a subscriber's URL (syntax, scheme, literal addresses)."""
    url = url.strip()
    if not url:
        raise UrlRefused("URL wajib diisi / URL is required.")
    if len(url) > MAX_URL or any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UrlRefused("URL terlalu panjang atau memuat karakter kontrol / URL too long or "
                         "contains control characters or spaces.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlRefused("URL tidak valid / Invalid URL.") from exc
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in allowed_schemes:
        raise UrlRefused("URL harus https:// / The URL must use https://.")
    if not parsed.host:
        raise UrlRefused("URL tanpa nama host / The URL has no host.")
    if parsed.userinfo:
        raise UrlRefused("URL tidak boleh memuat nama pengguna atau kata sandi / The URL must "
                         "not contain credentials.")
    if parsed.fragment:
        raise UrlRefused("URL tidak boleh memuat fragmen (#) / The URL must not contain a "
                         "fragment.")
    host = parsed.host.lower().rstrip(".")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _literal(host)
    if literal is not None and not allow_private and not address_allowed(literal):
        raise UrlRefused(_forbidden(literal))
    return Target(str(parsed), parsed.scheme, host, port)


def _literal(host: str) -> IPAddress | None:
    """The address a host names by itself, including the legacy IPv4 spellings that
    ``inet_aton`` (and so the resolver) accepts: ``2130706433``, ``0177.0.0.1``, ``0x7f.1``."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _LEGACY_V4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_allowed(ip: IPAddress) -> bool:
    """Whether a webhook may connect to ``ip`` (public unicast only)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded(ip)
        if inner is not None:
            return address_allowed(inner)
    if ip.is_multicast or ip in _SHARED:
        return False
    return bool(ip.is_global)


def _forbidden(ip: IPAddress) -> str:
    return (f"Alamat {ip} tidak diizinkan (jaringan internal, loopback, atau metadata) / "
            f"Address {ip} is not allowed (internal, loopback or metadata network).")


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Every address ``host`` resolves to, refused if any is forbidden or none resolves."""
    literal = _literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5.0)
        except (OSError, TimeoutError) as exc:
            raise UrlRefused(f"Nama host {host} tidak dapat di-resolve / Host {host} does not "
                             "resolve.") from exc
        seen: dict[str, IPAddress] = {}
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]
            seen.setdefault(text, ipaddress.ip_address(text))
        addresses = list(seen.values())
    if not addresses:
        raise UrlRefused(f"Nama host {host} tidak memiliki alamat / Host {host} has no address.")
    if not allow_private:
        for ip in addresses:
            if not address_allowed(ip):
                raise UrlRefused(_forbidden(ip))
    return addresses

