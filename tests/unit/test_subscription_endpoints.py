"""Where a rest-hook may point (adapter.subscriptions.endpoints), with a resolver the test controls:
allow-list matching, non-public addresses, and DNS answers that change between checks."""
from __future__ import annotations

import pytest

from adapter.subscriptions.delivery import resource_url
from adapter.subscriptions.endpoints import EndpointRefused, check_endpoint, listing


def resolver(answers: dict[str, list[str]]):
    def resolve(host, port):
        if host not in answers:
            raise EndpointRefused(f"the endpoint host {host!r} does not resolve")
        return answers[host]
    return resolve


PUBLIC = resolver({"hooks.ics.example.org": ["93.184.216.34"], "ics.example.org": ["93.184.216.34"],
                   "rebind.ics.example.org": ["10.0.0.7"], "mixed.ics.example.org": ["93.184.216.34", "127.0.0.1"],
                   "v6.ics.example.org": ["::ffff:192.168.1.10"], "sidecar": ["10.0.0.9"]})


@pytest.mark.parametrize("host, allowed, how", [
    ("hooks.ics.example.org", ("*.ics.example.org",), "wildcard"),
    ("a.b.ics.example.org", ("*.ics.example.org",), "wildcard"),
    ("ics.example.org", ("*.ics.example.org",), None),          # the domain itself is not below it
    ("evilics.example.org", ("*.ics.example.org",), None),
    ("HOOKS.ICS.EXAMPLE.ORG.", ("hooks.ics.example.org",), "exact"),
    ("10.0.0.1", ("*.example.org",), None),                      # an IP literal matches only itself
    ("10.0.0.1", ("10.0.0.1",), "exact"),
    ("anything.example.net", ("*",), "wildcard"),
])
def test_allow_list_matching(host, allowed, how):
    assert listing(host, allowed) == how


def test_a_wildcard_host_must_resolve_to_public_addresses_only():
    allowed = ("*.ics.example.org",)
    target = check_endpoint("https://hooks.ics.example.org/fhir/hook?k=v", allowed, PUBLIC)
    assert (target.address, target.port, target.path, target.host) == ("93.184.216.34", 443, "/fhir/hook?k=v",
                                                                         "hooks.ics.example.org")
    for host in ("rebind", "mixed", "v6"):
        with pytest.raises(EndpointRefused, match="non-public address"):
            check_endpoint(f"https://{host}.ics.example.org/hook", allowed, PUBLIC)


def test_dns_rebinding_between_subscription_and_delivery_is_caught_at_delivery():
    allowed = ("*.ics.example.org",)
    answers = {"hooks.ics.example.org": ["93.184.216.34"]}
    assert check_endpoint("https://hooks.ics.example.org/h", allowed, resolver(answers)).address == "93.184.216.34"
    answers["hooks.ics.example.org"] = ["169.254.169.254"]
    with pytest.raises(EndpointRefused, match="non-public"):
        check_endpoint("https://hooks.ics.example.org/h", allowed, resolver(answers))


def test_an_exactly_listed_host_may_be_private_and_may_use_http():
    target = check_endpoint("http://sidecar:8080/hook", ("sidecar",), PUBLIC)
    assert (target.scheme, target.address, target.port) == ("http", "10.0.0.9", 8080)
    with pytest.raises(EndpointRefused, match="must use https"):
        check_endpoint("http://hooks.ics.example.org/hook", ("*.ics.example.org",), PUBLIC)


def test_nothing_is_allowed_without_an_allow_list():
    with pytest.raises(EndpointRefused, match="not enabled"):
        check_endpoint("https://hooks.ics.example.org/hook", (), PUBLIC)


def test_the_payload_url_keeps_the_endpoint_query_after_the_resource_path():
    assert resource_url("https://h.example.org/fhir/?k=v", "Task", "A-1") == "https://h.example.org/fhir/Task/A-1?k=v"
    assert resource_url("https://h.example.org", "Task", "A-1") == "https://h.example.org/Task/A-1"
