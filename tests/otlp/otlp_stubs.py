"""otlp_stubs.py — Python classes for the OTLP trace export and google.rpc.Status, generated at
test time into a temp dir (nothing is written into the source tree), and builders of OTLP
requests in both encodings.

protoc compiles proto/opentelemetry/... (OTLP's trace export: the same packages and field
numbers as upstream, the fields costlynx reads) and proto/google/rpc/{status,error_details}.proto.
The OTLP files are compiled from a copy in which the two fields costlynx declares `bytes` (to see
their exact bytes in C) are `string` again, as upstream declares them: the tests build requests
with OTLP's own types, and their JSON has string values where proto3 JSON would write base64.
The google.rpc files are copied under another folder name first: compiled in place they would be
the Python package "google.rpc", which the installed "google" package (protobuf) would hide. Their
proto package (google.rpc) and so the type URLs are unchanged.
"""
import atexit
import base64
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types

from google.protobuf import json_format

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CLX_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
PROTO_DIR = os.path.join(SOURCE_DIR, "proto")
PROTOC = os.environ.get("PROTOC", "protoc")

OTLP = ["opentelemetry/proto/common/v1/common.proto", "opentelemetry/proto/resource/v1/resource.proto",
        "opentelemetry/proto/trace/v1/trace.proto", "opentelemetry/proto/collector/trace/v1/trace_service.proto"]
RPC = {"google/rpc/status.proto": "clxstub_rpc/status.proto",
       "google/rpc/error_details.proto": "clxstub_rpc/error_details.proto"}

_loaded = None


def load():
    """Generates the classes once per process (temp dir removed at exit) and imports them."""
    global _loaded
    if _loaded is not None:
        return _loaded
    out = tempfile.mkdtemp(prefix="clx-otlp-stubs-")
    atexit.register(shutil.rmtree, out, True)
    inc = os.path.join(out, "_proto")
    for src in OTLP:
        dst = os.path.join(inc, src)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(os.path.join(PROTO_DIR, src)) as f:
            text = f.read()
        text = text.replace("bytes string_value = 1;", "string string_value = 1;").replace("bytes key = 1;",
                                                                                          "string key = 1;")
        with open(dst, "w") as f:
            f.write(text)
    for src, dst in RPC.items():
        os.makedirs(os.path.dirname(os.path.join(inc, dst)), exist_ok=True)
        shutil.copyfile(os.path.join(PROTO_DIR, src), os.path.join(inc, dst))
    argv = [PROTOC, "-I", inc, "-I", "/usr/include", "--python_out=" + out] + OTLP + list(RPC.values())
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("protoc failed (%s): %s\n%s" % (p.returncode, " ".join(argv), p.stderr))
    sys.path.insert(0, out)
    ns = types.SimpleNamespace()
    ns.trace = importlib.import_module("opentelemetry.proto.trace.v1.trace_pb2")
    ns.common = importlib.import_module("opentelemetry.proto.common.v1.common_pb2")
    ns.resource = importlib.import_module("opentelemetry.proto.resource.v1.resource_pb2")
    ns.service = importlib.import_module("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
    ns.status = importlib.import_module("clxstub_rpc.status_pb2")
    ns.details = importlib.import_module("clxstub_rpc.error_details_pb2")
    _loaded = ns
    return ns


S = load()


def any_value(v):
    """A Python value -> AnyValue (str, bool, int, float, bytes, list, dict)."""
    av = S.common.AnyValue()
    if isinstance(v, bool):
        av.bool_value = v
    elif isinstance(v, int):
        av.int_value = v
    elif isinstance(v, float):
        av.double_value = v
    elif isinstance(v, str):
        av.string_value = v
    elif isinstance(v, bytes):
        av.bytes_value = v
    elif isinstance(v, list):
        av.array_value.values.extend(any_value(x) for x in v)
    elif isinstance(v, dict):
        av.kvlist_value.values.extend(S.common.KeyValue(key=k, value=any_value(x)) for k, x in v.items())
    else:
        raise TypeError(v)
    return av


def attributes(d):
    return [S.common.KeyValue(key=k, value=any_value(v)) for k, v in d.items()]


def span(attrs, trace_id=None, span_id=None, end_ns=None, name="chat gpt-4o-mini"):
    """One span; ids default to a fixed non-zero pattern (give distinct ones per span). The span
    ends a minute ago by default: its end is the event's time, which must lie in the workspace's
    accepted window (35 days back by default)."""
    if end_ns is None:
        end_ns = time.time_ns() - 60_000_000_000
    return S.trace.Span(trace_id=trace_id if trace_id is not None else b"\x01" * 16,
                        span_id=span_id if span_id is not None else b"\x02" * 8, name=name, kind=3,
                        start_time_unix_nano=end_ns - 1_000_000_000, end_time_unix_nano=end_ns,
                        attributes=attributes(attrs))


def request(spans, resource=None, scope="clx-test"):
    """An ExportTraceServiceRequest: one resource, one scope, these spans."""
    rs = S.trace.ResourceSpans(resource=S.resource.Resource(attributes=attributes(resource or {})))
    rs.scope_spans.add(scope=S.common.InstrumentationScope(name=scope), spans=spans)
    return S.service.ExportTraceServiceRequest(resource_spans=[rs])


def genai(request_id=None, model="gpt-4o-mini", provider="openai", inp=10, out=5, **extra):
    """The attributes of a GenAI span (current semantic conventions); extra attributes added as given."""
    a = {"gen_ai.provider.name": provider, "gen_ai.request.model": model, "gen_ai.response.model": model,
         "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out, "gen_ai.operation.name": "chat"}
    if request_id is not None:
        a["gen_ai.response.id"] = request_id
    for k, v in extra.items():
        if v is None:
            a.pop(k, None)
        else:
            a[k] = v
    return a


def to_json(req):
    """OTLP/JSON of req: lowerCamelCase names, 64-bit integers as strings, trace and span ids in hex
    (where proto3's JSON mapping would write base64)."""
    d = json_format.MessageToDict(req, preserving_proto_field_name=False)
    for rs in d.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in sp:
                        sp[k] = base64.b64decode(sp[k]).hex()
    return d


def status_of(raw, content_type):
    """A google.rpc.Status error body (protobuf, or its JSON) -> (code, message, reason, retry_seconds)."""
    if content_type.startswith("application/x-protobuf"):
        st = S.status.Status.FromString(raw)
        reason, retry = None, None
        for d in st.details:
            if d.type_url == "type.googleapis.com/google.rpc.ErrorInfo":
                info = S.details.ErrorInfo.FromString(d.value)
                assert info.domain == "costlynx", info
                reason = info.reason
            elif d.type_url == "type.googleapis.com/google.rpc.RetryInfo":
                retry = S.details.RetryInfo.FromString(d.value).retry_delay.seconds
        return st.code, st.message, reason, retry
    import json
    js = json.loads(raw)
    reason, retry = None, None
    for d in js.get("details", []):
        if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo":
            assert d["domain"] == "costlynx", d
            reason = d["reason"]
        elif d["@type"] == "type.googleapis.com/google.rpc.RetryInfo":
            assert d["retryDelay"].endswith("s"), d
            retry = int(d["retryDelay"][:-1])
    return js["code"], js["message"], reason, retry
