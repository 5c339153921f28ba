"""Which format a request speaks and which one its answer should use (FHIR R4 http.html#mime)."""
from __future__ import annotations

from dataclasses import dataclass

from ..outcomes import error

JSON = "json"
XML = "xml"

MIME = {JSON: "application/fhir+json", XML: "application/fhir+xml"}

_BY_MIME = {
    "application/fhir+json": JSON, "application/json": JSON, "application/json+fhir": JSON,
    "application/fhir+xml": XML, "application/xml": XML, "text/xml": XML, "application/xml+fhir": XML,
}
_BY_FORMAT_WORD = {"json": JSON, "xml": XML}
_WILDCARDS = {"*/*", "application/*"}


@dataclass(frozen=True)
class MediaRange:
    mime: str
    params: dict
    q: float


def _parse_media(item: str) -> MediaRange:
    parts = [p.strip() for p in item.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    try:
        q = float(params.pop("q", "1"))
    except ValueError:
        q = 0.0
    return MediaRange(parts[0].lower(), params, q)


def _fhir_version_ok(params: dict) -> bool:
    version = params.get("fhirversion")
    return version is None or version in ("4.0", "4.0.1")


def format_of_word(word: str) -> str | None:
    word = word.strip()
    if word.lower() in _BY_FORMAT_WORD:
        return _BY_FORMAT_WORD[word.lower()]
    media = _parse_media(word.replace(" ", "+"))  # '+' in a query string may arrive as a space
    return _BY_MIME.get(media.mime) if _fhir_version_ok(media.params) else None


def response_format(format_param: str | None, accept: str | None) -> str:
    """`_format` wins over Accept; no preference means JSON. Nothing acceptable is a 406."""
    if format_param:
        chosen = format_of_word(format_param)
        if chosen is None:
            raise error(406, "not-supported", f"_format {format_param!r} is not supported; use json or xml")
        return chosen
    if not accept or not accept.strip():
        return JSON
    ranges = sorted((_parse_media(a) for a in accept.split(",") if a.strip()), key=lambda m: -m.q)
    for media in ranges:
        if media.q <= 0 or not _fhir_version_ok(media.params):
            continue
        if media.mime in _BY_MIME:
            return _BY_MIME[media.mime]
        if media.mime in _WILDCARDS or media.mime == "text/*":
            return XML if media.mime == "text/*" else JSON
    raise error(406, "not-supported", f"None of the accepted types ({accept}) is supported; "
                "use application/fhir+json or application/fhir+xml")


def request_format(content_type: str | None) -> str:
    if not content_type:
        raise error(415, "not-supported", "A body needs a Content-Type: application/fhir+json or application/fhir+xml")
    media = _parse_media(content_type)
    chosen = _BY_MIME.get(media.mime)
    if chosen is None or not _fhir_version_ok(media.params):
        raise error(415, "not-supported", f"Content-Type {content_type!r} is not supported; "
                    "use application/fhir+json or application/fhir+xml")
    return chosen
