#!/usr/bin/env bash
# What the tests need on this machine, installed or fetched by the project itself:
# - from Debian bookworm (apt-get install): dockerd 20.10 (docker.io), busybox-static for the test
#   image, the registry, the small tools the tests call, and HAProxy (the bench's yardstick);
# - from Debian's newest suite (sid), fetched with a private sources list and state dir and
#   unpacked with dpkg -x, never installed: the newest dockerd, docker CLI, containerd, buildx and
#   compose (the clients the tests drive, with either engine), and
#   moby's Go source (the structs dockerd decodes). sid's runc needs a newer glibc than bookworm's,
#   so containers run with bookworm's runc (installed with docker.io);
# - from Debian stable (trixie), the same way: dockerd 26.1 (API 1.45) and its Go source. It runs
#   with bookworm's containerd (1.6; docker.io asks for >= 1.4) and runc, and needs glibc 2.34.
# Idempotent: what is there is kept; sid and trixie are fetched again only when they serve another
# version.
# Prints what it got. Any failure is fatal with its reason: tests never run against a guess.
#
# Usage: scripts/engines.sh            install/fetch, then print versions
#        scripts/engines.sh --check    only say what is missing (exit 1 if anything is)
# Cache: $DOCKWARD_ENGINES_DIR (default /var/cache/dockward/engines)
set -euo pipefail

cache=${DOCKWARD_ENGINES_DIR:-/var/cache/dockward/engines}
newest=$cache/newest
sid_packages=(docker.io docker-cli containerd docker-buildx docker-compose golang-github-docker-docker-dev)
trixie=$cache/trixie
trixie_packages=(docker.io golang-github-docker-docker-dev)
say() { echo "engines: $*"; }
die() { echo "engines: $*" >&2; exit 1; }

# command -> the bookworm package that provides it
declare -A apt_for=(
  [dockerd]=docker.io [runc]=runc [busybox]=busybox-static [openssl]=openssl [curl]=curl
  [iptables]=iptables    # icc: false needs dockerd to manage iptables
  [useradd]=passwd       # dockerd creates the dockremap user for userns-remap
  [chattr]=e2fsprogs     # the interrupted-write test makes a file immutable
  [docker-registry]=docker-registry [htpasswd]=apache2-utils
  [dpkg-deb]=dpkg [apt-get]=apt
  [systemd-analyze]=systemd   # the gateway's unit is checked with systemd-analyze verify
  [chromium]=chromium     # the audit's HTML report is rendered in headless Chromium
  [ip]=iproute2           # a stopped test daemon's bridges are removed from the host
  [haproxy]=haproxy [taskset]=util-linux  # npm run bench: the yardstick proxy, and pinning the load generator
)

missing_commands() {
  local c
  for c in "${!apt_for[@]}"; do command -v "$c" >/dev/null || echo "$c"; done
}

newest_ok() { [[ -x $newest/root/usr/sbin/dockerd && -x $newest/root/usr/bin/docker && -x $newest/root/usr/bin/containerd && -f $newest/versions ]]; }
trixie_ok() { [[ -x $trixie/root/usr/sbin/dockerd && -f $trixie/root/usr/share/gocode/src/github.com/docker/docker/api/common.go && -f $trixie/versions ]]; }

if [[ ${1:-} == --check ]]; then
  gaps=$(missing_commands | sort | tr '\n' ' ')
  newest_ok || gaps+="the newest dockerd (run scripts/engines.sh as root) "
  trixie_ok || gaps+="trixie's dockerd (run scripts/engines.sh as root) "
  [[ -z $gaps ]] || die "missing: $gaps"
  say "all present"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "must run as root (it installs Debian packages); missing now: $(missing_commands | tr '\n' ' ')"

need=()
while read -r c; do [[ -n $c ]] && need+=("${apt_for[$c]}"); done < <(missing_commands)
if ((${#need[@]})); then
  say "installing from bookworm: ${need[*]}"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "apt-get install ${need[*]} failed"
fi

# fetch_suite NAME SUITE COMPLETE PACKAGE...: SUITE's current PACKAGEs, unpacked under
# $cache/NAME/root with what was fetched in $cache/NAME/versions. Privately: the suite's own sources
# list, lists, cache and status, so the system's apt is untouched. Fetched again only when SUITE
# serves other versions or the command COMPLETE says what is there is not complete.
fetch_suite() {
  local name=$1 suite=$2 complete=$3; shift 3
  local state=$cache/apt-$suite dest=$cache/$name
  mkdir -p "$state/lists/partial" "$state/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" > "$state/sources.list"
  touch "$state/status"
  local apt_suite=(-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache::Archives=$state/archives"
    -o "Dir::State::Status=$state/status" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${apt_suite[@]}" update -qq || die "cannot read Debian $suite's package lists (apt-get update failed)"
  local wanted="" p v
  for p in "$@"; do
    v=$(apt-cache "${apt_suite[@]}" policy "$p" | awk '/Candidate:/ {print $2}')
    [[ -n $v && $v != "(none)" ]] || die "Debian $suite has no package $p"
    wanted+="$p $v"$'\n'
  done
  # $(cat) drops the last newline: compared with it, every run saw new versions and fetched again.
  "$complete" && [[ $(cat "$dest/versions") == "${wanted%$'\n'}" ]] && return 0
  say "fetching from $suite: $*"
  local tmp release old deb
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  (cd "$tmp" && apt-get "${apt_suite[@]}" download -qq "$@") || { rm -rf "$tmp"; die "downloading $* from $suite failed"; }
  mkdir "$tmp/root"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/root" || { rm -rf "$tmp"; die "cannot unpack $deb"; }; done
  printf '%s' "$wanted" > "$tmp/versions"
  # $dest is a symlink to a complete unpacked dir, switched by one rename: tests that are
  # running (or starting) meanwhile never see it missing or half-filled.
  release=$(mktemp -d "$cache/$name.XXXXXX")
  chmod 755 "$release"
  mv "$tmp/root" "$tmp/versions" "$release/"
  rm -rf "$tmp"
  [[ -d $dest && ! -L $dest ]] && mv "$dest" "$(mktemp -u "$cache/$name.XXXXXX")"
  ln -sfn "$(basename "$release")" "$cache/$name.next"
  mv -T "$cache/$name.next" "$dest"
  for old in "$cache/$name".*; do [[ $old == "$release" ]] || rm -rf "$old"; done
}

fetch_suite newest sid newest_ok "${sid_packages[@]}"
newest_ok || die "the newest engine is incomplete under $newest"
fetch_suite trixie trixie trixie_ok "${trixie_packages[@]}"
trixie_ok || die "the trixie engine is incomplete under $trixie"

# moby 20.10.24's Go source (bookworm's golang-github-docker-docker-dev), unpacked, never
# installed: the body types generated from it are checked against it.
moby2010=$cache/moby-20.10
if [[ ! -f $moby2010/root/usr/share/gocode/src/github.com/docker/docker/api/common.go ]]; then
  say "fetching moby 20.10's Go source (bookworm golang-github-docker-docker-dev)"
  tmp2010=$(mktemp -d "$cache/moby-20.10.XXXXXX")
  (cd "$tmp2010" && apt-get download -qq -o APT::Sandbox::User=root golang-github-docker-docker-dev) || {
    apt-get update -qq && (cd "$tmp2010" && apt-get download -qq -o APT::Sandbox::User=root golang-github-docker-docker-dev)
  } || die "downloading golang-github-docker-docker-dev from bookworm failed"
  mkdir "$tmp2010/root"
  dpkg -x "$tmp2010"/*.deb "$tmp2010/root" || die "cannot unpack golang-github-docker-docker-dev"
  rm -rf "$moby2010" && mv -T "$tmp2010" "$moby2010"
fi

say "dockerd (bookworm): $(dockerd --version)"
say "dockerd (newest):   $("$newest/root/usr/sbin/dockerd" --version)"
say "dockerd (trixie):   $("$trixie/root/usr/sbin/dockerd" --version)"
say "containerd (newest): $("$newest/root/usr/bin/containerd" --version | awk '{print $3}'), runc: $(runc --version | head -1)"
say "buildx: $("$newest/root/usr/libexec/docker/cli-plugins/docker-buildx" version 2>/dev/null | awk '{print $2}'), compose: $("$newest/root/usr/libexec/docker/cli-plugins/docker-compose" version --short 2>/dev/null)"
say "docker CLI (tested, newest): $("$newest/root/usr/bin/docker" --version), on PATH: $(docker --version 2>/dev/null || echo none)"
say "registry: $(docker-registry --version 2>/dev/null | awk '{print $3}')"
say "moby Go source: 20.10 in $moby2010, 28.5 with the newest engine, 26.1 with trixie's"
say "newest engine in $newest, trixie's in $trixie"
