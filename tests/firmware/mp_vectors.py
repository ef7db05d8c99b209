# Runs on MicroPython: the firmware's own signing and config checks over the shared vectors.
# micropython mp_vectors.py VECTORS_JSON  (MICROPYPATH: micropython/ and micropython/sim)
# Prints one JSON line: {"platform", "checks", "failures"}.
import gc
import json
import sys
from binascii import unhexlify

import home.pincheck  # noqa: F401 (kept: compiled from source once, not per configuration)
from home import PLATFORM
from home.check import is_id
from home.config import validate
from home.signing import Signer, check, key_id

USED = ("keys", "signed", "rejected", "configs", "sensor_ids", "node_ids")

with open(sys.argv[1]) as f:
    vectors = json.load(f)
# Only what the firmware checks is kept: the vectors are large.
for name in [name for name in vectors if name not in USED]:
    del vectors[name]
gc.collect()
checks = [0]  # a count, not a list of results: that list's growth fragmented the 96K heap
failures = []


def expect(ok, what):
    checks[0] += 1
    if not ok:
        failures.append(what)


keys = vectors["keys"]
node_key = unhexlify(keys["node_key"])
expect(Signer(unhexlify(keys["fleet_key"])).hmac(keys["node_id"].encode()) == node_key, "node key")
expect(key_id(node_key) == keys["key_id"], "key_id")

signer = Signer(node_key)
last_n = 0
for message in vectors["signed"]:
    expect(
        signer.sign(message["topic"].encode(), message["body"].encode()).decode()
        == message["signature"],
        "sign " + message["body"][:40],
    )
    stage, body = check(signer, message["topic"].encode(), message["payload"].encode(), last_n)
    expect(stage is None and body == json.loads(message["body"]), "accept " + message["body"][:40])
    if body:
        last_n = body["n"]
for case in vectors["rejected"]:
    stage, body = check(signer, case["topic"].encode(), case["payload"].encode(), last_n)
    expect(stage == case["stage"], f"reject {case['why']}: got {stage}")

for case in vectors["configs"]["valid"]:
    if case["platform"] == PLATFORM:
        errors = validate(case["config"])
        expect(errors == [], f"valid config refused: {errors}")
for case in vectors["configs"]["invalid"]:
    if case["platform"] == PLATFORM:
        errors = validate(case["config"])
        expect(
            len(errors) > 0
            and all(": " in e for e in errors)
            and ("errors" not in case or errors == case["errors"]),
            "invalid config accepted or refused differently: " + case["why"],
        )

del vectors["configs"]  # done with: the heap is small
gc.collect()
for sid in vectors["sensor_ids"]["valid"]:
    expect(is_id(sid, "_", 16), "sensor id " + sid)
for sid in vectors["sensor_ids"]["invalid"]:
    expect(not is_id(sid, "_", 16), "bad sensor id " + sid)
for nid in vectors["node_ids"]["valid"]:
    expect(is_id(nid, "_-", 32), "node id " + nid)
for nid in vectors["node_ids"]["invalid"]:
    expect(not is_id(nid, "_-", 32), "bad node id " + nid)

print(json.dumps({"platform": PLATFORM, "checks": checks[0], "failures": failures}))
