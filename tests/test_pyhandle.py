"""The REST client enterprises already use (pyhandle) works against the node unchanged."""

from __future__ import annotations

import pytest
import requests
from pyhandle.client.resthandleclient import RESTHandleClient
from pyhandle.handleexceptions import (
    GenericHandleError,
    HandleAlreadyExistsException,
    HandleNotFoundException,
)

from tests.nodes import ENTERPRISES


@pytest.fixture(scope="module")
def client(shared_node):
    return RESTHandleClient.instantiate_with_username_and_password(
        shared_node.url, "300:0.NA/88.101.5", ENTERPRISES["88.101.5"], HTTPS_verify=False)


def test_register_retrieve_modify_delete(client, shared_node):
    handle = "88.101.5/PYH-0001"
    assert client.register_handle(handle, "https://example.com/motor/1", checksum="abc123") == handle
    record = client.retrieve_handle_record(handle)
    assert record["URL"] == "https://example.com/motor/1"
    assert record["CHECKSUM"] == "abc123"

    with pytest.raises(HandleAlreadyExistsException):
        client.register_handle(handle, "https://example.com/other")

    client.modify_handle_value(handle, URL="https://example.com/motor/1-v2", BATCH="B-77")
    record = client.retrieve_handle_record(handle)
    assert record["URL"] == "https://example.com/motor/1-v2"
    assert record["BATCH"] == "B-77"

    client.delete_handle_value(handle, "CHECKSUM")
    record = client.retrieve_handle_record(handle)
    assert "CHECKSUM" not in record and record["BATCH"] == "B-77"

    # What pyhandle wrote is what a plain REST read sees, HS_ADMIN included.
    body = requests.get(shared_node.api(handle)).json()
    admin = [v for v in body["values"] if v["type"] == "HS_ADMIN"]
    assert admin and admin[0]["data"]["value"]["handle"] == "0.NA/88.101.5"

    client.delete_handle(handle)
    assert client.retrieve_handle_record(handle) is None
    assert requests.get(shared_node.api(handle)).status_code == 404


def test_generate_and_register(client, shared_node):
    handle = client.generate_and_register_handle("88.101.5", "https://example.com/gen")
    assert handle.startswith("88.101.5/") and len(handle) > len("88.101.5/")
    assert client.retrieve_handle_record(handle)["URL"] == "https://example.com/gen"
    client.delete_handle(handle)


def test_other_enterprise_cannot_write_here(shared_node):
    other = RESTHandleClient.instantiate_with_username_and_password(
        shared_node.url, "300:0.NA/88.101.6", ENTERPRISES["88.101.6"], HTTPS_verify=False)
    # pyhandle writes HS_ADMIN pointing at 0.NA/88.101.5 (the handle's own prefix): that must not help.
    with pytest.raises(GenericHandleError) as err:
        other.register_handle("88.101.5/PYH-INTRUDER", "https://evil.example.com")
    assert "HTTP Status Code: 403" in str(err.value)
    assert '"responseCode":400' in str(err.value) and "may not create" in str(err.value)
    assert requests.get(shared_node.api("88.101.5/PYH-INTRUDER")).status_code == 404


def test_unknown_username_is_refused(shared_node):
    with pytest.raises(HandleNotFoundException):
        RESTHandleClient.instantiate_with_username_and_password(
            shared_node.url, "300:0.NA/88.101.99", "whatever-secret", HTTPS_verify=False)
