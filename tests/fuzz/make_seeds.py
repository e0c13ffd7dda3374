#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer harnesses into tests/fuzz/corpus/<name>/.

    tests/fuzz/make_seeds.py [--settings-harness build-fuzz/fuzz_settings_records]

rest_json     ingest bodies: the guide's examples verbatim, single events with every field,
              full 100-event batches, and the shapes the decoder must refuse (101 events,
              non-object elements, bad envelopes)
grpc_batch    the same events as packed costlynx.v1.IngestBatch messages (protoc + Python
              protobuf at seed time, through the official JSON mapping), 100-event batches included
catalog       the built-in price catalog whole, cut into small pieces, and single odd lines
otlp          OTLP trace exports behind a mode byte (0 protobuf, 1 JSON, 2 gzip + protobuf,
              3 gzip + JSON): the bodies real exporters sent (tests/otlp/vectors) in every mode,
              and hand-built ones (otlp_stubs.py: each GenAI convention, rejected and ignored spans,
              150 spans, nesting, odd values), plus shapes the decoder refuses
settings_records  records packed from real settings: a real costlynxd is started, given
              workspaces, projects, environments, keys (one revoked), overrides and a
              deployment through the admin API, stopped, and its settings column family packed
              in the harness's input format by the harness binary itself (needs --settings-harness,
              a CLX_FUZZ=ON build); plus each record on its own

Seeds are small files; run it again after a contract change. Existing seeds of the same name
are overwritten; others (e.g. merged by scripts/fuzz.sh --merge) are kept.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))
sys.path.insert(0, os.path.join(ROOT, "tests", "grpc"))
sys.path.insert(0, os.path.join(ROOT, "tests", "otlp"))

CORPUS = os.path.join(HERE, "corpus")

GUIDE_SINGLE = """{
"provider": "openai",
"model": "gpt-4o-mini",
"inputTokens": 850,
"outputTokens": 320,
"requestId": "test-integration-001",
"project": "customer-support",
"environment": "staging",
"feature": "ticket-classifier"
}"""

GUIDE_BATCH = """{
"events": [
{
"provider": "openai",
"model": "gpt-4.1",
"inputTokens": 1200,
"outputTokens": 450,
"requestId": "chatcmpl-abc123",
"project": "document-processing",
"environment": "prod",
"feature": "contract-analysis"
},
{
"provider": "anthropic",
"model": "claude-3-5-haiku",
"inputTokens": 600,
"outputTokens": 180,
"requestId": "msg_xyz456",
"project": "document-processing",
"environment": "prod",
"feature": "classification"
}
]
}"""

PROVIDERS = [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-7-sonnet-20250219"), ("gemini", "gemini-2.0-flash"),
             ("azure_openai", "my-gpt"), ("openai", "gpt-4.1"), ("google", "models/gemini-1.5-pro"),
             ("mistral", "no-such-model"), ("OpenAI", "GPT-4O-2024-08-06")]


def event(i, **kw):
    p, m = PROVIDERS[i % len(PROVIDERS)]
    ev = {"provider": p, "model": m, "inputTokens": 100 + i, "outputTokens": 10 + i, "requestId": "req-%04d" % i}
    if i % 3 == 0:
        ev.update(project="app", environment=["prod", "staging", "dev"][i % 3], feature="feature-%d" % (i % 7))
    if i % 5 == 0:
        ev.update(cachedTokens=50, cacheWriteTokens=20)
    if i % 11 == 0:
        ev["estimatedCostUsd"] = 0.000123 * i
    if i % 13 == 0:
        ev["batch"] = True
    if i % 17 == 0:
        ev["timestamp"] = "2026-01-02T03:04:05Z"
    ev.update(kw)
    return ev


def full_event():
    return {"provider": "anthropic", "model": "claude-3-7-sonnet-20250219", "inputTokens": 250001,
            "outputTokens": 4096, "cachedTokens": 200000, "cacheWriteTokens": 50000, "requestId": "msg_01XFDUDYJgAACTvjgjLqeqoK",
            "project": "customer-support", "environment": "prod", "feature": "ticket-classifier", "batch": True,
            "timestamp": "2026-03-04T05:06:07.123Z"}


def issue10_event(i=0, **kw):
    """Every issue-10 field at once: event time, user, tags, each token kind, a tier, web search."""
    ev = {"provider": "anthropic", "model": "claude-sonnet-4-5", "requestId": "i10-%d" % i, "inputTokens": 10000,
          "cachedTokens": 2000, "cacheWriteTokens": 3000, "cacheWrite1hTokens": 1000, "outputTokens": 3000,
          "reasoningTokens": 1000, "audioInputTokens": 500, "cachedAudioTokens": 100, "audioOutputTokens": 200,
          "webSearchCalls": 3, "serviceTier": "priority", "userId": "cust-42",
          "tags": {"team": "search", "customer_tier": "gold", "a.b-c_1": ""},
          "timestamp": "2026-11-30T14:03:07.123456789+01:00", "project": "app", "environment": "prod"}
    ev.update(kw)
    return ev


def issue10_bodies():
    """name -> str: the issue-10 fields, valid and at and past every limit."""
    b = {}
    b["i10_full"] = json.dumps(issue10_event())
    b["i10_proto_names"] = json.dumps({"provider": "openai", "model": "o3", "request_id": "i10-p", "user_id": "u",
                                       "reasoning_tokens": 5, "output_tokens": 9, "cache_write_1h_tokens": 0,
                                       "service_tier": "flex", "web_search_calls": 1, "cached_audio_tokens": 0,
                                       "audio_input_tokens": 0, "audio_output_tokens": 1})
    b["i10_batch"] = json.dumps({"events": [issue10_event(i, serviceTier=t, timestamp=ts) for i, (t, ts) in
                                            enumerate([("standard", "2026-11-30T00:00:00Z"),
                                                       ("batch", "2026-11-30T23:59:59.9z"),
                                                       ("flex", "0001-01-01T00:00:00Z"),
                                                       ("auto", "9999-12-31T23:59:59.999999999Z"),
                                                       ("default", "2024-02-29T12:00:00-23:59")])]})
    b["i10_tags_16"] = json.dumps(issue10_event(tags={"t%02d" % i: "v" * 256 for i in range(16)}))
    b["i10_tags_17"] = json.dumps(issue10_event(tags={"t%02d" % i: "v" for i in range(17)}))
    b["i10_tags_bad"] = ('{"provider":"openai","model":"m","requestId":"t","tags":{"Team":1,"a":{"b":[1]},'
                         '"c":["x"],"d":null,"e":true,"f":"\\ud800","g":"a\\u0000b","a":"dup"}}')
    b["i10_tags_not_object"] = '{"events":[{"provider":"o","model":"m","tags":"x"},{"tags":[{"a":"b"}]},{"tags":5}]}'
    b["i10_timestamps_bad"] = json.dumps({"events": [issue10_event(i, timestamp=t) for i, t in enumerate(
        ["2026-02-30T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T14:03:07.1234567890Z", "2026-11-30",
         "2026-11-30T14:03:07+0100", "", "x" * 40, "2026-11-30T14:03:60Z"])] + [issue10_event(99, timestamp=5)]})
    b["i10_numbers"] = ('{"provider":"openai","model":"gpt-4o-mini","requestId":"n","reasoningTokens":-0,'
                        '"webSearchCalls":1e3,"audioInputTokens":"12","cachedAudioTokens":99999999999999999999,'
                        '"serviceTier":"PRIORITY","userId":"u\\u0000v"}')
    return b


def rest_bodies():
    """name -> bytes."""
    b = {}
    b["guide_single"] = GUIDE_SINGLE
    b["guide_batch"] = GUIDE_BATCH
    b["full_event"] = json.dumps(full_event())
    b["caller_cost_usd"] = json.dumps(event(1, estimatedCostUsd=0.0042))
    b["caller_cost_nanos"] = json.dumps(event(2, estimatedCostNanos="4200000"))
    b["batch_1"] = json.dumps({"events": [event(0)]})
    b["batch_100"] = json.dumps({"events": [event(i) for i in range(100)]})
    b["batch_100_pretty"] = json.dumps({"events": [event(i) for i in range(100)]}, indent=1)
    b["batch_100_mixed_errors"] = json.dumps({"events": [event(i, inputTokens=-1) if i % 9 == 0 else
                                                         event(i, provider="") if i % 10 == 0 else event(i)
                                                         for i in range(100)]})
    b["batch_101"] = json.dumps({"events": [event(i) for i in range(101)]})
    b["batch_100_then_null"] = json.dumps({"events": [event(i) for i in range(100)] + [None]})
    b["batch_non_objects"] = json.dumps({"events": [None, 1, "x", [], True, event(5)]})
    b["batch_empty"] = '{"events":[]}'
    b["unknown_fields"] = json.dumps(event(3, colour="blue", nested={"a": [1, 2, {"b": None}]}))
    b["unicode"] = '{"provider":"openai","model":"gpt-4o-mini","inputTokens":1,"outputTokens":1,' \
                   '"requestId":"caf\\u00e9-\\ud83d\\ude00-\\u0041","feature":"\u00fcber \u2603"}'
    b["numbers"] = '{"provider":"openai","model":"gpt-4o-mini","inputTokens":1e3,"outputTokens":-0,' \
                   '"requestId":"n-1","cachedTokens":1.0,"estimatedCostUsd":9e9}'
    b["duplicate_keys"] = '{"provider":"openai","provider":"anthropic","model":"m","inputTokens":1,' \
                          '"outputTokens":2,"requestId":"d-1","requestId":"d-2"}'
    b["empty"] = ""
    b["not_object"] = "[1,2,3]"
    b["truncated"] = GUIDE_BATCH[:120]
    b.update(issue10_bodies())
    return {k: (v if isinstance(v, bytes) else v.encode()) for k, v in b.items()}


def grpc_messages():
    import grpc_stubs
    from google.protobuf import json_format
    pb = grpc_stubs.load().usage_pb2

    def batch(events):
        return pb.IngestBatch(events=[json_format.ParseDict(e, pb.UsageEvent(), ignore_unknown_fields=True)
                                      for e in events]).SerializeToString()
    guide = json.loads(GUIDE_BATCH)["events"]
    m = {}
    m["guide_single"] = batch([json.loads(GUIDE_SINGLE)])
    m["guide_batch"] = batch(guide)
    m["full_event"] = batch([full_event()])
    m["caller_cost_usd"] = batch([event(1, estimatedCostUsd=0.0042)])
    m["caller_cost_nanos"] = batch([event(2, estimatedCostNanos="4200000")])
    m["batch_100"] = batch([event(i) for i in range(100)])
    m["batch_100_mixed_errors"] = batch([event(i, inputTokens=-1) if i % 9 == 0 else event(i) for i in range(100)])
    m["batch_101"] = batch([event(i) for i in range(101)])
    m["empty_batch"] = b""
    m["event_with_nul"] = pb.IngestBatch(events=[pb.UsageEvent(provider="openai", model="gpt-4o-mini",
                                                               input_tokens=1, output_tokens=1,
                                                               request_id="a\0x")]).SerializeToString()
    m["bad_utf8"] = batch([event(7)]).replace(b"req-0007", b"req-\xff\xfe07")
    # issue 10: every new field; tags at and past the limits; NULs in the new strings (the wire check)
    m["i10_full"] = batch([issue10_event()])
    m["i10_batch"] = batch([issue10_event(i, serviceTier=t) for i, t in enumerate(["flex", "batch", "auto", "x"])])
    m["i10_tags_17"] = batch([issue10_event(tags={"t%02d" % i: "v" for i in range(17)})])
    m["i10_nul_strings"] = pb.IngestBatch(events=[
        pb.UsageEvent(provider="openai", model="gpt-4o-mini", request_id="n1", user_id="u\0v"),
        pb.UsageEvent(provider="openai", model="gpt-4o-mini", request_id="n2", service_tier="flex\0x"),
        pb.UsageEvent(provider="openai", model="gpt-4o-mini", request_id="n3", tags={"team\0x": "v"}),
        pb.UsageEvent(provider="openai", model="gpt-4o-mini", request_id="n4", tags={"team": "v\0w"}),
    ]).SerializeToString()
    m["i10_timestamp_range"] = pb.IngestBatch(events=[
        pb.UsageEvent(provider="openai", model="gpt-4o-mini", request_id="t%d" % i,
                      timestamp={"seconds": sec, "nanos": ns})
        for i, (sec, ns) in enumerate([(-62135596801, 0), (253402300800, 0), (0, -1), (0, 1000000000),
                                       (2**63 - 1, 999999999), (-2**63, 0)])]).SerializeToString()
    return m


def otlp_exports():
    import gzip
    import otlp_stubs as O
    vec = os.path.join(ROOT, "tests", "otlp", "vectors")
    with open(os.path.join(vec, "01-http.pb"), "rb") as f:
        real_pb = f.read()
    with open(os.path.join(vec, "02-http.json.gz"), "rb") as f:
        real_json = gzip.decompress(f.read())

    def modes(name, pb=None, js=None):
        out = {}
        if pb is not None:
            out[name + "_pb"] = b"\x00" + pb
            out[name + "_pb_gz"] = b"\x02" + gzip.compress(pb, mtime=0)
        if js is not None:
            out[name + "_json"] = b"\x01" + js
            out[name + "_json_gz"] = b"\x03" + gzip.compress(js, mtime=0)
        return out

    def both(name, req):
        return modes(name, req.SerializeToString(), json.dumps(O.to_json(req)).encode())

    def spans(attrs):
        return [O.span(a, trace_id=bytes([1 + i % 200]) * 16, span_id=bytes([2 + i % 200]) * 8)
                for i, a in enumerate(attrs)]

    m = {}
    m.update(modes("openllmetry", real_pb, real_json))
    m.update(both("one_span", O.request(spans([O.genai("chatcmpl-1")]),
                                        resource={"costlynx.project": "checkout", "costlynx.tags.team": "a"})))
    m.update(both("conventions", O.request(spans([
        O.genai("a-1", provider="anthropic", model="claude-sonnet-4-5", inp=30, out=9,
                **{"gen_ai.usage.cache_read.input_tokens": 1800, "gen_ai.usage.cache_creation.input_tokens": 200}),
        {"gen_ai.system": "gcp.gemini", "gen_ai.response.model": "gemini-2.5-pro", "gen_ai.usage.prompt_tokens": 9,
         "gen_ai.usage.completion_tokens": 5, "gen_ai.usage.reasoning_tokens": 3, "gen_ai.usage.total_tokens": 17},
        {"llm.provider": "openai", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 20,
         "llm.token_count.completion": 4, "llm.token_count.prompt_details.cache_read": 8,
         "llm.token_count.prompt_details.audio": 2, "user.id": "u"},
        {"gen_ai.system": "openai.chat", "gen_ai.request.model": "gpt-4o-mini", "llm.usage.prompt_tokens": "12",
         "llm.usage.completion_tokens": 3.0, "deployment.environment.name": "prod"},
    ]), scope="@traceloop/instrumentation-anthropic")))
    m.update(both("rejected_and_ignored", O.request(spans([
        O.genai("r-0", **{"gen_ai.request.model": None, "gen_ai.response.model": None}),
        O.genai("r-1", inp=-1), O.genai("r-2", inp=True), O.genai("r-3", inp=2_000_000_000),
        O.genai("r-4", model="m" * 300), {"http.request.method": "GET"},
        O.genai(None, **{"gen_ai.usage.cache_read.input_tokens": 50}),
    ]))))
    m.update(both("batch_150", O.request(spans([O.genai("b-%d" % i) for i in range(150)]))))
    m.update(both("nested_values", O.request(spans([O.genai("n-1", **{"x": [1, [2, [3, {"k": [True, 1.5, b"b"]}]]]})]))))
    m["garbage"] = b"\x00\xff\xfe\xfd"
    m["json_garbage"] = b"\x01{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}"
    m["empty_pb"] = b"\x00"
    m["empty_json"] = b"\x01{}"
    return m


def catalog_pieces():
    with open(os.path.join(ROOT, "pricing", "catalog", "prices.csv"), "rb") as f:
        whole = f.read()
    lines = whole.split(b"\n")
    head = [ln for ln in lines if ln.startswith(b"#")]
    body = [ln for ln in lines if ln and not ln.startswith(b"#")]
    header, rows = body[0], body[1:]
    c = {"builtin_whole": whole, "header_only": header + b"\n"}
    for i in range(0, len(rows), 12):
        c["rows_%03d" % i] = b"\n".join([header] + rows[i:i + 12]) + b"\n"
    c["comments_and_one_row"] = b"\n".join(head[:3] + [header, rows[0]]) + b"\n"
    tiers = [r for r in rows if r.count(b",") and b"|" in r] + [r for r in rows if b"gemini" in r][:2]
    c["aliases_and_tiers"] = b"\n".join([header] + tiers[:6]) + b"\n"
    c["crlf"] = b"\r\n".join([header] + rows[:5]) + b"\r\n"
    c["duplicate_row"] = b"\n".join([header, rows[0], rows[0]]) + b"\n"
    c["no_trailing_newline"] = b"\n".join([header, rows[1]])
    return c


def settings_records(harness):
    """Records of a real store, packed by the harness (CLX_FUZZ_PACK_STORE mode)."""
    import clx
    srv = clx.Server()
    try:
        srv.create_workspace("acme", name="Acme Corp")
        srv.create_project("customer-support", ws="acme", name="Customer support")
        srv.create_project("document-processing", ws="acme")
        srv.create_environment("customer-support", "canary", ws="acme")
        srv.create_key(ws="acme", name="prod key", default_project="customer-support", default_environment="prod")
        srv.create_key(ws="acme", name="locked", default_project="customer-support", environment="staging")
        revoked = srv.create_key_full(ws="acme", name="old key")
        srv.revoke_key(revoked["id"], ws="acme")
        srv.create_key(name="default key")
        srv.set_strict(True, ws="acme")
        srv._ok(201, srv.admin("POST", "workspaces/acme/pricing/overrides",
                               {"provider": "openai", "model": "gpt-4o", "inputPerMtok": "2.5", "outputPerMtok": "10",
                                "cachedInputPerMtok": "1.25", "note": "negotiated"}), "override")
        srv._ok(201, srv.admin("POST", "workspaces/acme/pricing/deployments",
                               {"deployment": "contoso-gpt4o-prod", "model": "gpt-4o"}), "deployment")
        # issue 12: a budget of each scope, a webhook and a Slack channel, a feature alias, a time zone
        for scope in ({"type": "workspace"}, {"type": "project", "project": "customer-support"},
                      {"type": "environment", "project": "customer-support", "environment": "canary"},
                      {"type": "feature", "feature": "chat"}, {"type": "user", "user": "cust-42"},
                      {"type": "tag", "tag": "team", "value": "support"}):
            srv._ok(201, srv.admin("POST", "workspaces/acme/budgets",
                                   {"name": "b " + scope["type"], "amountUsd": "250.5", "scope": scope,
                                    "period": "week", "thresholds": [25, 80.5, 100]}), "budget")
        srv._ok(201, srv.admin("POST", "workspaces/acme/channels",
                               {"name": "ops", "url": "https://ops.example.com/costlynx"}), "channel")
        srv._ok(201, srv.admin("POST", "workspaces/acme/channels",
                               {"name": "slack", "type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}),
                "channel")
        srv._ok(201, srv.admin("POST", "workspaces/acme/aliases",
                               {"project": "customer-support", "alias": "chat_response", "canonical": "chat-response"}),
                "alias")
        srv._ok(200, srv.admin("PATCH", "workspaces/acme", {"timeZone": "Europe/Berlin"}), "time zone")
        srv.stop()
        out = os.path.join(srv.tmp, "records.bin")
        env = dict(os.environ, CLX_FUZZ_PACK_STORE=srv.data_dir, CLX_FUZZ_PACK_OUT=out)
        p = subprocess.run([harness], env=env, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise SystemExit("packing the settings failed: %s" % p.stderr.decode(errors="replace")[-2000:])
        with open(out, "rb") as f:
            packed = f.read()
    finally:
        srv.cleanup()
    recs, at = [], 0
    while at < len(packed):
        klen = packed[at]
        vlen = packed[at + 1 + klen] | packed[at + 2 + klen] << 8
        end = at + 3 + klen + vlen
        recs.append(packed[at:end])
        at = end
    s = {"real_store": packed}
    for i, r in enumerate(recs):
        kind = r[1:1 + r[0]].split(b"/")[0].decode(errors="replace")
        s["record_%02d_%s" % (i, kind)] = r
    return s


def write(name, files):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    for k, v in files.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
    print("%s: %d seeds, %d bytes" % (name, len(files), sum(len(v) for v in files.values())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings-harness", help="a built fuzz_settings_records (packs a real store's records)")
    a = ap.parse_args()
    write("rest_json", rest_bodies())
    write("grpc_batch", grpc_messages())
    write("otlp", otlp_exports())
    write("catalog", catalog_pieces())
    if a.settings_harness:
        write("settings_records", settings_records(os.path.abspath(a.settings_harness)))


if __name__ == "__main__":
    main()
