# Grove's coordinator and worker in one image, for deploy/kubernetes (or any container runtime).
#
#   docker build -t grove .
#
# The build stage runs the same scripts as CI: scripts/install-deps.sh for the Debian packages,
# scripts/build.sh for the optimized build. The image holds the two executables, the sample tiles
# and cluster.yaml; workers need only the worker binary (they fetch the run's files from the
# coordinator).
ARG SWIFT_VERSION=6.1
FROM swift:${SWIFT_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN bash scripts/install-deps.sh \
 && bash scripts/build.sh --product coordinator \
 && bash scripts/build.sh --product worker \
 && mkdir -p /out/bin \
 && cp "$(swift build -c release -Xswiftc -enable-testing --show-bin-path)"/coordinator \
       "$(swift build -c release -Xswiftc -enable-testing --show-bin-path)"/worker /out/bin/

FROM swift:${SWIFT_VERSION}-bookworm-slim
# The shared libraries Grove links (libzmq, SQLite, zlib, libpng); the Swift runtime comes with the base.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libzmq5 libsqlite3-0 zlib1g libpng16-16 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/bin/ /opt/grove/bin/
COPY cluster.yaml /opt/grove/
COPY data/aerial-sample /opt/grove/data/aerial-sample
WORKDIR /opt/grove
ENV PATH=/opt/grove/bin:$PATH
# 7070 control, 7071 samples (deploy/kubernetes sets dataset.serve_port), 8080 status.
EXPOSE 7070 7071 8080
ENTRYPOINT []
CMD ["coordinator", "--help"]
