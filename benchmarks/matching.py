"""Finding one patient across two EHRs whose records disagree, as a desk searches.

Two datasets, each loaded into two in-process FHIR servers (EHR A and EHR B, the
simulators' server) behind the real gateway, with the person index in Redis:

- ``corrupted``: the seed generator's corruption model (``simulators.seed.corruption``,
  rates stated there): EHR A everyone as they are, EHR B half of them typed again with
  mistakes plus others; the shipped model (trained on another seed) scores;
- ``febrl4``: FEBRL 4 (``benchmarks/fixtures/febrl``): 5,000 originals in EHR A, one
  corrupted duplicate each in EHR B; a model trained on demand on these records
  (unlabelled, as ``frontdesk index train`` does).

For sampled people it searches with their EHR A words (family + given + birth date,
family + birth date, family + given) and reports: recall linked (EHR B's record merged
into the person), linked or flagged (merged, or listed in ``possible_duplicates``), false
merges per 100 searches (records of two people merged), per search kind and, for the
corruption model, per kind of mistake; the full index build time per 10,000 records; the
p50/p99 the index path adds to a search (each search timed with and without the index,
alternating); and Splink's offline linkage of the same records as the anchor. Printed,
and written as JSON (``--json``, default ``reports/bench-matching.json``).
Needs Redis (``make redis``). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from benchmarks._report import free_port

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
FEBRL = Path(__file__).parent / "fixtures" / "febrl"
SEARCHES = {
    "family+given+birthdate": ("family", "given", "birthdate"),
    "family+birthdate": ("family", "birthdate"),
    "family+given": ("family", "given"),
}
TARGETS = {
    "linked_or_flagged_fgb": 0.97,
    "linked_or_flagged_fb": 0.97,
    "linked": 0.90,
    "false_merges_per_100": 0.1,
    "p50_added_ms": 5.0,
    "build_seconds_per_100k": 60.0,
}


@dataclass
class Dataset:
    name: str
    ehr_a: list[dict[str, Any]]
    ehr_b: list[dict[str, Any]]
    # (EHR A id, EHR B id, kinds of mistake)
    pairs: list[tuple[str, str, tuple[str, ...]]]
    model_dir: Path | None = None
    person_of: dict[str, str] = field(default_factory=dict)


def corrupted(people: int, seed: int) -> Dataset:
    from simulators.seed.corruption import corrupted_pair

    pair = corrupted_pair(people, seed=seed, prefix="bc")
    return Dataset("corrupted", pair.ehr_a, pair.ehr_b, list(pair.same_person))


def _febrl_patient(row: dict[str, str], prefix: str) -> dict[str, Any]:
    rid = row["rec_id"].strip()
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": f"{prefix}-{rid.replace('rec-', '')}",
        "name": [{"use": "official"}],
    }
    given, family = row["given_name"].strip(), row["surname"].strip()
    if family:
        resource["name"][0]["family"] = family.title()
    if given:
        resource["name"][0]["given"] = [given.title()]
    dob = row["date_of_birth"].strip()
    # A corrupted, impossible date: the record has none.
    with contextlib.suppress(ValueError):
        resource["birthDate"] = date(int(dob[:4]), int(dob[4:6]), int(dob[6:8])).isoformat()
    line = " ".join(p for p in (row["street_number"].strip(), row["address_1"].strip()) if p)
    address = {
        "line": [line] if line else [],
        "city": row["suburb"].strip() or None,
        "state": row["state"].strip().upper() or None,
        "postalCode": row["postcode"].strip() or None,
    }
    resource["address"] = [{k: v for k, v in address.items() if v}]
    return resource


def febrl4() -> Dataset:
    def read(name: str, prefix: str) -> list[dict[str, Any]]:
        with (FEBRL / name).open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, skipinitialspace=True))
        return [_febrl_patient(r, prefix) for r in rows]

    a, b = read("dataset4a.csv", "fa"), read("dataset4b.csv", "fb")
    key_a = {r["id"].removeprefix("fa-").removesuffix("-org"): r["id"] for r in a}
    pairs: list[tuple[str, str, tuple[str, ...]]] = [
        (key_a[r["id"].removeprefix("fb-").split("-dup")[0]], r["id"], ())
        for r in b
        if r["id"].removeprefix("fb-").split("-dup")[0] in key_a
    ]
    return Dataset("febrl4", a, b, pairs)


# --- running the gateway ---------------------------------------------------------------


_SERVE = (
    "import sys, uvicorn; from simulators.fhir_server import create_fhir_app; "
    "uvicorn.run(create_fhir_app(name=sys.argv[1], max_page_size=500), host='127.0.0.1', "
    "port=int(sys.argv[2]), log_level='warning', access_log=False)"
)


def hapi_bases() -> dict[str, str] | None:
    """The HAPI FHIR JPA test servers (``make hapi``), when they answer."""
    bases = {
        "ehr-a": os.environ.get(
            "HAPI_BASE_URL_A", f"http://127.0.0.1:{os.environ.get('HAPI_PORT_A', '8081')}/fhir"
        ),
        "ehr-b": os.environ.get(
            "HAPI_BASE_URL_B", f"http://127.0.0.1:{os.environ.get('HAPI_PORT_B', '8082')}/fhir"
        ),
    }
    try:
        for url in bases.values():
            httpx.get(f"{url}/metadata", timeout=10).raise_for_status()
    except httpx.HTTPError:
        return None
    return bases


@contextlib.contextmanager
def _ehr_servers(ehr: str = "auto") -> Any:
    """EHR A and EHR B: the HAPI test servers when they run (real EHR servers, several
    requests at once), else the simulators' FHIR server, each in its own process."""
    import subprocess
    import sys

    if ehr in ("auto", "hapi"):
        hapi = hapi_bases()
        if hapi is not None:
            yield hapi
            return
        if ehr == "hapi":
            raise SystemExit("matching: the HAPI servers don't answer (make hapi)")

    ports = {"ehr-a": free_port(), "ehr-b": free_port()}
    procs = [
        subprocess.Popen([sys.executable, "-c", _SERVE, name, str(port)])
        for name, port in ports.items()
    ]
    try:
        for port in ports.values():
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
        yield {name: f"http://127.0.0.1:{port}/fhir" for name, port in ports.items()}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


async def _load(base_url: str, resources: list[dict[str, Any]]) -> None:
    from connectors import FhirClient, Policy

    policy = Policy(read_timeout=120.0, deadline=180.0, max_attempts=1)
    async with httpx.AsyncClient(timeout=300) as http:
        fhir = FhirClient(base_url, http=http, source="bench", policy=policy)
        for start in range(0, len(resources), 500):
            chunk = resources[start : start + 500]
            await fhir.transaction(
                {
                    "resourceType": "Bundle",
                    "type": "transaction",
                    "entry": [
                        {
                            "resource": r,
                            "request": {"method": "PUT", "url": f"Patient/{r['id']}"},
                        }
                        for r in chunk
                    ],
                }
            )


def _settings(tenant: str, bases: dict[str, str], *, identity: bool, model_dir: Path | None) -> Any:
    from gateway.security import hash_api_key
    from gateway.settings import Settings

    return Settings(
        tenants=[
            {
                "id": tenant,
                "name": "Bench",
                "sources": [
                    {"id": name, "base_url": url, "vendor": "hapi"} for name, url in bases.items()
                ],
            }
        ],
        api_clients=[
            {
                "id": "desk",
                "tenant": tenant,
                "key_sha256": hash_api_key("bench-key"),
                "scopes": ["patients:read"],
            }
        ],
        cache={"redis_url": REDIS_URL},
        identity={"enabled": identity, "model_dir": model_dir},
        audit_path=Path(tempfile.gettempdir()) / f"bench-audit-{tenant}.jsonl",
    )


def _found(items: list[dict[str, Any]], a: str, b: str) -> str | None:
    def person_of(record: str) -> dict[str, Any] | None:
        return next((i for i in items if record in {x["id"] for x in i["links"]}), None)

    person = person_of(a)
    if person is None:
        return None
    if b in {x["id"] for x in person["links"]}:
        return "linked"
    other = person_of(b)
    if other is not None and other["id"] in person["possible_duplicates"]:
        return "flagged"
    return None


def _false_merges(items: list[dict[str, Any]], person_of: dict[str, str]) -> int:
    """Records of different people of the dataset merged into one. Records the servers
    hold beside the dataset (other tests' people) have no ground truth here: not judged."""
    wrong = 0
    for item in items:
        people = {person_of[x["id"]] for x in item["links"] if x["id"] in person_of}
        wrong += max(0, len(people) - 1)
    return wrong


def run_dataset(data: Dataset, *, sample: int, seed: int, ehr: str = "auto") -> dict[str, Any]:
    with _ehr_servers(ehr) as bases:
        result = asyncio.run(_run_dataset(data, bases, sample=sample, seed=seed))
        result["ehr_servers"] = (
            "simulator" if ehr == "simulator" or hapi_bases() != bases else "hapi"
        )
        return result


async def _run_dataset(
    data: Dataset, bases: dict[str, str], *, sample: int, seed: int
) -> dict[str, Any]:
    from gateway.app import create_app
    from gateway.identity.build import build_index
    from mappers import encode_id

    await _load(bases["ehr-a"], data.ehr_a)
    await _load(bases["ehr-b"], data.ehr_b)
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ.setdefault("FRONTDESK_HASH_KEY", "bench-secret")
    with_index = create_app(_settings(tenant, bases, identity=True, model_dir=data.model_dir))
    without = create_app(_settings(tenant, bases, identity=False, model_dir=None))
    pairs = [
        (encode_id("ehr-a", "Patient", a), encode_id("ehr-b", "Patient", b), k)
        for a, b, k in data.pairs
    ]
    # Every record of the dataset is someone: its own person unless paired.
    person_of: dict[str, str] = {
        encode_id(source, "Patient", r["id"]): f"{source}/{r['id']}"
        for source, records in (("ehr-a", data.ehr_a), ("ehr-b", data.ehr_b))
        for r in records
    }
    for n, (a, b, _) in enumerate(pairs):
        person_of[a] = person_of[b] = f"p{n}"
    a_records = {r["id"]: r for r in data.ehr_a}
    rng = random.Random(seed)
    chosen = rng.sample(range(len(pairs)), min(sample, len(pairs)))
    result: dict[str, Any] = {"dataset": data.name, "records": len(data.ehr_a) + len(data.ehr_b)}
    headers = {"Authorization": "Bearer bench-key"}
    try:
        async with (
            with_index.router.lifespan_context(with_index),
            without.router.lifespan_context(without),
        ):
            index = with_index.state.runtime.identity[tenant]
            started = time.perf_counter()
            report = await build_index(index, full=True)
            build = time.perf_counter() - started
            result["build"] = {
                "seconds": round(build, 2),
                "seconds_per_10k_records": round(build * 10_000 / max(1, report.records), 2),
                "splink_link_seconds": round(report.link_seconds, 2),
                "methods": report.methods,
            }
            api_on = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=with_index), base_url="http://gw"
            )
            api_off = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=without), base_url="http://gw"
            )
            outcomes: dict[str, list[str | None]] = defaultdict(list)
            by_kind: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
            merges: Counter[str] = Counter()
            added: list[float] = []
            for i in chosen:
                a, b, kinds = pairs[i]
                record = a_records[data.pairs[i][0]]
                name = (record.get("name") or [{}])[0]
                words = {
                    "family": name.get("family"),
                    "given": (name.get("given") or [None])[0],
                    "birthdate": record.get("birthDate"),
                }
                for search, fields in SEARCHES.items():
                    params = {f: words[f] for f in fields}
                    if any(v is None for v in params.values()):
                        continue
                    t0 = time.perf_counter()
                    r = await api_on.get("/v1/patients", params=params, headers=headers)
                    t1 = time.perf_counter()
                    r_off = await api_off.get("/v1/patients", params=params, headers=headers)
                    t2 = time.perf_counter()
                    added.append((t1 - t0) - (t2 - t1))
                    items = r.json()["items"] if r.status_code == 200 else []
                    seen = _found(items, a, b)
                    outcomes[search].append(seen)
                    merges[search] += _false_merges(items, person_of)
                    for kind in kinds or ("(none)",):
                        by_kind[search][kind][seen or "missed"] += 1
                    _ = r_off
            await api_on.aclose()
            await api_off.aclose()
            result["searches"] = {
                search: {
                    "searches": len(seen),
                    "recall_linked": round(sum(s == "linked" for s in seen) / len(seen), 4),
                    "recall_linked_or_flagged": round(
                        sum(s is not None for s in seen) / len(seen), 4
                    ),
                    "false_merges_per_100": round(100 * merges[search] / len(seen), 3),
                }
                for search, seen in outcomes.items()
                if seen
            }
            if data.name == "corrupted":
                result["by_corruption"] = {
                    search: {
                        kind: {
                            "pairs": sum(c.values()),
                            "linked": round(c["linked"] / sum(c.values()), 3),
                            "linked_or_flagged": round(
                                (c["linked"] + c["flagged"]) / sum(c.values()), 3
                            ),
                        }
                        for kind, c in sorted(kinds.items())
                    }
                    for search, kinds in by_kind.items()
                }
            ms = sorted(x * 1000 for x in added)
            result["index_path_added_ms"] = {
                "p50": round(statistics.median(ms), 2),
                "p99": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
                "searches": len(ms),
            }
            result["splink_offline"] = await asyncio.to_thread(_offline, data, index.model)
    finally:
        from gateway.identity.store import RedisIndexStore  # noqa: F401 - same layout

        await _forget(tenant)
    return result


def _offline(data: Dataset, model: Any) -> dict[str, Any]:
    """Splink on the same records, all at once: the anchor the gateway's search is read
    against (recall and precision of cross-EHR pairs at the link threshold)."""
    from gateway.identity.features import row_of
    from gateway.identity.linkage import link
    from mappers import encode_id, from_fhir
    from mappers.model import Patient

    rows = [row_of(from_fhir(r, source="ehr-a", expect=Patient)) for r in data.ehr_a] + [
        row_of(from_fhir(r, source="ehr-b", expect=Patient)) for r in data.ehr_b
    ]
    started = time.perf_counter()
    linkage = link(rows, model.settings, model.policy)
    seconds = time.perf_counter() - started
    truth = {
        frozenset((encode_id("ehr-a", "Patient", a), encode_id("ehr-b", "Patient", b)))
        for a, b, _ in data.pairs
    }
    members: dict[str, list[str]] = defaultdict(list)
    for record, cluster in linkage.clusters.items():
        members[cluster].append(record)
    found = {
        frozenset((x, y))
        for group in members.values()
        for x in group
        for y in group
        if x < y and x.startswith("ZWhyLWEv") != y.startswith("ZWhyLWEv")
    }
    hits = len(found & truth)
    return {
        "seconds": round(seconds, 2),
        "recall": round(hits / len(truth), 4),
        "precision": round(hits / len(found), 4) if found else 1.0,
    }


async def _forget(tenant: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        for pattern in (f"fd:idx:{tenant}:*", f"fd:{{idx:{tenant}}}:*", f"fd:*:{tenant}:*"):
            async for key in client.scan_iter(match=pattern, count=1000):
                await client.unlink(key)
    finally:
        await client.aclose()


def build_100k(people: int) -> dict[str, Any]:
    """Splink's share of a build at scale: normalise and link ``2 x people`` records."""
    from frontdesk.index_command import synthetic_rows
    from gateway.identity.linkage import link
    from gateway.identity.model import MatchModel

    started = time.perf_counter()
    rows = synthetic_rows(people)
    prepared = time.perf_counter() - started
    model = MatchModel.load()
    started = time.perf_counter()
    link(rows, model.settings, model.policy)
    linked = time.perf_counter() - started
    return {
        "records": len(rows),
        "generate_and_normalise_seconds": round(prepared, 2),
        "splink_link_and_cluster_seconds": round(linked, 2),
        "seconds_per_100k_records": round((linked) * 100_000 / len(rows), 2),
    }


def _print(results: dict[str, Any]) -> None:
    print("matching: one patient across EHRs (through GET /v1/patients, index on)")
    for ds in results["datasets"]:
        print(f"\n  {ds['dataset']} ({ds['records']} records, EHRs: {ds['ehr_servers']})")
        print(f"    {'search':<24}{'n':>5}{'linked':>9}{'link|flag':>11}{'false/100':>11}")
        for search, s in ds["searches"].items():
            print(
                f"    {search:<24}{s['searches']:>5}{s['recall_linked']:>9.1%}"
                f"{s['recall_linked_or_flagged']:>11.1%}{s['false_merges_per_100']:>11.3f}"
            )
        for search, kinds in ds.get("by_corruption", {}).items():
            print(f"    by corruption kind, {search}:")
            for kind, k in kinds.items():
                print(
                    f"      {kind:<18}{k['pairs']:>5}{k['linked']:>9.1%}"
                    f"{k['linked_or_flagged']:>11.1%}"
                )
        b = ds["build"]
        print(
            f"    build: {b['seconds']}s ({b['seconds_per_10k_records']}s per 10k records; "
            f"Splink {b['splink_link_seconds']}s; read by {b['methods']})"
        )
        lat = ds["index_path_added_ms"]
        print(
            f"    index path adds: p50 {lat['p50']} ms, p99 {lat['p99']} ms "
            f"({lat['searches']} searches)"
        )
        o = ds["splink_offline"]
        print(
            f"    Splink offline (anchor): recall {o['recall']:.1%}, "
            f"precision {o['precision']:.1%}, {o['seconds']}s"
        )
    if "scale" in results:
        s = results["scale"]
        print(
            f"\n  scale: Splink linked {s['records']} records in "
            f"{s['splink_link_and_cluster_seconds']}s ({s['seconds_per_100k_records']}s per 100k)"
        )
    print(f"\n  targets: {TARGETS}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks matching", description=__doc__)
    parser.add_argument("--people", type=int, default=2000, help="corruption model: EHR A people")
    parser.add_argument("--sample", type=int, default=300, help="people searched per dataset")
    parser.add_argument(
        "--scale", type=int, default=50_000, help="people in the scale run (0: skip)"
    )
    parser.add_argument("--json", type=Path, default=Path("reports/bench-matching.json"))
    parser.add_argument(
        "--ehr",
        choices=("auto", "hapi", "simulator"),
        default="auto",
        help="EHR servers: HAPI (make hapi; auto when they answer) or the simulator",
    )
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("splink").setLevel(logging.ERROR)
    from frontdesk.index_command import run_train  # noqa: F401 - the CLI trains the same way
    from gateway.identity.features import row_of
    from gateway.identity.linkage import train
    from mappers import from_fhir
    from mappers.model import Patient

    results: dict[str, Any] = {"datasets": []}
    results["datasets"].append(
        run_dataset(corrupted(args.people, seed=23), sample=args.sample, seed=1, ehr=args.ehr)
    )
    febrl = febrl4()
    model_dir = Path(tempfile.mkdtemp(prefix="febrl-model-"))
    rows = [row_of(from_fhir(r, source="ehr-a", expect=Patient)) for r in febrl.ehr_a] + [
        row_of(from_fhir(r, source="ehr-b", expect=Patient)) for r in febrl.ehr_b
    ]
    t0 = time.perf_counter()
    train(rows, model_dir)
    febrl.model_dir = model_dir
    trained = time.perf_counter() - t0
    ds = run_dataset(febrl, sample=args.sample, seed=2, ehr=args.ehr)
    ds["model_training_seconds"] = round(trained, 2)
    results["datasets"].append(ds)
    if args.scale:
        results["scale"] = build_100k(args.scale)
    _print(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"  written: {args.json}")
    return 0
