# clusterdns container image: a drop-in for the CoreDNS image in kube-system.
#
#   docker build -t clusterdns:0.1.0 .
#
# Base images: the official Node.js image, Debian 12 "slim" variant, for the
# build stages, pinned to a Node patch release; the runtime stage is the same
# Debian slim with that image's node binary copied in. Release builds should pin
# the digests as well, resolved at release time (nothing here can look them up):
#   docker build --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest> \
#     --build-arg DEBIAN_IMAGE=debian:12.15-slim@sha256:<digest> .
# Why not gcr.io/distroless/nodejs20-debian12:nonroot: distroless publishes only
# moving tags (`nonroot`, `latest`), so it can be pinned by digest alone, and
# its Node release drifts from the one we build and test with. Taking node from
# the image we build with gives the exact Node we test with; the runtime stage
# has no npm, corepack or yarn and no setuid bits, close to distroless's attack
# surface. See deploy/README.md.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
# The runtime stage's base: the Debian release the Node image is built on.
ARG DEBIAN_IMAGE=debian:12.15-slim

# ---- build: the native UDP addon and dist/ -----------------------------------
FROM ${NODE_IMAGE} AS build
# python3, make and g++: node-gyp compiles the batched UDP addon
# (native/udp_batch.c, recvmmsg/sendmmsg; README "Command line"). Only this
# stage has them; the runtime stage gets the one .node file.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency's install script runs (only esbuild, a dev
# dependency of tsx, has one, and the build doesn't use it; the test
# test/deploy.test.ts fails if a runtime dependency gains one). Our own install
# script (the addon) runs as part of `npm run build` below instead.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY binding.gyp ./
COPY native ./native
COPY scripts/build-native.mjs ./scripts/
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The image must serve UDP in batches: a build that fell back to dgram (the
# build script only warns, so that `npm ci` works without a compiler) stops
# here instead of shipping at half the throughput.
RUN npm run build \
 && node -e "require('./build/Release/udp_batch.node')"

# ---- prod-deps: runtime node_modules only -----------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ------------------------------------------------------------------
# Debian slim plus the one node binary, taken from the Node image it was
# released in. The Node image is that same Debian with Node under /usr/local;
# node itself needs only libc, libstdc++ and libgcc_s, which slim has. This
# stage has neither npm, corepack nor yarn (nothing at run time needs them).
FROM ${DEBIAN_IMAGE} AS runtime
# setuid/setgid bits are useless to a non-root process (and blocked by
# allowPrivilegeEscalation: false anyway). 65532 is the "nonroot" uid of
# distroless and of the CoreDNS image, and the runAsUser of
# deploy/deployment.yaml.
RUN find / -xdev -type f -perm /6000 -exec chmod a-s {} + \
 && groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin nonroot
# The node binary belongs to the server's user: Linux pages out (MADV_PAGEOUT)
# the clean pages of a file only for a process that owns it or may write it,
# and once ready the server gives back the ~25 MB of its binary that only
# start-up reads (src/server/page-out.ts: a settled 10k-object server 66 -> 41
# MB RSS). It still cannot change the file: the pod's root filesystem is
# read-only. Copied into a fresh base, so the image holds one copy of it.
# Mode 0555: owning the file is what the kernel checks; nothing needs to write it.
COPY --from=build --chown=65532:65532 --chmod=0555 /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production
WORKDIR /app
# package.json is needed at run time: its "type": "module" makes dist/*.js ESM.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Where src/server/udp-batch.ts looks for it: ../../build/Release from dist/server.
COPY --from=build /app/build/Release/udp_batch.node ./build/Release/udp_batch.node
# The addon was compiled against the build image's glibc: check it loads on this
# base too (NODE_IMAGE and DEBIAN_IMAGE must name the same Debian release).
RUN ["node", "-e", "require('/app/build/Release/udp_batch.node')"]
# The application's files stay root-owned and read-only to the server; the pod
# also runs with readOnlyRootFilesystem. Numeric USER so kubelet can verify runAsNonRoot.
USER 65532:65532
# Relative paths in a Corefile resolve against the working directory; CoreDNS's
# image runs in /, so do we.
WORKDIR /
# Port 53 as non-root: the image sets no file capabilities on node. In
# Kubernetes the pod sets net.ipv4.ip_unprivileged_port_start=53 (see
# deploy/deployment.yaml and deploy/README.md); `docker run` and Podman already
# default that sysctl to 0 in a container's network namespace.
EXPOSE 53/udp 53/tcp 9153/tcp 8080/tcp 8181/tcp
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["-conf", "/etc/coredns/Corefile"]
