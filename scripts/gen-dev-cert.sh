#!/usr/bin/env bash
# Makes a self-signed development key pair for TLS on 127.0.0.1 and localhost:
#   DIR/NAME-cert.pem  X.509 certificate, CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1
#   DIR/NAME-key.pem   its RSA 2048 private key, PKCS#8 PEM, unencrypted, mode 600
#
#   scripts/gen-dev-cert.sh [--java] [--days N] [DIR [NAME ...]]     (DIR conf/tls, NAME dev)
#
# With openssl (1.1.1 or later) on the PATH it uses openssl; otherwise, or with --java, the JDK alone
# (java scripts/DevCert.java: the certificate is built and signed with java.security). Each NAME
# gets a pair of its own (e.g. "dev client": a server pair and a client pair for trustPath).
# Then set "tls": {"certPath": "conf/tls/dev-cert.pem", "keyPath": "conf/tls/dev-key.pem"} on a
# server, "bridge" or "http" in conf/tether.json (README, "TLS"). Development only: the key has no
# passphrase and nobody but you trusts the certificate.
set -euo pipefail
cd "$(dirname "$0")/.."

use_java=false
days=825
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --java) use_java=true ;;
    --days) days=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
dir=${args[0]:-conf/tls}
names=("${args[@]:1}")
[ ${#names[@]} -gt 0 ] || names=(dev)
mkdir -p "$dir"

openssl_ok() {
  command -v openssl >/dev/null 2>&1 || return 1
  # -addext (subjectAltName on the command line) needs OpenSSL 1.1.1 or later
  case "$(openssl version 2>/dev/null)" in
    "OpenSSL 1.1.1"*|"OpenSSL 3."*|"OpenSSL 4."*) return 0 ;;
    *) return 1 ;;
  esac
}

if ! $use_java && openssl_ok; then
  for name in "${names[@]}"; do
    cert="$dir/$name-cert.pem" key="$dir/$name-key.pem"
    (umask 077; openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days "$days" -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$key" -out "$cert" 2>/dev/null)
    chmod 600 "$key"; chmod 644 "$cert"
    echo "wrote $cert and $key with openssl (CN=localhost, DNS:localhost, IP:127.0.0.1, $days days," \
      "$(openssl x509 -in "$cert" -noout -fingerprint -sha256))"
  done
else
  command -v java >/dev/null || { echo "gen-dev-cert: neither openssl nor java (JDK 17) found" >&2; exit 1; }
  java scripts/DevCert.java --days "$days" "$dir" "${names[@]}"
fi
