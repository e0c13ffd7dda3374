#!/usr/bin/env python3
"""Report one LLM call's usage to costlynx over gRPC, at the call site (the integration guide's pattern).

1. call the LLM (stubbed here: a fake OpenAI-style response, no network),
2. read the usage from the response,
3. send one UsageEvent with the provider's response id as request_id (the idempotency key),
4. retry UNAVAILABLE with the SAME request_id and a growing backoff; log any other failure
   (INVALID_ARGUMENT, UNAUTHENTICATED, ... never get better by retrying).

Needs grpcio + protobuf and the stubs of proto/costlynx/v1/usage.proto (see examples/README.md).
Environment: COSTLYNX_GRPC_ADDR (default 127.0.0.1:50051), COSTLYNX_INGESTION_KEY (required),
COSTLYNX_PROJECT (default customer-support), COSTLYNX_ENVIRONMENT (default prod),
COSTLYNX_RETRY_ATTEMPTS (default 5), COSTLYNX_RETRY_BASE_SECONDS (default 0.2).
Prints a one-line JSON summary; exits 0 when the event is recorded (inserted or skipped).
"""
import json
import logging
import os
import random
import sys
import time
import uuid
from types import SimpleNamespace

import grpc

# stubs generated into examples/python/gen (or anywhere on PYTHONPATH)
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))
from costlynx.v1 import usage_pb2, usage_pb2_grpc  # noqa: E402

log = logging.getLogger("send_usage")


def call_llm(prompt):
    """Stand-in for client.chat.completions.create(...): the shape of an OpenAI response."""
    return SimpleNamespace(
        id="chatcmpl-" + uuid.uuid4().hex[:24],  # a real provider makes a new id per call
        model="gpt-4o-mini-2024-07-18",
        choices=[SimpleNamespace(message=SimpleNamespace(content="(a helpful answer to %r)" % prompt))],
        usage=SimpleNamespace(prompt_tokens=1234, completion_tokens=321,
                              prompt_tokens_details=SimpleNamespace(cached_tokens=1024)),
    )


def usage_event(response, project, environment, feature):
    """The event of one OpenAI chat completion (see docs/usage-fields.md for other providers)."""
    u = response.usage
    details = getattr(u, "prompt_tokens_details", None)
    return usage_pb2.UsageEvent(
        provider="openai",
        model=response.model,
        input_tokens=u.prompt_tokens or 0,           # all prompt tokens, cached ones included
        output_tokens=u.completion_tokens or 0,
        cached_tokens=getattr(details, "cached_tokens", 0) or 0,
        request_id=response.id,                      # stable provider id: the idempotency key
        project=project,
        environment=environment,
        feature=feature,
    )


def send_usage(stub, key, event, attempts=5, base_delay=0.2, timeout=5.0):
    """Sends one event; the IngestResponse, or None when it could not be recorded (logged)."""
    for attempt in range(1, attempts + 1):
        try:
            resp = stub.Ingest(usage_pb2.IngestBatch(events=[event]),
                               metadata=(("x-api-key", key),), timeout=timeout)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNAVAILABLE and attempt < attempts:
                delay = base_delay * (2 ** (attempt - 1)) * random.uniform(1.0, 1.25)
                log.warning("usage event %s: UNAVAILABLE (%s); retrying in %.2fs with the same request_id",
                            event.request_id, e.details(), delay)
                time.sleep(delay)
                continue
            log.error("usage event %s not recorded: %s: %s", event.request_id, e.code().name, e.details())
            return None
        for err in resp.errors:      # the event was refused: fix the payload, do not retry
            log.error("usage event %s rejected: %s %s: %s", err.request_id, err.field, err.code, err.message)
        for w in resp.warnings:      # stored (or skipped), but something to know
            log.warning("usage event %s: %s: %s", w.request_id, w.code, w.message)
        return resp
    return None


def main():
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    addr = os.environ.get("COSTLYNX_GRPC_ADDR", "127.0.0.1:50051")
    key = os.environ.get("COSTLYNX_INGESTION_KEY")
    if not key:
        log.error("set COSTLYNX_INGESTION_KEY to an ingestion key")
        return 2

    response = call_llm("Where is my order #1234?")
    answer = response.choices[0].message.content  # the user gets this whatever happens below

    event = usage_event(response, project=os.environ.get("COSTLYNX_PROJECT", "customer-support"),
                        environment=os.environ.get("COSTLYNX_ENVIRONMENT", "prod"), feature="support-reply")
    with grpc.insecure_channel(addr) as channel:
        resp = send_usage(usage_pb2_grpc.UsageIngestionStub(channel), key, event,
                          attempts=int(os.environ.get("COSTLYNX_RETRY_ATTEMPTS", "5")),
                          base_delay=float(os.environ.get("COSTLYNX_RETRY_BASE_SECONDS", "0.2")))
    log.info("answer: %s", answer)
    if resp is None:
        return 1
    print(json.dumps({"requestId": event.request_id, "ok": resp.ok, "inserted": resp.inserted,
                      "skipped": resp.skipped, "rejected": resp.rejected,
                      "warnings": [w.code for w in resp.warnings]}))
    return 0 if resp.ok and resp.rejected == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
