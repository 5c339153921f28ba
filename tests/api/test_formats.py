"""JSON and XML in and out, by Accept, Content-Type and _format; XML parsed safely."""
from __future__ import annotations

import pytest

from adapter.formats.xml import parse_xml, to_xml
from tests.examples import writable_examples
from tests.helpers import FHIR_JSON, FHIR_XML, organization, put_json


@pytest.mark.parametrize("accept", [FHIR_XML, "application/xml", "text/xml", f"{FHIR_XML}; fhirVersion=4.0"])
def test_accept_selects_xml(client, accept):
    put_json(client, "/fhir/Organization/A81001", organization())
    response = client.get("/fhir/Organization/A81001", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(FHIR_XML)
    assert parse_xml(response.data)["name"] == "THE DENSHAM SURGERY"


@pytest.mark.parametrize("fmt", ["xml", "application/fhir+xml", "application/xml", "text/xml",
                                 "application/fhir xml"])
def test_format_parameter_overrides_accept(client, fmt):
    response = client.get(f"/fhir/metadata?_format={fmt}", headers={"Accept": FHIR_JSON})
    assert response.headers["Content-Type"].startswith(FHIR_XML)
    assert response.data.lstrip().startswith(b"<?xml")


@pytest.mark.parametrize("fmt", ["json", "application/fhir+json", "application/json"])
def test_format_parameter_selects_json(client, fmt):
    response = client.get(f"/fhir/metadata?_format={fmt}", headers={"Accept": FHIR_XML})
    assert response.get_json()["resourceType"] == "CapabilityStatement"


def test_no_preference_and_wildcards_mean_json(client):
    assert client.get("/fhir/metadata").headers["Content-Type"].startswith(FHIR_JSON)
    assert client.get("/fhir/metadata", headers={"Accept": "*/*"}).headers["Content-Type"].startswith(FHIR_JSON)
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert client.get("/fhir/metadata", headers={"Accept": browser}).headers["Content-Type"].startswith(FHIR_XML)


def test_xml_body_is_accepted_for_create_and_update(client):
    xml = to_xml(organization())
    response = client.put("/fhir/Organization/A81001", data=xml, headers={"Content-Type": FHIR_XML, "Accept": FHIR_XML})
    assert response.status_code == 201
    assert parse_xml(response.data)["meta"]["versionId"] == "1"
    json_view = client.get("/fhir/Organization/A81001").get_json()
    assert json_view["identifier"] == organization()["identifier"]
    plain_xml = client.put("/fhir/Organization/A81001", data=to_xml(organization(name="NEW")),
                           headers={"Content-Type": "application/xml"})
    assert plain_xml.status_code == 200


@pytest.mark.parametrize("resource_type", list(writable_examples()))
def test_json_and_xml_of_one_resource_round_trip_to_the_same_content(client, resource_type):
    example = writable_examples()[resource_type]
    path = f"/fhir/{resource_type}/{example['id']}"
    assert put_json(client, path, example).status_code == 201
    as_json = client.get(path).get_json()
    as_xml = client.get(path, headers={"Accept": FHIR_XML}).data
    assert parse_xml(as_xml) == as_json
    again = client.put(path, data=as_xml, headers={"Content-Type": FHIR_XML})
    assert again.status_code == 200 and again.headers["ETag"] == 'W/"1"'  # same content: no new version


def test_pretty_output_is_indented(client):
    assert b"\n  " in client.get("/fhir/metadata?_pretty=true").data
    assert b"\n" not in client.get("/fhir/metadata").data.strip()
    assert b"\n " in client.get("/fhir/metadata?_format=xml&_pretty=true").data


def test_xml_with_a_doctype_is_refused_and_entities_never_resolve(client):
    hostile = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<Organization xmlns="http://hl7.org/fhir"><id value="A81001"/><name value="&x;"/></Organization>')
    response = client.put("/fhir/Organization/A81001", data=hostile, headers={"Content-Type": FHIR_XML})
    assert response.status_code == 400
    assert b"root:" not in response.data
    assert client.get("/fhir/Organization/A81001").status_code == 404


def test_billion_laughs_is_refused(client):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<Organization xmlns="http://hl7.org/fhir"><name value="&lol2;"/></Organization>')
    assert client.post("/fhir/Organization", data=bomb, headers={"Content-Type": FHIR_XML}).status_code == 400


def test_malformed_xml_is_400_structure(client):
    response = client.post("/fhir/Organization", data=b"<Organization xmlns='http://hl7.org/fhir'><name",
                           headers={"Content-Type": FHIR_XML})
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["code"] == "structure"


def test_fhir_version_parameter_for_another_version_is_refused(client):
    response = client.put("/fhir/Organization/A81001", data=b"{}",
                          headers={"Content-Type": "application/fhir+json; fhirVersion=5.0"})
    assert response.status_code == 415
