"""grpc_stubs.py — generates the Python gRPC stubs the gRPC tests use, at test time, into a temp dir.

protoc (protobuf-compiler) + grpc_python_plugin (protobuf-compiler-grpc) compile
  proto/costlynx/v1/usage.proto                       -> costlynx.v1.usage_pb2(_grpc)
  grpc/health/v1/health.proto                         -> clxstub_health_v1.health_pb2(_grpc)
  grpc/reflection/v1alpha/reflection.proto            -> clxstub_reflection_v1alpha.reflection_pb2(_grpc)
  grpc/reflection/v1/reflection.proto                 -> clxstub_reflection_v1.reflection_pb2(_grpc)
The health and reflection files (Debian package grpc-proto) are copied under other folder names
first: compiled in place they would be the Python package "grpc.health...", which the real grpcio
package "grpc" hides. Their proto packages (grpc.health.v1, ...) and so the wire names are unchanged.
Nothing is written into the source tree.
"""
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CLX_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
PROTO_DIR = os.path.join(SOURCE_DIR, "proto")
GRPC_PROTO_DIR = os.environ.get("GRPC_PROTO_DIR", "/usr/share/grpc-proto")
PROTOC = os.environ.get("PROTOC", "protoc")
GRPC_PYTHON_PLUGIN = os.environ.get("GRPC_PYTHON_PLUGIN", "/usr/bin/grpc_python_plugin")

_COPIES = {  # source under GRPC_PROTO_DIR -> path in the private include dir
    "grpc/health/v1/health.proto": "clxstub_health_v1/health.proto",
    "grpc/reflection/v1alpha/reflection.proto": "clxstub_reflection_v1alpha/reflection.proto",
    "grpc/reflection/v1/reflection.proto": "clxstub_reflection_v1/reflection.proto",
}

_loaded = None


def generate(out_dir):
    """Compiles every stub into out_dir (which must exist); returns out_dir."""
    inc = os.path.join(out_dir, "_proto")
    for src, dst in _COPIES.items():
        os.makedirs(os.path.dirname(os.path.join(inc, dst)), exist_ok=True)
        shutil.copyfile(os.path.join(GRPC_PROTO_DIR, src), os.path.join(inc, dst))
    argv = [PROTOC, "-I", PROTO_DIR, "-I", inc, "--python_out=" + out_dir, "--grpc_out=" + out_dir,
            "--plugin=protoc-gen-grpc=" + GRPC_PYTHON_PLUGIN, "costlynx/v1/usage.proto"] + list(_COPIES.values())
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("protoc failed (%s): %s\n%s" % (p.returncode, " ".join(argv), p.stderr))
    return out_dir


def load():
    """Generates the stubs once per process (temp dir removed at exit) and imports them."""
    global _loaded
    if _loaded is not None:
        return _loaded
    out = tempfile.mkdtemp(prefix="clx-grpc-stubs-")
    atexit.register(shutil.rmtree, out, True)
    generate(out)
    sys.path.insert(0, out)
    ns = types.SimpleNamespace(dir=out)
    ns.usage_pb2 = importlib.import_module("costlynx.v1.usage_pb2")
    ns.usage_pb2_grpc = importlib.import_module("costlynx.v1.usage_pb2_grpc")
    ns.health_pb2 = importlib.import_module("clxstub_health_v1.health_pb2")
    ns.health_pb2_grpc = importlib.import_module("clxstub_health_v1.health_pb2_grpc")
    ns.refl_v1alpha_pb2 = importlib.import_module("clxstub_reflection_v1alpha.reflection_pb2")
    ns.refl_v1alpha_pb2_grpc = importlib.import_module("clxstub_reflection_v1alpha.reflection_pb2_grpc")
    ns.refl_v1_pb2 = importlib.import_module("clxstub_reflection_v1.reflection_pb2")
    ns.refl_v1_pb2_grpc = importlib.import_module("clxstub_reflection_v1.reflection_pb2_grpc")
    _loaded = ns
    return ns
