# Placeholder until the deployment issue: builds costlynxd with the same scripts as CI on
# Debian 12. The multi-stage runtime image, non-root user and health check come with the
# container/Helm issue.
FROM debian:12
WORKDIR /src
COPY . .
RUN ./scripts/deps.sh && ./scripts/build.sh
EXPOSE 8080 50051
VOLUME /data
ENV COSTLYNX_DATA_DIR=/data COSTLYNX_HTTP_ADDR=0.0.0.0:8080
STOPSIGNAL SIGTERM
CMD ["/src/build/costlynxd"]
