#!/usr/bin/env bash
# Turns TLS on at the local PostgreSQL (CI's server) when it is off: a self-signed certificate for
# localhost / 127.0.0.1 (so that sslmode=verify-full can pass with DATABASE_CA_CERT = that certificate),
# the key readable by the postgres user only, ALTER SYSTEM, and a reload (ssl is a reload setting: no restart).
# Usage: scripts/postgres-ssl.sh [connection string of a superuser]   (run as root or the postgres user)
set -euo pipefail
URL="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
if [ "$(psql "$URL" -Atc 'show ssl')" = "on" ]; then
  echo "postgres-ssl: ssl is already on ($(psql "$URL" -Atc 'show ssl_cert_file'))"
  exit 0
fi
DIR=/var/lib/postgresql/callrec-ssl
mkdir -p "$DIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$DIR/server.key" -out "$DIR/server.crt" >/dev/null 2>&1
chown -R postgres:postgres "$DIR" 2>/dev/null || true
chmod 700 "$DIR"
chmod 600 "$DIR/server.key"
chmod 644 "$DIR/server.crt"
psql "$URL" -q -c "alter system set ssl_cert_file = '$DIR/server.crt'" \
  -c "alter system set ssl_key_file = '$DIR/server.key'" \
  -c "alter system set ssl = on" -c "select pg_reload_conf()" >/dev/null
sleep 1
echo "postgres-ssl: ssl is $(psql "$URL" -Atc 'show ssl') (certificate $DIR/server.crt)"
