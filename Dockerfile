# Container image for the Convert Experiences source connector.
#
# Default base: Airbyte's own Python connector base image, pinned by digest.
# It is what Airbyte's connector pipeline builds Python connectors on (Debian
# bookworm slim, Python 3.11, UTC, a non-root `airbyte` user with uid 1000),
# so a published image behaves like every other Airbyte Python connector and
# metadata.yaml's connectorBuildOptions.baseImage can name the very same image.
# Offline builds (scripts/docker.sh build) pass --build-arg BASE_IMAGE=
# source-convert-base:bookworm, a debootstrapped bookworm with Debian's
# Python 3.11 and the build machine's extra CA certificates; the steps below
# work unchanged on both.
#
# Only classic-builder features are used (no BuildKit-only syntax), because
# the offline engine is driven with the classic builder.
#
# Stages: `deps` holds the locked dependencies, `builder` installs and checks
# the connector and builds its wheel, the final image is `deps`' venv plus
# that wheel.  A code change therefore rebuilds a few-kB layer, not the
# ~300 MB dependency layer.  The runtime venv never contains pip: the base's
# own pip drives it with `pip --python`.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.0@sha256:d9894b6895923b379f3006fa251147806919c62b7d9021b5cd125bb67d7bbe22

# ------------------------------------------------------------------- deps ----
FROM ${BASE_IMAGE} AS deps

# pip ships its own CA bundle (certifi); make it use the system store instead,
# which on the local base also holds the intercepting proxy's CA.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

WORKDIR /build

# Only the lock goes in here, so this stage stays cached until it changes.
# The test suites bundled in the pandas/numpy wheels (~55 MB, never imported
# by the connector) are dropped.
COPY requirements.lock ./
RUN python3 -m venv --without-pip /opt/venv \
    && python3 -m pip --python /opt/venv/bin/python install --no-cache-dir -r requirements.lock \
    && site=/opt/venv/lib/python3.11/site-packages \
    && rm -rf "$site"/pandas/tests "$site"/numpy/tests "$site"/numpy/*/tests \
    && rm -rf /root/.cache

# ---------------------------------------------------------------- builder ----
FROM deps AS builder

COPY . ./
# Install the connector constrained to the lock, then prove the result is
# exactly the lock plus the connector (a dependency added to pyproject.toml
# but not to requirements.lock fails here), that the dependency set is
# consistent and that the entry point imports.  The wheel is what ships.
RUN pip="python3 -m pip --python /opt/venv/bin/python" \
    && $pip install --no-cache-dir -c requirements.lock . \
    && $pip check \
    && norm() { grep -vE '^[[:space:]]*(#|$)' | tr 'A-Z_.' 'a-z--' | sort; } \
    && $pip freeze --all --exclude airbyte-source-convert | norm >/tmp/installed.txt \
    && norm <requirements.lock >/tmp/locked.txt \
    && diff -u /tmp/locked.txt /tmp/installed.txt \
    && (cd / && /opt/venv/bin/python -c "import source_convert.run, source_convert.components; source_convert.SourceConvert()") \
    && $pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && rm -rf /root/.cache

# ------------------------------------------------------------------ final ----
FROM ${BASE_IMAGE}

LABEL io.airbyte.name=airbyte/source-convert
LABEL io.airbyte.version=2.0.0

# Non-root runtime user.  Airbyte's base already has `airbyte` (uid 1000);
# the local base does not, so create it when missing.
RUN if ! id -u airbyte >/dev/null 2>&1; then \
        useradd --uid 1000 --user-group --no-create-home --home-dir /airbyte \
                --shell /usr/sbin/nologin airbyte; \
    fi \
    && mkdir -p /airbyte/integration_code \
    && chown airbyte:airbyte /airbyte

# Locked dependencies (cached layer), then the connector's wheel on top.  The
# venv is owned by root and read-only for the runtime user; it carries the
# .pyc files pip compiled at install time, so imports stay fast.
COPY --from=deps /opt/venv /opt/venv
COPY --from=builder /dist /tmp/dist
# (PYTHONDONTWRITEBYTECODE keeps the base's pip from leaving ~10 MB of its own
# .pyc files in this layer; pip still compiles the wheel it installs.)
RUN export PYTHONDONTWRITEBYTECODE=1 \
    && python3 -m pip --python /opt/venv/bin/python install \
        --no-cache-dir --no-index --no-deps /tmp/dist/*.whl \
    && python3 -m pip --python /opt/venv/bin/python check \
    && rm -rf /tmp/dist /root/.cache

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AIRBYTE_ENTRYPOINT="source-convert"

WORKDIR /airbyte/integration_code
USER 1000:1000

ENTRYPOINT ["source-convert"]
