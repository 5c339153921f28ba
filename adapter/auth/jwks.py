"""Client public keys: a registered JWKS, or one fetched from the client's JWKS URL (cached, fail closed)."""
from __future__ import annotations

import threading
import time
from urllib.parse import urljoin, urlsplit

import orjson
import requests

from .clients import ClientRecord, check_jwks


class JwksUnavailable(Exception):
    pass


class JwksFetcher:
    def __init__(self, *, timeout: float = 3.0, max_bytes: int = 64 * 1024, ttl: float = 300.0,
                 max_redirects: int = 3):
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._ttl = ttl
        self._max_redirects = max_redirects
        self._cache: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> dict:
        with self._lock:
            hit = self._cache.get(url)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        jwks = self._fetch(url)
        with self._lock:
            self._cache[url] = (time.monotonic() + self._ttl, jwks)
        return jwks

    def _fetch(self, url: str) -> dict:
        host = urlsplit(url).netloc
        try:
            for _ in range(self._max_redirects + 1):
                with requests.get(url, timeout=self._timeout, allow_redirects=False, stream=True) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("Location", ""))
                        if urlsplit(target).netloc != host:  # never follow a key set onto another host
                            raise JwksUnavailable("JWKS redirect to another host refused")
                        url = target
                        continue
                    response.raise_for_status()
                    body = b""
                    for chunk in response.iter_content(8192):
                        body += chunk
                        if len(body) > self._max_bytes:
                            raise JwksUnavailable("JWKS larger than the size cap")
                    return check_jwks(orjson.loads(body))
            raise JwksUnavailable("too many JWKS redirects")
        except JwksUnavailable:
            raise
        except Exception as exc:  # network, HTTP status, JSON, shape: all mean "no keys", fail closed
            raise JwksUnavailable(f"JWKS at {url} unavailable: {exc.__class__.__name__}") from None


def client_keys(record: ClientRecord, fetcher: JwksFetcher) -> list[dict]:
    if record.jwks:
        return list(record.jwks["keys"])
    if record.jwks_url:
        return list(fetcher.get(record.jwks_url)["keys"])
    return []


_KTY_FOR_ALG = {"RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "PS384": "RSA", "PS512": "RSA",
                "ES256": "EC", "ES384": "EC", "ES512": "EC"}
_CURVE_FOR_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def select_key(keys: list[dict], kid: str | None, alg: str) -> dict | None:
    """The one key with this kid whose type fits the algorithm; None when zero or several match."""
    if not kid:
        return None
    matches = [k for k in keys if k.get("kid") == kid]
    if len(matches) != 1:
        return None
    key = matches[0]
    if key.get("kty") != _KTY_FOR_ALG.get(alg):
        return None
    if alg in _CURVE_FOR_ALG and key.get("crv") != _CURVE_FOR_ALG[alg]:
        return None
    if key.get("alg") and key["alg"] != alg:
        return None
    if key.get("use") and key["use"] != "sig":
        return None
    return key
