"""Load figures of `mda serve` on loopback (issue 13): throughput and p50/p99 latency of feature
queries on a 10,000-image index and of image queries, at 1, 4 and 16 concurrent clients, and of
feature queries while another client adds images. Bounded: each level runs for --seconds or
--max-requests, whichever comes first. Not a test: timings belong here, as ratios and figures
with the CPU they ran on.

The client is this script (one keep-alive connection per client thread, Python's http.client): it
shares the machine's cores with the server, so the figures are what a client on the same machine
sees. The 10,000-image index holds synthetic 128-d descriptors (300 per image around a 1024-word
codebook, the generator of bench/asmk_query.py); queries are 300 descriptors each. Image queries
and additions use the demo's small model (`mda demo --objects 6 --epochs 1`) and its images, at
its extraction settings (image side 256, 2 scales, 200 features), with the index of its database.

With --real-features DIR (a feature folder of real images, e.g. `mda extract` of ukbench1k with 300
features per image), the feature queries also run on a 10,000-image index with real word statistics:
the real images plus distractors generated from their index's statistics by bench/mda_bench_million
(`--through-api 1`: descriptors drawn near the centroids of words chosen as the real postings are,
quantized and added through Index::add), a 1024-word codebook trained on the real features, and
the real images' own descriptors as queries. The synthetic index above is the worst case for the
scan: uniformly drawn words put each image in about a quarter of the 1,024 words, and a query's
1,500 assignments touch nearly all of them; real descriptors repeat words.

  /usr/bin/python3 bench/serve_load.py build/mda [--seconds 10] [--max-requests 3000] [--work DIR]
      [--real-features DIR] [--features-only]
"""
import argparse
import http.client
import shutil
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asmk_query import make_data, read_folder, write_folder  # noqa: E402
from cpu_info import cpu_model  # noqa: E402

SMALL = ["--set", "evaluation.image_size=256", "--set", "evaluation.scales=[1.0,0.707]",
         "--set", "evaluation.features_num=200"]


def npy_bytes(array):
    out = io.BytesIO()
    np.save(out, array.astype(np.float32))
    return out.getvalue()


class Server:
    def __init__(self, mda, args, log):
        wal = args[args.index("--wal") + 1]
        shutil.rmtree(wal, ignore_errors=True)  # start from the base index every run
        self.process = subprocess.Popen([mda, "serve", "--port", "0"] + args, stdout=subprocess.PIPE,
                                        stderr=open(log, "w"), text=True)
        line = self.process.stdout.readline()
        if "listening on http://" not in line:
            raise SystemExit(f"mda serve did not start: {line!r}, see {log}")
        host_port = line.strip().rsplit("http://", 1)[1]
        self.host, self.port = host_port.rsplit(":", 1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def load(server, path, bodies, clients, seconds, max_requests, on_answer=None):
    """Requests from `clients` threads until the time or request budget is spent."""
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + seconds
    budget = [max_requests]

    def client(index):
        connection = http.client.HTTPConnection(server.host, int(server.port), timeout=60)
        i = index
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            body = bodies[i % len(bodies)]
            i += clients
            start = time.perf_counter()
            connection.request("POST", path, body=body, headers={"Content-Type": "application/octet-stream"})
            answer = connection.getresponse()
            data = answer.read()
            elapsed = time.perf_counter() - start
            with lock:
                if answer.status == 200:
                    latencies.append(elapsed)
                    if on_answer:
                        on_answer(json.loads(data))
                else:
                    errors[0] += 1
            if answer.getheader("Connection") == "close":
                connection.close()
                connection = http.client.HTTPConnection(server.host, int(server.port), timeout=60)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"clients": clients, "requests": len(latencies), "errors": errors[0],
            "throughput": len(latencies) / wall,
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else float("nan")}


def row(label, r, extra=""):
    print(f"| {label} | {r['clients']} | {r['requests']} | {r['errors']} | {r['throughput']:.1f} | "
          f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} |{extra}")


def feature_rows(a, work, name, index, bodies, about):
    """Feature queries at 1, 4 and 16 clients against a server on `index`."""
    print(f"\nfeature queries, {about}, topk 100; server --threads 2 --queue 32 {' '.join(a.server_set)}\n")
    print("| queries | clients | requests | errors | per second | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    server = Server(a.mda, ["--index", index, "--wal", os.path.join(work, "live_" + name), "--threads", "2",
                            "--queue", "32"] + a.server_set, os.path.join(work, f"serve_{name}.log"))
    load(server, "/search/features?topk=100", bodies, 1, 2, 50)  # warm-up
    for clients in (1, 4, 16):
        row("features", load(server, "/search/features?topk=100", bodies, clients, a.seconds, a.max_requests))
    server.stop()


def real_statistics_index(a, work):
    """The real images of --real-features plus distractors of their statistics, 1024 words."""
    million = os.path.join(os.path.dirname(os.path.abspath(a.mda)), "bench", "mda_bench_million")
    if not os.path.exists(million):
        raise SystemExit(f"--real-features needs {million} (built with the benchmarks)")
    codebook = os.path.join(work, "real_codebook.npy")
    if not os.path.exists(codebook):
        subprocess.run([a.mda, "train-codebook", "--features", a.real_features, "--out", codebook,
                        "--set", "train_codebook.codebook.size=1024", "--quiet"], check=True)
    images = read_folder(a.real_features)
    with open(os.path.join(a.real_features, "images.txt")) as listed:
        real = sum(1 for _ in listed)  # the images the index holds, with or without features
    index = os.path.join(work, "real_index.mdai")
    if not os.path.exists(index):
        built = subprocess.run([million, "build", "--codebook", codebook, "--database", a.real_features,
                                "--distractors", str(a.images - real), "--out", index, "--threads", "2",
                                "--through-api", "1"], check=True, capture_output=True, text=True)
        stats = json.loads(built.stdout)
        print(f"real-statistics index: {json.dumps({k: v for k, v in stats.items() if not isinstance(v, dict)})}")
    bodies = [npy_bytes(x) for x in images[::max(1, len(images) // 50)][:50]]
    per_query = np.mean([len(x) for x in images])
    return index, bodies, (f"{real} real images ({a.real_features}) + {a.images - real} distractors of their "
                           f"statistics, 1024 words trained on the real features; 50 of the real images' "
                           f"descriptors as queries ({per_query:.0f} per image)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mda")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--max-requests", type=int, default=3000)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--work")
    parser.add_argument("--real-features", help="feature folder of real images: also an index of their statistics")
    parser.add_argument("--features-only", action="store_true", help="skip the image queries and additions")
    parser.add_argument("--set", dest="server_set", action="append", default=[],
                        help="configuration override for the feature-query server, e.g. runtime.threads=1")
    a = parser.parse_args()
    a.server_set = [item for kv in a.server_set for item in ("--set", kv)]
    work = a.work or tempfile.mkdtemp(prefix="mda_serve_load_")
    os.makedirs(work, exist_ok=True)
    print(f"cpu: {cpu_model()}, {os.cpu_count()} cores; client and server on the same machine")

    # --- feature queries on a 10,000-image index
    rng = np.random.default_rng(0)
    centroids, db = make_data(rng, a.images, 1024, 300)
    folder = os.path.join(work, "db")
    write_folder(folder, db)
    np.save(os.path.join(work, "centroids.npy"), centroids)
    index = os.path.join(work, "index.mdai")
    subprocess.run([a.mda, "build-index", "--codebook", os.path.join(work, "centroids.npy"), "--features",
                    folder, "--out", index, "--quiet"], check=True)
    _, queries = make_data(np.random.default_rng(1), 50, 1024, 300)
    feature_rows(a, work, "synthetic", index, [npy_bytes(q) for q in queries],
                 f"{a.images} images x 300 synthetic descriptors (words drawn uniformly), 1024 words, "
                 "300 descriptors per query")

    if a.real_features:
        real_index, real_bodies, about = real_statistics_index(a, work)
        feature_rows(a, work, "real", real_index, real_bodies, about)
    if a.features_only:
        return

    # --- image queries and additions with the demo's model and images
    demo = os.path.join(work, "demo")
    if not os.path.exists(os.path.join(demo, "train", "best.mdam")):
        subprocess.run([a.mda, "demo", "--out", demo, "--objects", "6", "--epochs", "1", "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
    model, data = os.path.join(demo, "train", "best.mdam"), os.path.join(demo, "data")
    jpg = os.path.join(data, "synthetic", "jpg")
    small_db = os.path.join(work, "small_db")
    subprocess.run([a.mda, "extract", "--model", model, "--data-root", data, "--dataset", "synthetic", "--split",
                    "db", "--out", small_db, "--quiet"] + SMALL, check=True)
    subprocess.run([a.mda, "train-codebook", "--features", small_db, "--out", os.path.join(work, "small.npy"),
                    "--set", "train_codebook.codebook.size=64", "--quiet"], check=True)
    small_index = os.path.join(work, "small.mdai")
    subprocess.run([a.mda, "build-index", "--codebook", os.path.join(work, "small.npy"), "--features", small_db,
                    "--out", small_index, "--quiet"], check=True)
    images = [open(os.path.join(jpg, n), "rb").read() for n in sorted(os.listdir(jpg))]
    vecs, ids = np.load(os.path.join(small_db, "vecs.npy")), np.load(os.path.join(small_db, "imids.npy"))
    small_bodies = [npy_bytes(vecs[ids == i]) for i in range(int(ids.max()) + 1)]
    extract_times = []
    server = Server(a.mda, ["--index", small_index, "--model", model, "--wal", os.path.join(work, "live_small"),
                            "--threads", "2", "--queue", "32"] + SMALL, os.path.join(work, "serve_small.log"))
    load(server, "/search?topk=10", images, 1, 2, 20)  # warm-up
    print(f"\nimage queries (128 x 96 JPEGs, extraction at side 256, 2 scales, 200 features; "
          f"{len(small_bodies)}-image index); extract = mean extraction time reported by the server\n")
    print("| queries | clients | requests | errors | per second | p50 ms | p99 ms | extract ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for clients in (1, 4, 16):
        extract_times.clear()
        r = load(server, "/search?topk=10", images, clients, a.seconds, a.max_requests,
                 on_answer=lambda body: extract_times.append(body["timings"]["extract"]))
        row("image", r, f" {1000 * np.mean(extract_times):.1f} |")

    # Feature queries alone, then while one client adds images without pause.
    print("\nfeature queries on the same index, alone and while a client adds images\n")
    print("| queries | clients | requests | errors | per second | p50 ms | p99 ms | additions/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    row("features", load(server, "/search/features?topk=10", small_bodies, 4, a.seconds, a.max_requests), " - |")
    added, stop = [0], threading.Event()

    def add_images():
        connection = http.client.HTTPConnection(server.host, int(server.port), timeout=60)
        while not stop.is_set():
            connection.request("POST", f"/images?name=load_{added[0]}", body=images[added[0] % len(images)],
                               headers={"Content-Type": "image/jpeg"})
            answer = connection.getresponse()
            answer.read()
            if answer.status == 201:
                added[0] += 1

    adder = threading.Thread(target=add_images)
    started = time.perf_counter()
    adder.start()
    r = load(server, "/search/features?topk=10", small_bodies, 4, a.seconds, a.max_requests)
    stop.set()
    adder.join()
    row("features + additions", r, f" {added[0] / (time.perf_counter() - started):.1f} |")
    server.stop()


if __name__ == "__main__":
    main()
