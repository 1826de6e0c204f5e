# Sourced by scripts/test and .ci/run: installs what a fresh machine lacks, starts PostgreSQL
# and Redis when they are down, and exports the URLs the PostgreSQL/Redis tests use.
# Fails (non-zero) when either service cannot be reached.

set -euo pipefail

log() { printf '== %s\n' "$*" >&2; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v curl >/dev/null || missing+=(curl)
# Browser tests (headless Chromium), PDF text and QR checks, the Japanese font of PDFs, the
# PKCS#11 card emulation.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
# The Debian package of the card bridge (cargo-deb: dpkg-shlibdeps for its dependencies, strip
# from binutils, which dpkg-dev depends on).
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
# The browser extension's archives (scripts/package-extension; bridge/tests/package.rs reads
# them) and the Firefox end-to-end test of the bridge.
command -v zip >/dev/null || missing+=(zip)
command -v unzip >/dev/null || missing+=(unzip)
command -v firefox-esr >/dev/null || missing+=(firefox-esr)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

if ! command -v cargo-nextest >/dev/null; then
  log "cargo install cargo-nextest"
  cargo install cargo-nextest --locked
fi

# PostgreSQL
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then
  log "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
fi
pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }

pg_url="postgres://postgres@127.0.0.1:5432/test"
if ! psql "$pg_url" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  # A stock Debian cluster: no `test` database and password auth on TCP. Give the postgres role
  # a password and create the database through the local socket.
  log "preparing PostgreSQL role and database"
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  su postgres -c "psql -qAtc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 \
    || su postgres -c "createdb test"
  pg_url="postgres://postgres:postgres@127.0.0.1:5432/test"
fi
psql "$pg_url" -qAtc 'SELECT 1' >/dev/null || { echo "cannot connect to $pg_url" >&2; exit 1; }

# Redis
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
if ! redis_up; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis_up && break; sleep 0.2; done
fi
redis_up || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

export SHIKAKU_TEST_POSTGRES_URL="$pg_url"
export SHIKAKU_TEST_REDIS_URL="redis://127.0.0.1:6379"
log "PostgreSQL and Redis ready"
