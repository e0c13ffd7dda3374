# costlynxd container image: docker build -t costlynx:dev .
#
# Stage "build" compiles with the same scripts (and so the same CMake) as CI on Debian 12.
# Stage "runtime" is Debian 12 with only the shared libraries costlynxd links against; the
# list is checked against `ldd build/costlynxd` + `dpkg -S` by tests/deploy/test_runtime_packages.py
# (libc6, libgcc-s1 and libstdc++6 come with the base image: apt depends on them). libcurl4 and
# the libraries under it send alert webhooks (ca-certificates: to https targets); tzdata gives
# budgets their IANA time zones (read from /usr/share/zoneinfo by services/governance/tz.c).
# Deployment guide: docs/deploy.md.

FROM debian:12 AS build
WORKDIR /src
# dependencies first: this layer is rebuilt only when deps.sh changes
COPY scripts/deps.sh scripts/deps.sh
RUN ./scripts/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN TARGET=costlynxd ./scripts/build.sh \
 && mkdir -p /out \
 && strip --strip-debug -o /out/costlynxd build/costlynxd \
 && /out/costlynxd --help >/dev/null

FROM debian:12 AS runtime
# one package a line, sorted; keep in step with tests/deploy/test_runtime_packages.py
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libbrotli1 \
      libbz2-1.0 \
      libc-ares2 \
      libcom-err2 \
      libcurl4 \
      libffi8 \
      libgflags2.2 \
      libgmp10 \
      libgnutls30 \
      libgrpc29 \
      libgssapi-krb5-2 \
      libh2o-evloop0.13 \
      libhogweed6 \
      libidn2-0 \
      libk5crypto3 \
      libkeyutils1 \
      libkrb5-3 \
      libkrb5support0 \
      libldap-2.5-0 \
      liblz4-1 \
      libnettle8 \
      libnghttp2-14 \
      libp11-kit0 \
      libprotobuf-c1 \
      libpsl5 \
      libre2-9 \
      librocksdb7.8 \
      librtmp1 \
      libsasl2-2 \
      libsnappy1v5 \
      libssh2-1 \
      libssl3 \
      libtasn1-6 \
      libunistring2 \
      libwslay1 \
      libyajl2 \
      libzstd1 \
      tzdata \
      zlib1g \
    ; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 costlynx; \
    useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/costlynx \
      --shell /usr/sbin/nologin costlynx; \
    install -d -o 10001 -g 10001 -m 0700 /var/lib/costlynx

COPY --from=build /out/costlynxd /usr/local/bin/costlynxd

# All configuration is by environment (flags win; `costlynxd --help` lists every variable).
# COSTLYNX_ADMIN_TOKEN is not set here: pass it at run time (a secret), or costlynxd makes one at
# the first start and prints it once. COSTLYNX_CATALOG empty = the catalog built into the binary.
ENV COSTLYNX_DATA_DIR=/var/lib/costlynx \
    COSTLYNX_HTTP_ADDR=0.0.0.0:8080 \
    COSTLYNX_GRPC_ADDR=0.0.0.0:50051 \
    COSTLYNX_SHUTDOWN_GRACE_MS=10000 \
    COSTLYNX_LOG_LEVEL=info
VOLUME ["/var/lib/costlynx"]
WORKDIR /var/lib/costlynx
USER 10001:10001
EXPOSE 8080 50051
# SIGTERM: stop accepting, finish in-flight requests, write everything queued, exit 0 (give
# the container at least COSTLYNX_SHUTDOWN_GRACE_MS + a few seconds: docker stop -t 20).
STOPSIGNAL SIGTERM
# No curl program in the image (only the library, for webhooks): bash, which every Debian image
# has, sends GET /readyz over /dev/tcp to the port of COSTLYNX_HTTP_ADDR and wants a 200.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["/bin/bash", "-c", "a=${COSTLYNX_HTTP_ADDR:-127.0.0.1:8080}; h=${a%:*}; h=${h#[}; h=${h%]}; case $h in ''|0.0.0.0|::) h=127.0.0.1;; esac; exec 3<>/dev/tcp/$h/${a##*:} && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r -t 2 line <&3 && [[ $line == HTTP/1.?' 200'* ]]"]
ENTRYPOINT ["/usr/local/bin/costlynxd"]
CMD ["serve"]
