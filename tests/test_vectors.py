"""The shared protocol vectors agree with the contract, checked with the standard library alone."""

import hashlib
import hmac
import json
from typing import Any


def test_node_key_and_key_id_follow_the_contract(vectors: dict[str, Any]) -> None:
    keys = vectors["keys"]
    fleet_key = bytes.fromhex(keys["fleet_key"])
    node_key = hmac.new(fleet_key, keys["node_id"].encode(), hashlib.sha256).digest()
    assert node_key.hex() == keys["node_key"]
    assert hashlib.sha256(node_key).hexdigest()[:8] == keys["key_id"]


def test_signed_payloads_are_hmac_of_topic_and_body(vectors: dict[str, Any]) -> None:
    node_key = bytes.fromhex(vectors["keys"]["node_key"])
    for message in vectors["signed"]:
        digest = hmac.new(
            node_key, f"{message['topic']}\n{message['body']}".encode(), hashlib.sha256
        ).hexdigest()
        assert message["signature"] == digest
        assert message["payload"] == f"{digest} {message['body']}"
        assert isinstance(json.loads(message["body"])["n"], int)


def test_signed_n_grows_so_every_vector_is_accepted_in_order(vectors: dict[str, Any]) -> None:
    numbers = [json.loads(message["body"])["n"] for message in vectors["signed"]]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)


def test_rejected_signatures_do_not_verify(vectors: dict[str, Any]) -> None:
    node_key = bytes.fromhex(vectors["keys"]["node_key"])
    for case in vectors["rejected"]:
        signature, _, body = case["payload"].partition(" ")
        expected = hmac.new(
            node_key, f"{case['topic']}\n{body}".encode(), hashlib.sha256
        ).hexdigest()
        assert (signature == expected) == (case["stage"] != "signature"), case["why"]
