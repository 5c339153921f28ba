"""One rest-hook request (R4 subscription.html#channels): an empty POST to the endpoint, or a PUT
of the resource to `[endpoint]/[type]/[id]`, sent to the address the endpoint check just resolved
(endpoints.Target), never following a redirect, with short timeouts and a bounded answer."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import urllib3

from .endpoints import Target

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "dthub-fhir-adapter rest-hook"


class DeliveryFailed(Exception):
    """The endpoint could not be reached or did not answer 2xx; the message is safe to store.
    `status`: the endpoint's answer, or None when there was none."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def resource_url(endpoint: str, resource_type: str, id_: str) -> str:
    """`[endpoint]/[type]/[id]`, keeping the endpoint's query after the new path."""
    parts = urlsplit(endpoint)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{resource_type}/{id_}"))


def _ca_certs() -> str | None:
    try:
        import certifi
    except ImportError:  # the system store then
        return None
    return certifi.where()


def send(target: Target, method: str, body: bytes | None, headers: dict[str, str], timeout: float) -> int:
    """The endpoint's HTTP status (2xx), or DeliveryFailed."""
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    all_headers = {"User-Agent": USER_AGENT, **headers, "Host": host_header}
    if body is None:
        all_headers["Content-Length"] = "0"
    timeouts = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target.address, target.port, timeout=timeouts, retries=False,
                                           server_hostname=target.host, assert_hostname=target.host,
                                           cert_reqs="CERT_REQUIRED", ca_certs=_ca_certs(), maxsize=1)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeouts, retries=False, maxsize=1)
    try:
        response = pool.urlopen(method, target.path, body=body or b"", headers=all_headers, redirect=False,
                                retries=False, assert_same_host=False, preload_content=False)
        try:
            response.read(MAX_ANSWER_BYTES)
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise DeliveryFailed(f"the endpoint could not be reached ({type(exc).__name__})") from None
    finally:
        pool.close()
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"the endpoint answered HTTP {response.status}", response.status)
    return response.status
