"""CGGMP24 (threshold ECDSA, 2-of-3, secp256k1) through the REST API: the REST part
of ``cggmp_bench.py`` (run it as ``benchmarks/cggmp_bench.py --only rest``).

The vault (API + coordinator + 3 signers, SQLite) runs in a CHILD PROCESS
(``multiprocessing``, spawn), as ``shardvault.server.BackgroundVault``; the SDK
client measures through real HTTP on 127.0.0.1 from this (the parent) process, so
client and server do not share a GIL. It is not ``shardvault up`` itself because
the CLI has no way to pass the TEST-ONLY fixture primes
(``tests/fixtures/cggmp_primes.json``), which this part uses so that the vault does
not search safe primes for minutes first (the prime search is timed separately by
``cggmp_bench.py``).

The parent controls the child through a pipe, and the child reads BENCHMARK-ONLY
internals of the coordinator's CGGMP24 service on the server's event loop:
``CggmpService._keys`` (to build the ``KeyRecord`` passed to the public
``CggmpService.warm``), ``pool_target`` (changed at run time) and ``_wake`` (set
after a change so the pool keeper reacts at once).

Order (each phase owns the machine; no other key has a pool to refill):
1. start -> ``ecdsaReady`` (aux info for 3 signers, fixture primes), pool target 0;
2. key generation over REST (pool target 0: no background presigning);
3. cold signing: a key created while the target is 0 has no presignature, so each
   sign presigns on the spot (verified: warm count 0 before every request);
4. those keys are deleted, the target set to 8, a fresh key made and its pool filled;
5. warm signing: with the pool full, one sign, then wait for the refill, N times;
6. throughput: 8 back-to-back signs from a full pool (refill running, as deployed;
   and refill paused), then 4 concurrent clients x 2 signs.
Every signature is verified with libsecp256k1 (coincurve) outside the timed region.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import coincurve
import httpx

ROOT = Path(__file__).resolve().parents[1]
#: TEST ONLY (public) pregenerated safe primes, shared with the test suite.
FIXTURE = ROOT / "tests" / "fixtures" / "cggmp_primes.json"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

GOAL_WARM_SIGN_MS = 20.0
GOAL_COLD_SIGN_S = 1.5
GOAL_REST_KEYGEN_S = 1.0

POOL_TARGET = 8
READY_TIMEOUT_S = 300.0
POOL_TIMEOUT_S = 180.0


class RestBenchmarkError(RuntimeError):
    """A signature did not verify, or the vault did not behave as the benchmark needs."""


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise RestBenchmarkError(what)


@dataclass(frozen=True)
class RestConfig:
    keygen_samples: int = 5
    cold_samples: int = 8
    warm_samples: int = 15
    burst: int = POOL_TARGET  # signatures per throughput burst (= the pool target)
    concurrent_clients: int = 4


REST_FULL = RestConfig()
REST_QUICK = RestConfig(keygen_samples=3, cold_samples=4, warm_samples=6)


@dataclass
class RestRow:
    """``samples_ns``: latencies (unit "time"); for unit "rate" ``rate`` is per second."""

    id: str
    operation: str
    samples_ns: list[int] = field(default_factory=list)
    unit: str = "time"
    rate: float | None = None
    note: str = ""

    def p(self, q: float) -> float:
        """Nearest-rank percentile (q in 0..100) of the samples, in ns."""
        ordered = sorted(self.samples_ns)
        return float(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)])

    @property
    def p50(self) -> float:
        """The median (as the rest of cggmp_bench reports), in ns."""
        return float(statistics.median(self.samples_ns))

    @property
    def n(self) -> int:
        return len(self.samples_ns)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "operation": self.operation, "note": self.note}
        if self.unit == "rate":
            out.update(unit="per_second", per_second=self.rate, signatures=self.n)
            out["latencies_ns"] = self.samples_ns
        else:
            out.update(
                unit="ns",
                samples=self.n,
                p50_ns=round(self.p50, 1),
                p95_ns=round(self.p(95), 1),
                mean_ns=round(statistics.fmean(self.samples_ns), 1),
                min_ns=min(self.samples_ns),
                max_ns=max(self.samples_ns),
                samples_ns=self.samples_ns,
            )
        return out


def fixture_pairs() -> list[tuple[int, int]]:
    primes = [int(x, 16) for x in json.loads(FIXTURE.read_text())["safe_primes_1536"]]
    _require(len(primes) >= 6, "fixture: not enough 1536-bit primes")
    return [(primes[0], primes[1]), (primes[2], primes[3]), (primes[4], primes[5])]


# ---------------------------------------------------------------------------
# The vault, in a child process
# ---------------------------------------------------------------------------


def _warm_count(svc: Any, key_id: str) -> int:
    """BENCHMARK ONLY: warm presignatures for the key's preferred signer set, through
    the public ``warm()`` with a KeyRecord built from the service's own key entry."""
    from shardvault.coordinator.backend import KeyRecord

    k = svc._keys.get(key_id)
    if k is None:
        return 0
    record = KeyRecord(
        key_id=k.key_id,
        protocol="CGGMP24",
        curve="secp256k1",
        public_key=k.public_key,
        min_signers=k.threshold,
        signer_ids=tuple(k.signer_ids),
    )
    return int(svc.warm(record))


def _set_target(svc: Any, target: int) -> None:
    svc.pool_target = target
    svc._wake.set()  # BENCHMARK ONLY: the keeper otherwise notices within 2 s


def _vault_child(
    conn: Connection, data_dir: str, kek: bytes, primes: list[tuple[int, int]], target: int
) -> None:
    """The child process: BackgroundVault + a command loop on ``conn``."""
    from shardvault.server import BackgroundVault

    try:
        t0 = time.monotonic()
        with BackgroundVault(
            Path(data_dir), kek, ecdsa_primes=primes, presig_pool_target=target
        ) as live:
            assert live.vault is not None
            svc = live.vault.coordinator.ecdsa
            conn.send(
                (
                    "ok",
                    {
                        "t_start": t0,
                        "t_api_up": time.monotonic(),
                        "base_url": live.base_url,
                        "credentials": str(live.credentials),
                    },
                )
            )
            while True:
                cmd, arg = conn.recv()
                try:
                    if cmd == "stop":
                        conn.send(("ok", None))
                        break
                    if cmd == "warm":
                        conn.send(("ok", live.on_loop(lambda arg=arg: _warm_count(svc, arg))))
                    elif cmd == "target":
                        live.on_loop(lambda arg=arg: _set_target(svc, arg))
                        conn.send(("ok", None))
                    else:
                        conn.send(("error", f"unknown command {cmd!r}"))
                except Exception as exc:
                    conn.send(("error", f"{type(exc).__name__}: {exc}"))
    except Exception:
        conn.send(("error", traceback.format_exc()))


class VaultProcess:
    """The child process and its control pipe."""

    def __init__(self, data_dir: Path, target: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_vault_child,
            args=(child, str(data_dir), os.urandom(32), fixture_pairs(), target),
            name="shardvault-bench-vault",
            daemon=True,
        )
        self.proc.start()
        child.close()
        self.info: dict[str, Any] = self._answer(120.0)

    def _answer(self, timeout: float) -> Any:
        if not self._conn.poll(timeout):
            raise RestBenchmarkError("the vault process does not answer")
        status, value = self._conn.recv()
        if status != "ok":
            raise RestBenchmarkError(f"vault process: {value}")
        return value

    def call(self, cmd: str, arg: Any = None) -> Any:
        self._conn.send((cmd, arg))
        return self._answer(60.0)

    def warm(self, key_id: str) -> int:
        return int(self.call("warm", key_id))

    def set_target(self, target: int) -> None:
        self.call("target", target)

    def wait_pool(self, key_id: str, want: int, timeout: float = POOL_TIMEOUT_S) -> float:
        """Poll until the key has ``want`` warm presignatures; returns seconds waited."""
        t0 = time.monotonic()
        while self.warm(key_id) < want:
            if time.monotonic() - t0 > timeout:
                raise RestBenchmarkError(f"pool of {key_id} not at {want} after {timeout:.0f} s")
            time.sleep(0.05)
        return time.monotonic() - t0

    def close(self) -> None:
        try:
            if self.proc.is_alive():
                self._conn.send(("stop", None))
                self._conn.poll(60.0)
        except (OSError, EOFError):
            pass
        self.proc.join(60)
        if self.proc.is_alive():  # our own child, by handle
            self.proc.terminate()
            self.proc.join(10)
        self._conn.close()


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------


def verify_signature(public_key: bytes, digest: bytes, sig: Any) -> None:
    """libsecp256k1: low-s, (r || s || recid) recovers the key's public key, and the
    DER ``encoded`` verifies against it. Raises RestBenchmarkError otherwise."""
    _require(sig.status == "Signed" and sig.signature is not None, f"not signed: {sig.status}")
    value = sig.signature
    _require(value.recid is not None and value.encoded is not None, "no recid / encoded")
    r, s = int(value.r, 16), int(value.s, 16)
    _require(0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2, "r/s out of range or high s")
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    recovered = coincurve.PublicKey.from_signature_and_message(
        compact + bytes([value.recid]), digest, hasher=None
    )
    _require(recovered.format() == public_key, "coincurve recovers another key from (r,s,recid)")
    der = bytes.fromhex(value.encoded.removeprefix("0x"))
    _require(
        coincurve.PublicKey(public_key).verify(der, digest, hasher=None),
        "coincurve rejects the DER signature",
    )


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def wait_ecdsa_ready(http: httpx.Client) -> float:
    """Poll ``GET /health`` every 50 ms until ``ecdsaReady``; the monotonic time it was."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        health = http.get("/health").json()
        if health.get("ecdsaReady"):
            return time.monotonic()
        _require(time.monotonic() < deadline, f"not ready in time: {health}")
        time.sleep(0.05)


def timed(fn: Callable[[], Any]) -> tuple[int, Any]:
    t0 = time.perf_counter_ns()
    out = fn()
    return time.perf_counter_ns() - t0, out


def run_rest(config: RestConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Returns ``{"rows": [RestRow], "extra": {...}, "goals": [...]}``."""
    from shardvault.sdk import Client  # the SDK (the parent needs no server code)

    rows: list[RestRow] = []
    extra: dict[str, Any] = {"vault": "in a child process (BackgroundVault), fixture primes"}
    with tempfile.TemporaryDirectory(prefix="sv-cggmp-rest-") as tmp:
        log("REST: starting the vault (child process, TEST-ONLY fixture primes)")
        vault = VaultProcess(Path(tmp) / "data", target=0)
        clients: list[Any] = []
        try:
            info = vault.info
            client = Client.from_credentials_file(info["credentials"], timeout=120)
            clients.append(client)
            http = httpx.Client(base_url=info["base_url"], timeout=10)
            clients.append(http)

            # 1. start -> ecdsaReady (polled every 50 ms over GET /health).
            log("REST: waiting for ecdsaReady (aux info, 3 signers)")
            t_ready = wait_ecdsa_ready(http)
            ready_ns = int((t_ready - info["t_start"]) * 1e9)
            api_up_ns = int((info["t_api_up"] - info["t_start"]) * 1e9)
            rows.append(
                RestRow(
                    "rest_start_to_ecdsa_ready",
                    "vault start -> ecdsaReady (aux info, 3 signers)",
                    [ready_ns],
                    note=f"API up at {api_up_ns / 1e9:.2f} s; /health every 50 ms",
                )
            )

            # 2. Key generation over REST (pool target 0: nothing runs in the background).
            log(f"REST: key generation x {config.keygen_samples} (+1 warm-up)")
            made = [client.keys.create(scheme="ECDSA", curve="secp256k1")]  # warm-up
            kg_ns = []
            for _ in range(config.keygen_samples):
                ns, key = timed(lambda: client.keys.create(scheme="ECDSA", curve="secp256k1"))
                kg_ns.append(ns)
                made.append(key)
            for key in made:
                _require(
                    key.protocol == "CGGMP24"
                    and key.min_signers == 2
                    and len(key.signers) == 3
                    and len(key.public_key_bytes) == 33,
                    f"unexpected key {key.id}: {key.protocol} {key.min_signers}-of-"
                    f"{len(key.signers)}",
                )
                coincurve.PublicKey(key.public_key_bytes)  # a valid point
            rows.append(
                RestRow(
                    "rest_keygen_2of3",
                    "POST /keys ECDSA (DKG 2-of-3)",
                    kg_ns,
                    note="aux info present; no pool refill",
                )
            )

            # 3. Cold signing: a key made while the pool target is 0 has no presignature.
            log(f"REST: cold signing x {config.cold_samples} (no presignature)")
            cold_key = made[-1]
            cold_ns = []
            for _ in range(config.cold_samples):
                _require(vault.warm(cold_key.id) == 0, "cold key has a warm presignature")
                digest = os.urandom(32)
                ns, sig = timed(lambda digest=digest: client.keys.sign(cold_key.id, hash=digest))
                cold_ns.append(ns)
                verify_signature(cold_key.public_key_bytes, digest, sig)
            rows.append(
                RestRow(
                    "rest_sign_cold",
                    "sign Hash, no presignature (cold)",
                    cold_ns,
                    note="presign + online in the request",
                )
            )
            for key in made:  # so that only the warm key below has a pool to fill
                client.keys.delete(key.id)

            # 4. Pool target 8, a fresh key, its pool filled.
            vault.set_target(POOL_TARGET)
            key = client.keys.create(scheme="ECDSA", curve="secp256k1")
            pub = key.public_key_bytes
            log(f"REST: filling the pool of a fresh key to {POOL_TARGET}")
            fill_s = vault.wait_pool(key.id, POOL_TARGET)
            extra["pool_fill_s"] = fill_s
            rows.append(
                RestRow(
                    "rest_pool_fill",
                    f"pool fill 0 -> {POOL_TARGET} (background presigning)",
                    [int(fill_s * 1e9)],
                    note=f"{fill_s / POOL_TARGET:.2f} s / presignature; 50 ms polling",
                )
            )

            # 5. Warm signing latency: pool full before every request.
            log(f"REST: warm signing x {config.warm_samples} (pool refilled before each)")
            for _ in range(2):  # warm-up (connection, code paths), not timed
                digest = os.urandom(32)
                verify_signature(pub, digest, client.keys.sign(key.id, hash=digest))
                vault.wait_pool(key.id, POOL_TARGET)
            warm_ns = []
            consumed_warm = 0
            for _ in range(config.warm_samples):
                vault.wait_pool(key.id, POOL_TARGET)
                digest = os.urandom(32)
                ns, sig = timed(lambda digest=digest: client.keys.sign(key.id, hash=digest))
                warm_ns.append(ns)
                # A refill takes far longer than this round trip: the pool is one down.
                consumed_warm += vault.warm(key.id) == POOL_TARGET - 1
                verify_signature(pub, digest, sig)
            extra["warm_sign_used_pool"] = f"{consumed_warm}/{config.warm_samples}"
            rows.append(
                RestRow(
                    "rest_sign_warm",
                    "sign Hash, warm presignature",
                    warm_ns,
                    note=f"pool {POOL_TARGET}/{POOL_TARGET} before each; "
                    f"pool one down after {consumed_warm}/{config.warm_samples}",
                )
            )

            # 6. Throughput from a full pool.
            def burst_sequential(op: str, row_id: str, note: str) -> None:
                vault.wait_pool(key.id, POOL_TARGET)
                digests = [os.urandom(32) for _ in range(config.burst)]
                lat, sigs = [], []
                t0 = time.perf_counter_ns()
                for d in digests:
                    ns, sig = timed(lambda d=d: client.keys.sign(key.id, hash=d))
                    lat.append(ns)
                    sigs.append(sig)
                wall = time.perf_counter_ns() - t0
                for d, sig in zip(digests, sigs, strict=True):
                    verify_signature(pub, d, sig)
                rows.append(RestRow(row_id, op, lat, "rate", config.burst / (wall / 1e9), note))

            log(f"REST: {config.burst} signatures back to back, refill running")
            burst_sequential(
                f"signatures / s, {config.burst} sequential, pool full",
                "rest_sign_per_second_sequential",
                "1 client; refill running (as deployed)",
            )
            log(f"REST: {config.burst} signatures back to back, refill paused")
            vault.wait_pool(key.id, POOL_TARGET)
            vault.set_target(0)
            try:
                burst_sequential(
                    f"signatures / s, {config.burst} sequential, refill paused",
                    "rest_sign_per_second_sequential_no_refill",
                    "1 client; pool target 0 during the burst",
                )
            finally:
                vault.set_target(POOL_TARGET)

            n_cli = config.concurrent_clients
            log(f"REST: {config.burst} signatures from {n_cli} concurrent clients")
            pool_clients = [
                Client.from_credentials_file(info["credentials"], timeout=120) for _ in range(n_cli)
            ]
            clients.extend(pool_clients)
            for c in pool_clients:  # open each client's connection outside the timing
                c.health()
            vault.wait_pool(key.id, POOL_TARGET)
            per_client = [
                [os.urandom(32) for _ in range(config.burst // n_cli)] for _ in range(n_cli)
            ]

            def worker(args: tuple[Any, list[bytes]]) -> list[tuple[int, bytes, Any]]:
                c, digests = args
                out = []
                for d in digests:
                    ns, sig = timed(lambda d=d: c.keys.sign(key.id, hash=d))
                    out.append((ns, d, sig))
                return out

            with ThreadPoolExecutor(n_cli) as ex:
                t0 = time.perf_counter_ns()
                parts = list(ex.map(worker, zip(pool_clients, per_client, strict=True)))
                wall = time.perf_counter_ns() - t0
            done = [x for part in parts for x in part]
            for _, d, sig in done:
                verify_signature(pub, d, sig)
            rows.append(
                RestRow(
                    "rest_sign_per_second_concurrent",
                    f"signatures / s, {n_cli} concurrent clients",
                    [ns for ns, _, _ in done],
                    "rate",
                    len(done) / (wall / 1e9),
                    f"{len(done) // n_cli} per client, pool full; refill running",
                )
            )
        finally:
            for c in clients:
                c.close()
            vault.close()

    by_id = {r.id: r for r in rows}
    warm_p50 = by_id["rest_sign_warm"].p50 / 1e6
    cold_p50 = by_id["rest_sign_cold"].p50 / 1e9
    kg_p50 = by_id["rest_keygen_2of3"].p50 / 1e9
    goals = [
        {
            "description": f"REST sign p50 with a warm presignature <= {GOAL_WARM_SIGN_MS:g} ms",
            "value": warm_p50,
            "unit": "ms",
            "status": "PASS" if warm_p50 <= GOAL_WARM_SIGN_MS else "MISS",
        },
        {
            "description": f"REST sign p50 without a presignature <= {GOAL_COLD_SIGN_S:g} s",
            "value": cold_p50,
            "unit": "s",
            "status": "PASS" if cold_p50 <= GOAL_COLD_SIGN_S else "MISS",
        },
        {
            "description": f"REST key generation 2-of-3 p50 <= {GOAL_REST_KEYGEN_S:g} s",
            "value": kg_p50,
            "unit": "s",
            "status": "PASS" if kg_p50 <= GOAL_REST_KEYGEN_S else "MISS",
        },
    ]
    return {"rows": rows, "extra": extra, "goals": goals}


def summarize(rows: Sequence[RestRow]) -> list[dict[str, Any]]:
    return [r.as_json() for r in rows]
