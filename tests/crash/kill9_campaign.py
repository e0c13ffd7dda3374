#!/usr/bin/python3
"""kill9_campaign.py — a long kill -9 campaign against the real costlynxd (not run by CI).

Each cycle starts costlynxd on the same data folder, drives it from several REST threads (batches
of 1..50 events, some with caller costs, re-sends of acknowledged batches) and a gRPC thread
(unary batches and IngestStream), kills it with SIGKILL at a random moment, restarts it and
audits the whole store:

  * every acknowledged requestId is stored exactly once, with the tokens and cost it was sent
    with; nothing is stored that was never sent; a re-sent acknowledged batch is all skipped;
  * the rollup totals are exact: overview totals (events, the four token counts, costUsd) and
    the costs-by-feature total equal the sums over the stored events, and so does the series.

Usage (from the source tree, after ./scripts/build.sh; it takes a while, run it niced):
  nice tests/crash/kill9_campaign.py --cycles 200 --report /tmp/kill9.json
Exit status 0 when every cycle passed. A short version runs in CI
(tests/blackbox/test_durability.py).
"""
import argparse
import collections
import datetime
import http.client
import json
import os
import random
import sys
import threading
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, os.path.join(HERE, "..", "grpc"))
import clx  # noqa: E402

INGEST = "/api/v1/usage/ingest"
MODELS = ["gpt-4o-mini", "gpt-4.1", "claude-3-7-sonnet-20250219", "no-such-model"]
FEATURES = ["chat", "search", "summaries", ""]


class Ledger:
    """What was sent and what was acknowledged, across cycles."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}     # requestId -> the event as sent
        self.acked = set()  # requestIds acknowledged as inserted
        self.batches = []  # acknowledged batches (lists of events), for re-sends
        self.problems = []
        self.seq = 0

    def new_events(self, prefix, n, rng):
        evs = []
        with self.lock:
            for _ in range(n):
                self.seq += 1
                rid = "%s-%08d" % (prefix, self.seq)
                e = {"provider": "openai" if rng.random() < 0.6 else "anthropic", "model": rng.choice(MODELS),
                     "inputTokens": rng.randint(0, 200000), "outputTokens": rng.randint(0, 20000), "requestId": rid,
                     "feature": rng.choice(FEATURES)}
                e["cachedTokens"] = rng.randint(0, e["inputTokens"]) if rng.random() < 0.3 else 0
                if rng.random() < 0.25:
                    e["estimatedCostUsd"] = "%d.%09d" % (rng.randint(0, 3), rng.randint(0, 999999999))
                if e["feature"] == "":
                    del e["feature"]
                self.sent[rid] = e
                evs.append(e)
        return evs

    def ack(self, evs):
        with self.lock:
            for e in evs:
                self.acked.add(e["requestId"])
            self.batches.append(evs)

    def problem(self, what):
        with self.lock:
            self.problems.append(what)


def rest_worker(srv, key, ledger, stop, rng, tid, pause):
    conn = None
    while not stop.wait(rng.uniform(0, 2 * pause)):
        resend = len(ledger.batches) > 0 and rng.random() < 0.1
        if resend:
            with ledger.lock:
                evs = rng.choice(ledger.batches)
        else:
            evs = ledger.new_events("r%d" % tid, 1 if rng.random() < 0.3 else rng.randint(2, 30), rng)
        body = json.dumps(evs[0] if len(evs) == 1 and rng.random() < 0.5 else {"events": evs}).encode()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            conn.request("POST", INGEST, body=body, headers={"Content-Type": "application/json", "X-API-Key": key})
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            return  # killed: this request was never acknowledged
        if resp.status == 503:
            continue
        if resp.status != 200:
            ledger.problem("REST answered %d: %r" % (resp.status, raw[:300]))
            return
        js = json.loads(raw)
        if resend:
            if js.get("inserted") != 0 or js.get("skipped") != len(evs):
                ledger.problem("a re-sent acknowledged batch was not all skipped: %r" % raw[:300])
        elif js.get("inserted") == len(evs) and js.get("skipped") == 0:
            ledger.ack(evs)
        else:
            ledger.problem("a batch of new ids was not all inserted: %r" % raw[:300])


def grpc_worker(srv, key, ledger, stop, rng, stubs, pause):
    import grpc
    pb = stubs.usage_pb2

    def proto(e):
        kw = {k: e[k] for k in ("provider", "model") }
        kw.update(input_tokens=e["inputTokens"], output_tokens=e["outputTokens"], cached_tokens=e["cachedTokens"],
                  request_id=e["requestId"], feature=e.get("feature", ""))
        if "estimatedCostUsd" in e:
            whole, frac = e["estimatedCostUsd"].split(".")
            kw["estimated_cost_nanos"] = int(whole) * 10 ** 9 + int(frac)
        return pb.UsageEvent(**kw)

    try:
        with grpc.insecure_channel(srv.grpc_addr) as ch:
            stub = stubs.usage_pb2_grpc.UsageIngestionStub(ch)
            md = [("x-api-key", key)]
            while not stop.wait(rng.uniform(0, 2 * pause)):
                if rng.random() < 0.5:
                    evs = ledger.new_events("gu", rng.randint(1, 40), rng)
                    r = stub.Ingest(pb.IngestBatch(events=[proto(e) for e in evs]), metadata=md, timeout=30)
                    ok = r.inserted == len(evs) and r.skipped == 0
                else:
                    groups = [ledger.new_events("gs", rng.randint(1, 20), rng) for _ in range(rng.randint(1, 5))]
                    evs = [e for g in groups for e in g]
                    r = stub.IngestStream(iter([pb.IngestBatch(events=[proto(e) for e in g]) for g in groups]),
                                          metadata=md, timeout=30)
                    ok = r.inserted == len(evs) and r.skipped == 0
                if not ok:
                    ledger.problem("gRPC: new ids not all inserted: %s" % r)
                    return
                ledger.ack(evs)
    except grpc.RpcError as e:
        if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL,
                            grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED):
            ledger.problem("gRPC error %s: %s" % (e.code(), e.details()))


def audit(srv, ledger, cycle):
    """The checks of one restart; returns a list of problems (empty: passed) and the stored count."""
    problems = []
    events = srv.all_events(limit=1000, max_pages=100000, timeout=600)
    ids = collections.Counter(e["requestId"] for e in events)
    dups = [r for r, c in ids.items() if c > 1]
    if dups:
        problems.append("cycle %d: %d requestIds stored more than once, e.g. %r" % (cycle, len(dups), dups[:3]))
    with ledger.lock:
        acked = set(ledger.acked)
        sent = dict(ledger.sent)
    missing = [r for r in acked if r not in ids]
    if missing:
        problems.append("cycle %d: %d acknowledged events lost, e.g. %r" % (cycle, len(missing), missing[:3]))
    unknown = [r for r in ids if r not in sent]
    if unknown:
        problems.append("cycle %d: %d stored events never sent, e.g. %r" % (cycle, len(unknown), unknown[:3]))
    for e in events:
        s = sent.get(e["requestId"])
        if s is None:
            continue
        got = (e["inputTokens"], e["outputTokens"], e["cachedTokens"], e.get("feature") or "")
        want = (s["inputTokens"], s["outputTokens"], s["cachedTokens"], s.get("feature", ""))
        if got != want or ("estimatedCostUsd" in s and Decimal(e["costUsd"]) != Decimal(s["estimatedCostUsd"])):
            problems.append("cycle %d: %s stored as %r, sent as %r" % (cycle, e["requestId"], e, s))
            break
    # the rollups against the events: exact sums
    want = {"events": len(events)}
    for f in ("inputTokens", "outputTokens", "cachedTokens", "cacheWriteTokens"):
        want[f] = sum(e[f] for e in events)
    want_cost = sum(Decimal(e["costUsd"] or 0) for e in events)
    rng = "from=2020-01-01&to=2100-01-01"
    st, js, raw = srv.admin("GET", "workspaces/default/usage/overview?" + rng)
    if st != 200:
        problems.append("cycle %d: overview answered %d" % (cycle, st))
        return problems, len(events)
    t = js["totals"]
    got = {k: t[k] for k in want}
    if got != want or Decimal(t["costUsd"]) != want_cost:
        problems.append("cycle %d: overview totals %r / %s, the events sum to %r / %s"
                        % (cycle, got, t["costUsd"], want, want_cost))
    if sum(Decimal(s["costUsd"]) for s in js["series"]) != want_cost:
        problems.append("cycle %d: the overview series does not add up to the events' cost" % cycle)
    st, js, raw = srv.admin("GET", "workspaces/default/usage/costs?groupBy=feature,model&" + rng)
    if st != 200 or Decimal(js["total"]["costUsd"]) != want_cost or js["total"]["events"] != len(events) or \
            sum(Decimal(r["costUsd"]) for r in js["rows"]) != want_cost:
        problems.append("cycle %d: costs totals differ from the events' sums: %r" % (cycle, raw[:300]))
    return problems, len(events)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--threads", type=int, default=4, help="REST load threads")
    ap.add_argument("--pause-ms", type=float, default=25, help="mean pause between a thread's requests (the store, "
                    "audited in full after every restart, grows by ~1,000 events a cycle by default)")
    ap.add_argument("--min-seconds", type=float, default=0.3, help="shortest load before the kill")
    ap.add_argument("--max-seconds", type=float, default=1.5, help="longest load before the kill")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-grpc", action="store_true", help="REST load only")
    ap.add_argument("--report", help="write the result as JSON to this file")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    stubs = None
    if not args.no_grpc:
        import grpc_stubs
        stubs = grpc_stubs.load()

    started = time.time()
    srv = clx.Server(grpc=not args.no_grpc)
    ledger = Ledger()
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "binary": clx.BINARY, "seed": seed, "cycles_planned": args.cycles, "cycles": 0, "problems": []}
    try:
        srv.create_project("crash")
        key = srv.create_key(name="crash", default_project="crash", default_environment="prod")
        restart_ms = []
        for cycle in range(1, args.cycles + 1):
            stop = threading.Event()
            pause = args.pause_ms / 1000.0
            threads = [threading.Thread(target=rest_worker,
                                        args=(srv, key, ledger, stop, random.Random(rng.random()), t, pause))
                       for t in range(args.threads)]
            if stubs is not None:
                threads.append(threading.Thread(target=grpc_worker,
                                                args=(srv, key, ledger, stop, random.Random(rng.random()), stubs, pause)))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(args.min_seconds, args.max_seconds))
            alive = srv.alive()
            srv.kill9()
            stop.set()
            for t in threads:
                t.join(60)
            if not alive:
                ledger.problem("cycle %d: costlynxd had died before the kill (exit %r); stderr tail: %s"
                               % (cycle, srv.proc.returncode, srv.stderr()[-800:]))
            t0 = time.monotonic()
            srv.start()
            restart_ms.append((time.monotonic() - t0) * 1000)
            problems, stored = audit(srv, ledger, cycle)
            with ledger.lock:
                problems = ledger.problems + problems
                ledger.problems = []
                nacked = len(ledger.acked)
            result["cycles"] = cycle
            result["problems"].extend(problems)
            print("cycle %3d: %7d acknowledged, %7d stored, restart %5.0f ms, %s"
                  % (cycle, nacked, stored, restart_ms[-1], "ok" if not problems else "FAILED: " + problems[0]),
                  flush=True)
            if len(result["problems"]) > 20:
                break
        result.update(acknowledged=len(ledger.acked), sent=len(ledger.sent), stored=stored,
                      restart_ms_max=round(max(restart_ms)), restart_ms_median=round(sorted(restart_ms)[len(restart_ms) // 2]),
                      minutes=round((time.time() - started) / 60, 1),
                      result="pass" if not result["problems"] and result["cycles"] == args.cycles else "FAIL")
        srv.stop()
    finally:
        srv.cleanup()
    print(json.dumps({k: v for k, v in result.items() if k != "problems"}, indent=1))
    for p in result["problems"][:20]:
        print("PROBLEM:", p)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if result["result"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
