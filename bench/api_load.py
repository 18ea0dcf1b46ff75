"""Benchmark: the HTTP API on loopback against a large reference (outside CI).

Builds once, cached under bench-out/api/: a synthetic population (``--people``, default
1 M; an existing ``master.parquet`` can be given with ``--population``), a store with that
reference loaded and the model trained, a lookup request file and an upload request file
(``--upload-rows``, default 1 M). Then starts ``taxmatch serve`` on 127.0.0.1 and reports:

- single-lookup latency p50/p95/p99 over ``--lookups`` POST /v1/lookups (client side, and
  the handler's own ``seconds``), once the warm matcher is ready; then, as the baseline
  in the same run, the first ``--cold-lookups`` of them again on a server started with
  ``--no-warm-lookups`` (each lookup a one-row batch that opens the reference itself);
- the server process's RSS rise while a ``--upload-rows`` request file is streamed to
  POST /v1/batches (chunked, no Content-Length), and during its processing;
- batch throughput: rows / seconds from the upload's start until GET /v1/batches/{id}
  says done (the in-process worker runs it).

    python bench/api_load.py                       # 1 M people, 300 lookups, 1 M-row upload
    python bench/api_load.py --people 100000 --upload-rows 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

BIN = Path(sys.executable).parent / "taxmatch"
AS_OF = "2026-11-30"


def _sh(*args: str) -> str:
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
        raise SystemExit(f"failed: taxmatch {' '.join(args[:2])}")
    print(f"  taxmatch {' '.join(args[:2])}: {time.monotonic() - t0:.1f} s", flush=True)
    return proc.stdout


def _prepare(args: argparse.Namespace, root: Path) -> tuple[Path, Path, Path, Path]:
    pop = args.population or root / f"population-{args.people}"
    if not (pop / "master.parquet").exists():
        _sh(
            "generate",
            "population",
            "--people",
            str(args.people),
            "--seed",
            "21",
            "--out",
            str(pop),
        )
    store = root / f"store-{pop.name}"
    if not (store / "reference" / "CURRENT").exists():
        _sh("reference", "load", "--store", str(store), str(pop / "master.parquet"))
        _sh("model", "train", "--store", str(store))
    n_lookups = max(args.lookups, 1)  # the envelope comes from this request file
    lookups = root / f"lookups-{pop.name}-{n_lookups}"
    if not (lookups / "requests.csv").exists():
        _sh(
            "generate",
            "requests",
            "--population",
            str(pop),
            "--rows",
            str(n_lookups),
            "--seed",
            "22",
            "--out",
            str(lookups),
            "--as-of",
            AS_OF,
        )
    upload = root / f"upload-{pop.name}-{args.upload_rows}"
    if not (upload / "requests.csv").exists():
        _sh(
            "generate",
            "requests",
            "--population",
            str(pop),
            "--rows",
            str(args.upload_rows),
            "--seed",
            "23",
            "--out",
            str(upload),
            "--as-of",
            AS_OF,
        )
    return pop, store, lookups, upload


def _token(store: Path, agency: str) -> str:
    subprocess.run(
        [str(BIN), "agency", "add", agency, "--store", str(store)], capture_output=True, check=False
    )
    return _sh("agency", "token", agency, "--store", str(store)).strip().splitlines()[-1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _multipart(requests: Path, envelope: Path, boundary: str) -> Iterator[bytes]:
    b = boundary.encode()
    yield (
        b"--" + b + b'\r\nContent-Disposition: form-data; name="envelope"; '
        b'filename="envelope.json"\r\nContent-Type: application/json\r\n\r\n'
    )
    yield envelope.read_bytes()
    yield (
        b"\r\n--" + b + b'\r\nContent-Disposition: form-data; name="requests"; '
        b'filename="requests.csv"\r\nContent-Type: text/csv\r\n\r\n'
    )
    with requests.open("rb") as fh:
        while piece := fh.read(1 << 20):
            yield piece
    yield b"\r\n--" + b + b"--\r\n"


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                rss = self.proc.memory_info().rss
                rss += sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                break
            self.peak = max(self.peak, rss)
            time.sleep(0.05)


def _rss(pid: int) -> int:
    """The server's RSS with its children's (validation workers), as the sampler counts."""
    proc = psutil.Process(pid)
    return int(
        proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    )


def _serve(args: argparse.Namespace, store: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "TAXMATCH_DATABASE_URL"}
    return subprocess.Popen(
        [
            str(BIN),
            "serve",
            "--store",
            str(store),
            "--port",
            str(args.port),
            "--daily-rows",
            "100000000",
            "--rate",
            "1000000",
            "--max-upload-mb",
            "100000",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _healthy(client: httpx.Client) -> None:
    for _ in range(600):
        try:
            if client.get("/v1/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become healthy")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def _lookups(
    client: httpx.Client,
    records: list[dict[str, str]],
    envelope: dict[str, object],
    headers: dict[str, str],
) -> tuple[dict[str, float], dict[str, float], dict[str, int], list[str]]:
    """Client latency and handler time percentiles (ms), dispositions, and each answer
    (disposition, outcome, codes, disclosed fields; no ids) to compare runs by."""
    answers: list[str] = []
    latencies: list[float] = []
    server_ms: list[float] = []
    outcomes: dict[str, int] = {}
    for rec in records:
        body = {"request": {k: v for k, v in rec.items() if v != ""}, "envelope": envelope}
        t0 = time.perf_counter()
        r = client.post("/v1/lookups", json=body, headers=headers)
        latencies.append((time.perf_counter() - t0) * 1000)
        if r.status_code not in (200, 422):
            raise SystemExit(f"lookup answered {r.status_code}: {r.text[:200]}")
        d = r.json()["disposition"] if r.status_code == 200 else "422"
        if r.status_code == 200:
            doc = r.json()
            server_ms.append(doc["seconds"] * 1000)
            disclosed = {k: v for k, v in (doc["disclosure"] or {}).items() if k != "disclosure_id"}
            answers.append(json.dumps([d, doc["outcome"], doc["reason_codes"], disclosed]))
        else:
            answers.append(json.dumps([d, r.json().get("code")]))
        outcomes[d] = outcomes.get(d, 0) + 1
    lat = {f"p{q}": round(_percentile(latencies, q), 1) for q in (50, 95, 99)}
    lat["mean"] = round(statistics.mean(latencies), 1)
    inside = {f"p{q}": round(_percentile(server_ms, q), 1) for q in (50, 95, 99)}
    return lat, inside, outcomes, answers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--population", type=Path, default=None, help="existing population dir")
    ap.add_argument("--lookups", type=int, default=300)
    ap.add_argument("--upload-rows", type=int, default=1_000_000)
    ap.add_argument(
        "--cold-lookups",
        type=int,
        default=20,
        help="lookups repeated without the warm matcher, as the baseline",
    )
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--out", type=Path, default=Path("bench-out/api"))
    args = ap.parse_args()
    root: Path = args.out
    root.mkdir(parents=True, exist_ok=True)
    print("preparing (cached under bench-out/api/)", flush=True)
    pop, store, lookups, upload = _prepare(args, root)
    for stale in ("packages", "api", "batches", "work"):
        shutil.rmtree(store / stale, ignore_errors=True)
    for f in store.glob("state.sqlite3*"):
        f.unlink()
    _sh("store", "init", "--store", str(store))  # a fresh state database for this run
    envelope = json.loads((lookups / "envelope.json").read_text())
    agency = envelope["requesting_agency"]
    token = _token(store, agency)
    headers = {"Authorization": f"Bearer {token}"}

    server = _serve(args, store)
    base = f"http://127.0.0.1:{args.port}"
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            _healthy(client)
            # The warm matcher is built in the background (its lookup index once per
            # snapshot); lookups are measured once it is ready.
            t_warm = time.monotonic()
            while (state := client.get("/v1/health").json().get("lookups")) == "warming":
                time.sleep(0.2)
            warm_seconds = round(time.monotonic() - t_warm, 1)
            print(f"lookups {state} after {warm_seconds} s", flush=True)
            results: dict[str, object] = {
                "people": pop.name,
                "lookups": args.lookups,
                "upload_rows": args.upload_rows,
                "lookup_path": state,
                "warm_up_seconds": warm_seconds,
            }

            with (lookups / "requests.csv").open(newline="") as fh:
                records = list(csv.DictReader(fh))
            if args.lookups:
                lat, inside, outcomes, warm_answers = _lookups(client, records, envelope, headers)
                print(
                    f"lookups ({state}): {len(records)}  latency ms (client) {lat}  "
                    f"(handler) {inside}  {outcomes}",
                    flush=True,
                )
                results["lookup_ms"] = lat
                results["lookup_handler_ms"] = inside
                results["lookup_outcomes"] = outcomes

            time.sleep(1.0)
            base_rss = _rss(server.pid)
            sampler = RssSampler(server.pid)
            sampler.start()
            boundary = "taxmatchbench7f3a"
            t0 = time.monotonic()
            r = client.post(
                "/v1/batches",
                content=_multipart(upload / "requests.csv", upload / "envelope.json", boundary),
                headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            t_upload = time.monotonic() - t0
            upload_peak = sampler.peak
            if r.status_code != 202:
                raise SystemExit(f"upload answered {r.status_code}: {r.text[:200]}")
            batch_id = r.json()["batch_id"]
            size = (upload / "requests.csv").stat().st_size
            print(
                f"upload: {size / 1e6:.0f} MB in {t_upload:.1f} s; server RSS "
                f"{base_rss / 2**20:.0f} MiB before, +{(upload_peak - base_rss) / 2**20:.0f} "
                "MiB peak during the upload",
                flush=True,
            )
            while True:
                status = client.get(f"/v1/batches/{batch_id}", headers=headers).json()
                if status["status"] in ("done", "failed"):
                    break
                time.sleep(0.5)
            total = time.monotonic() - t0
            sampler.stop.set()
            sampler.join()
            rows = status["progress"]["rows_total"]
            print(
                f"batch {status['status']}: {rows} rows in {total:.1f} s = "
                f"{rows / total:.0f} rows/s (upload + queue + run); server RSS peak while "
                f"processing +{(sampler.peak - base_rss) / 2**20:.0f} MiB; "
                f"counts {status['counts']}",
                flush=True,
            )
            results.update(
                upload_seconds=round(t_upload, 1),
                upload_mb=round(size / 1e6),
                rss_before_mib=round(base_rss / 2**20),
                upload_rss_rise_mib=round((upload_peak - base_rss) / 2**20),
                processing_rss_rise_mib=round((sampler.peak - base_rss) / 2**20),
                batch_status=status["status"],
                batch_seconds=round(total, 1),
                batch_rows_per_second=round(rows / total),
                counts=status["counts"],
            )
    finally:
        _stop(server)

    if args.lookups and args.cold_lookups:
        # The baseline, same data, same run: the same lookups without the warm matcher
        # (each a one-row batch that opens the reference itself), under another letter id
        # so that none is answered from the warm run's batches.
        cold_envelope = {**envelope, "request_letter_id": f"{envelope['request_letter_id']}-cold"}
        server = _serve(args, store, "--no-warm-lookups", "--workers", "0")
        try:
            with httpx.Client(base_url=base, timeout=600) as client:
                _healthy(client)
                cold = records[: args.cold_lookups]
                lat, inside, outcomes, cold_answers = _lookups(client, cold, cold_envelope, headers)
        finally:
            _stop(server)
        same = sum(a == b for a, b in zip(cold_answers, warm_answers, strict=False))
        print(f"cold answers equal to the warm ones: {same} of {len(cold_answers)}", flush=True)
        results["cold_answers_equal"] = f"{same}/{len(cold_answers)}"
        warm_p50 = results["lookup_ms"]["p50"]  # type: ignore[index]
        print(
            f"lookups (cold baseline): {len(cold)}  latency ms (client) {lat}  "
            f"(handler) {inside}; cold p50 / warm p50 = {lat['p50'] / warm_p50:.0f}x",
            flush=True,
        )
        results["cold_lookup_ms"] = lat
        results["cold_lookups"] = len(cold)
        results["cold_over_warm_p50"] = round(lat["p50"] / warm_p50, 1)
    (root / f"results-{pop.name}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
