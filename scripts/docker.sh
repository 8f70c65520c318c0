#!/usr/bin/env bash
# scripts/docker.sh — make Docker usable on an offline machine and build the
# connector image.  The only network needed is Debian's mirror (for docker.io,
# debootstrap and the base root filesystem) and PyPI (for the image build).
#
#   bash scripts/docker.sh engine   start a local Docker engine (installs docker.io if needed)
#   bash scripts/docker.sh base     build the local base image source-convert-base:bookworm
#   bash scripts/docker.sh build    engine + base + docker build of the connector image
#   bash scripts/docker.sh all      same as build
#
# Every step is idempotent: a running engine, an existing base image and the
# docker build cache are reused, so a second run takes seconds.
#
# Environment overrides:
#   SOURCE_CONVERT_IMAGE       connector image tag      (default airbyte/source-convert:dev)
#   SOURCE_CONVERT_BASE_IMAGE  local base image tag     (default source-convert-base:bookworm)
#   SOURCE_CONVERT_REBUILD_BASE=1  rebuild the base image even if it exists
#   DEBIAN_MIRROR              mirror for debootstrap   (default: the one apt is configured with)
#   DOCKERD_LOG                dockerd log file         (default /tmp/source-convert-dockerd.log)
#   DOCKERD_WAIT_SECONDS       how long to wait for the engine (default 90)
#
# Networking note: dockerd is started with --bridge=none --iptables=false, so
# no docker0 bridge, no NAT rules and no container addresses exist on this
# machine.  A container run without --network gets only its own loopback (and
# the client prints "WARNING: IPv4 forwarding is disabled", harmless).
# Containers that need the network (builds, tests against the simulator on
# 127.0.0.1) must use --network host.  The client here may be newer than
# Debian's engine (20.10, API 1.41): it negotiates the API version down, and
# builds use the classic builder (no buildx plugin is installed).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${SOURCE_CONVERT_IMAGE:-airbyte/source-convert:dev}"
BASE_IMAGE="${SOURCE_CONVERT_BASE_IMAGE:-source-convert-base:bookworm}"
SUITE="bookworm"
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/source-convert-dockerd.log}"
DOCKERD_WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-90}"
CA_DIR="/usr/local/share/ca-certificates"

log() { printf '[docker.sh] %s\n' "$*" >&2; }
die() { printf '[docker.sh] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

require_root() {
    [[ "$(id -u)" -eq 0 ]] || die "this step needs root (apt-get, dockerd, debootstrap); run it as root"
}

docker_ok() { docker info >/dev/null 2>&1; }

# --- packages -----------------------------------------------------------------

APT_UPDATED=0
apt_install() {
    # apt_install PKG...  — install the packages, running `apt-get update` first
    # only when apt does not know one of them yet (fresh machine, empty lists).
    local pkg need_update=0
    for pkg in "$@"; do
        if ! apt-cache show "$pkg" >/dev/null 2>&1; then need_update=1; fi
    done
    if [[ $need_update -eq 1 && $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/tmp/source-convert-apt.log 2>&1; then
        if [[ $APT_UPDATED -eq 0 ]]; then
            # Stale lists can point at .debs the mirror no longer has: refresh once and retry.
            log "install failed; refreshing package lists and retrying"
            apt-get update -qq || die "apt-get update failed"
            APT_UPDATED=1
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/tmp/source-convert-apt.log 2>&1 \
                || { tail -n 30 /tmp/source-convert-apt.log >&2; die "apt-get install $* failed"; }
        else
            tail -n 30 /tmp/source-convert-apt.log >&2
            die "apt-get install $* failed"
        fi
    fi
}

ensure_tools() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if [[ ${#missing[@]} -gt 0 ]]; then
        require_root
        apt_install "${missing[@]}"
    fi
    command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap still missing after installing it"
    command -v docker >/dev/null 2>&1 || die "no docker client on PATH"
}

# --- engine -------------------------------------------------------------------

# True if a dockerd process is alive.  Zombies do not count: a killed dockerd
# whose parent is gone can linger as <defunct> under a non-reaping init.
pid_alive() {
    local state
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != "Z" && "$state" != "X" ]]
}

dockerd_alive() {
    local pid
    for pid in $(pgrep -x dockerd 2>/dev/null || true); do
        pid_alive "$pid" && return 0
    done
    return 1
}

# clear_stale_pidfile FILE NAME — remove FILE unless it names a live process
# called NAME (after a restart the pid may belong to something else).
clear_stale_pidfile() {
    local f="$1" name="$2" pid
    [[ -f "$f" ]] || return 0
    pid="$(cat "$f" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && pid_alive "$pid" \
        && [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == "$name" ]]; then
        return 0
    fi
    log "removing stale pid file $f"
    rm -f "$f"
}

# start_dockerd STORAGE_DRIVER — start dockerd in the background and wait until
# the client can talk to it.  Returns non-zero (after showing the log) if
# dockerd exits or does not answer within DOCKERD_WAIT_SECONDS.
start_dockerd() {
    local storage="$1" pid="" waited=0
    if dockerd_alive; then
        log "a dockerd process exists but does not answer yet; waiting for it"
    else
        log "starting dockerd (storage=$storage, no bridge, no iptables); log: $DOCKERD_LOG"
        # setsid + nohup: the engine outlives this script and its process group.
        setsid nohup dockerd \
            --storage-driver="$storage" \
            --bridge=none \
            --iptables=false \
            --ip6tables=false \
            --ip-forward=false \
            --ip-masq=false \
            >"$DOCKERD_LOG" 2>&1 </dev/null &
        pid=$! # setsid and nohup exec, so this is dockerd's own pid
        log "dockerd pid $pid"
    fi
    until docker_ok; do
        if { [[ -n "$pid" ]] && ! pid_alive "$pid"; } || { [[ -z "$pid" ]] && ! dockerd_alive; }; then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            log "dockerd exited during start-up (full log in $DOCKERD_LOG)"
            return 1
        fi
        if [[ $waited -ge $DOCKERD_WAIT_SECONDS ]]; then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            log "docker engine not ready after ${DOCKERD_WAIT_SECONDS}s (full log in $DOCKERD_LOG)"
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "engine ready after ${waited}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
}

cmd_engine() {
    if docker_ok; then
        log "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        return 0
    fi
    require_root
    ensure_tools

    # A dockerd from an earlier (killed) session leaves pid files behind that
    # make a new dockerd refuse to start.
    clear_stale_pidfile /var/run/docker.pid dockerd
    clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd

    # overlay2 works here (ext4 root, overlay in /proc/filesystems).  Where it
    # does not (e.g. a root that is itself overlayfs), fall back to vfs, which
    # always works but copies whole layers.  DOCKERD_STORAGE_DRIVER forces one.
    if [[ -n "${DOCKERD_STORAGE_DRIVER:-}" ]]; then
        start_dockerd "$DOCKERD_STORAGE_DRIVER" || die "could not start the docker engine"
    elif ! start_dockerd overlay2; then
        if dockerd_alive; then
            die "dockerd is running but does not answer; see $DOCKERD_LOG"
        fi
        clear_stale_pidfile /var/run/docker.pid dockerd
        log "retrying with the vfs storage driver"
        start_dockerd vfs || die "could not start the docker engine"
    fi
}

# --- base image ---------------------------------------------------------------

debian_mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    # First main-archive URI apt is configured with (deb822 *.sources or one-line *.list).
    local uri
    uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' \
        | grep -E '/debian/?$' | head -n 1 || true)"
    if [[ -z "$uri" ]]; then
        uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' \
            | grep -E '/debian/?$' | head -n 1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

ROOTFS=""
cleanup_rootfs() {
    [[ -n "$ROOTFS" && -d "$ROOTFS" ]] || return 0
    # debootstrap mounts /proc and /sys inside the target; never rm -rf through them.
    local m
    awk -v d="$ROOTFS" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$ROOTFS"
}

cmd_base() {
    cmd_engine
    if [[ "${SOURCE_CONVERT_REBUILD_BASE:-0}" != "1" ]] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "base image $BASE_IMAGE already present"
        return 0
    fi
    require_root
    ensure_tools

    local mirror keyring_args=()
    mirror="$(debian_mirror)"
    if [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
        keyring_args=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    fi

    ROOTFS="$(mktemp -d /tmp/source-convert-rootfs.XXXXXX)"
    trap cleanup_rootfs EXIT
    log "debootstrap --variant=minbase $SUITE from $mirror into $ROOTFS (a few minutes)"
    if ! debootstrap --variant=minbase "${keyring_args[@]}" \
        --include=python3,python3-venv,python3-pip,ca-certificates \
        "$SUITE" "$ROOTFS" "$mirror" >/tmp/source-convert-debootstrap.log 2>&1; then
        tail -n 30 /tmp/source-convert-debootstrap.log >&2
        [[ -f "$ROOTFS/debootstrap/debootstrap.log" ]] && tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (log: /tmp/source-convert-debootstrap.log)"
    fi

    # Trust the same extra CAs as the host (the intercepting HTTPS proxy), so pip
    # inside builds can reach PyPI through it.
    local crt n=0
    shopt -s nullglob
    for crt in "$CA_DIR"/*.crt; do
        install -D -m 0644 "$crt" "$ROOTFS$CA_DIR/$(basename "$crt")"
        n=$((n + 1))
    done
    shopt -u nullglob
    log "copied $n extra CA certificate(s); running update-ca-certificates in the rootfs"
    chroot "$ROOTFS" /usr/sbin/update-ca-certificates --fresh >/dev/null 2>&1 \
        || die "update-ca-certificates failed inside the rootfs"

    # Strip what an image never needs.
    log "stripping apt lists, caches, docs and logs"
    rm -rf "$ROOTFS"/var/lib/apt/lists/* \
        "$ROOTFS"/var/cache/apt/* \
        "$ROOTFS"/var/cache/debconf/*-old \
        "$ROOTFS"/usr/share/doc/* \
        "$ROOTFS"/usr/share/man/* \
        "$ROOTFS"/usr/share/info/* \
        "$ROOTFS"/usr/share/lintian \
        "$ROOTFS"/var/log/* \
        "$ROOTFS"/tmp/* \
        "$ROOTFS"/debootstrap
    find "$ROOTFS"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
    find "$ROOTFS"/usr/lib/python3* -name '__pycache__' -type d -prune -exec rm -rf {} + 2>/dev/null || true
    # Docker provides these at run time; do not bake the host's into the image.
    : >"$ROOTFS/etc/resolv.conf"
    echo "localhost" >"$ROOTFS/etc/hostname"

    log "importing rootfs as $BASE_IMAGE"
    tar --numeric-owner -C "$ROOTFS" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $SUITE + python3 (scripts/docker.sh)" \
        - "$BASE_IMAGE" >/dev/null
    cleanup_rootfs
    ROOTFS=""
    trap - EXIT
    log "base image ready: $BASE_IMAGE ($(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

# --- connector image ----------------------------------------------------------

cmd_build() {
    cmd_base
    [[ -f "$REPO_ROOT/Dockerfile" ]] || die "no Dockerfile in $REPO_ROOT"
    [[ -d "$REPO_ROOT/source_convert" ]] || die "no source_convert/ package in $REPO_ROOT"
    log "docker build -t $IMAGE (base $BASE_IMAGE, host network)"
    # The engine has no bridge network, so build steps use the host's network
    # (pip -> PyPI through the intercepting proxy, whose CA the base trusts).
    # DOCKER_BUILDKIT=0: the client has no buildx plugin; the classic builder
    # is what is available and it honours --network host and .dockerignore.
    DOCKER_BUILDKIT=0 docker build --force-rm \
        --network host \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        -t "$IMAGE" \
        "$REPO_ROOT" || die "docker build failed"
    log "image ready: $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

main() {
    [[ $# -eq 1 ]] || usage
    case "$1" in
        engine) cmd_engine ;;
        base) cmd_base ;;
        build | all) cmd_build ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
