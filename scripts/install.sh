#!/usr/bin/env bash
# Install artemis as a systemd service: the binary as /usr/local/bin/artemis, the unit as
# /etc/systemd/system/artemis.service (deploy/artemis.service), the config as
# /etc/artemis/artemis.toml (deploy/artemis.toml, never over an existing one), and the
# `artemis` system user the unit runs as; then `systemctl daemon-reload`. It neither enables
# nor starts the service.
#
#   scripts/install.sh [--binary PATH] [--prefix DIR] [--dry-run]
#   scripts/install.sh --uninstall [--prefix DIR] [--dry-run]
#
#   --binary PATH  install this binary instead of building one (cargo build --release --locked)
#   --prefix DIR   install into DIR as if it were / (a staging root): files only, no user, no
#                  ownership changes, no systemctl
#   --dry-run      print what would be done, change nothing
#   --uninstall    stop and disable the service, remove the binary and the unit; the config,
#                  the data (/var/lib/artemis) and the user stay
set -euo pipefail

usage() { # the comment above, on stdout for --help, else on stderr with exit code 2
    local text
    text=$(awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0")
    if [ "$1" = 0 ]; then echo "$text"; else echo "$text" >&2; fi
    exit "$1"
}
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

BINARY="" PREFIX="" DRY_RUN="" UNINSTALL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) BINARY=$(absolute "${2:?--binary needs a path}"); shift 2 ;;
        --prefix) PREFIX=$(absolute "${2:?--prefix needs a directory}"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done
# The deploy/ files and the build are relative to the checkout this script is in.
cd "$(dirname "$0")/.."

# The real system when no prefix (or /) is given: only then are users, owners and systemd
# touched.
PREFIX=${PREFIX%/}
SYSTEM=""
[ -z "$PREFIX" ] && SYSTEM=1
BIN_PATH=/usr/local/bin/artemis
UNIT_PATH=/etc/systemd/system/artemis.service
CONFIG_PATH=/etc/artemis/artemis.toml
USER_NAME=artemis

run() { # print a command, and run it unless this is a dry run
    echo "+ $*"
    [ -n "$DRY_RUN" ] || "$@"
}
skip() { echo "- skipped ($1): $2"; }

if [ -n "$SYSTEM" ] && [ -z "$DRY_RUN" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root, or with --prefix DIR to stage the files elsewhere" >&2
    exit 1
fi

# systemctl only where systemd runs (not in a container or chroot without it).
systemd_runs() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

daemon_reload() {
    if [ -z "$SYSTEM" ]; then
        skip "--prefix" "systemctl daemon-reload"
    elif systemd_runs; then
        run systemctl daemon-reload
    else
        skip "systemd is not running" "systemctl daemon-reload"
    fi
}

if [ -n "$UNINSTALL" ]; then
    if [ -z "$SYSTEM" ]; then
        skip "--prefix" "systemctl disable --now artemis.service"
    elif systemd_runs; then
        run systemctl disable --now artemis.service || true
    fi
    run rm -f "$PREFIX$BIN_PATH" "$PREFIX$UNIT_PATH"
    daemon_reload
    echo "kept: $PREFIX$CONFIG_PATH, $PREFIX/var/lib/artemis and the user $USER_NAME"
    exit 0
fi

if [ -z "$BINARY" ]; then
    BINARY=target/release/artemis
    run cargo build --release --locked
fi
if [ -z "$DRY_RUN" ] && [ ! -x "$BINARY" ]; then
    echo "install.sh: $BINARY is not an executable file" >&2
    exit 1
fi
[ -x "$BINARY" ] && echo "installing $("$BINARY" --version)"

if [ -z "$SYSTEM" ]; then
    skip "--prefix" "create the system user $USER_NAME"
elif getent passwd "$USER_NAME" >/dev/null; then
    echo "user $USER_NAME exists"
else
    run useradd --system --user-group --home-dir /var/lib/artemis --no-create-home \
        --shell /usr/sbin/nologin --comment "artemis service registry" "$USER_NAME"
fi

run install -D -m 0755 "$BINARY" "$PREFIX$BIN_PATH"
run install -D -m 0644 deploy/artemis.service "$PREFIX$UNIT_PATH"
if [ -e "$PREFIX$CONFIG_PATH" ]; then
    echo "kept the existing $PREFIX$CONFIG_PATH (the shipped one is deploy/artemis.toml)"
else
    # Readable by the service's group only: the config may hold management tokens.
    run install -D -m 0640 deploy/artemis.toml "$PREFIX$CONFIG_PATH"
    if [ -n "$SYSTEM" ]; then
        run chgrp "$USER_NAME" "$CONFIG_PATH"
    else
        skip "--prefix" "chgrp $USER_NAME $CONFIG_PATH"
    fi
fi
daemon_reload
echo "next: systemctl enable --now artemis  (logs: journalctl -u artemis)"
