#!/usr/bin/env bash
# Installs the pinned local tools into .cache/ at the repo root (gitignored):
#   dynamodb-local  Amazon DynamoDB Local (Maven Central, Java 17+)
#   moto            moto server: Cognito IdP, SQS, KMS, SES (PyPI, in a venv)
#   maildev         SMTP server with a web UI and REST API (npm)
#   sam             AWS SAM CLI (PyPI, in a venv)
#   schemathesis    the OpenAPI fuzzer of the fuzzing gate (PyPI, in a venv)
#   rie             AWS Lambda Runtime Interface Emulator, built from its Go module (the
#                   cold-start benchmark, infra/coldstart)
# Each tool goes to .cache/<tool>-<version>/ and is marked done by an .installed file
# there; a stable symlink .cache/<tool> (.cache/sam-venv for SAM) points at the pinned
# version, which is what infra/local and the Makefile use. Idempotent: a tool whose
# marker exists is skipped, so a second run takes well under a second.
#
# Usage: infra/install.sh [all|services|sam|schemathesis|rie|dynamodb-local|moto|maildev]...
set -euo pipefail

DYNAMODB_LOCAL_VERSION=3.3.1
MOTO_VERSION=5.2.5
MAILDEV_VERSION=3.0.0
SAM_CLI_VERSION=1.170.0
SCHEMATHESIS_VERSION=4.32.5
# The emulator's module has no tagged release on the Go module proxy past v1.23.0 (not
# served here), so it is pinned by pseudo-version: go install checks it against the
# checksum database like any module.
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"

die() { echo "install.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- selection
want_dynamodb=0 want_moto=0 want_maildev=0 want_sam=0 want_st=0 want_rie=0
[[ $# -eq 0 ]] && set -- all
for arg in "$@"; do
  case "$arg" in
    all) want_dynamodb=1 want_moto=1 want_maildev=1 want_sam=1 want_st=1 want_rie=1 ;;
    services) want_dynamodb=1 want_moto=1 want_maildev=1 ;;
    sam) want_sam=1 ;;
    schemathesis) want_st=1 ;;
    rie) want_rie=1 ;;
    dynamodb-local|dynamodb) want_dynamodb=1 ;;
    moto) want_moto=1 ;;
    maildev) want_maildev=1 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown tool '$arg' (want: all, services, sam, schemathesis, rie, dynamodb-local, moto, maildev)" ;;
  esac
done

# ---------------------------------------------------------------- prerequisites
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 ($2)"); }
if (( want_dynamodb )); then
  need java "Java 17+ runs DynamoDB Local; e.g. apt-get install openjdk-17-jre-headless"
  need mvn "Maven downloads DynamoDB Local; e.g. apt-get install maven"
fi
if (( want_moto || want_sam || want_st )); then
  need python3 "Python 3.9+ with venv runs moto, SAM CLI and schemathesis; e.g. apt-get install python3-venv"
fi
if (( want_maildev )); then
  need node "Node.js 20+ runs maildev"
  need npm "npm installs maildev"
fi
if (( want_sam )); then
  need go "Go builds the functions in sam build"
fi
if (( want_rie )); then
  need go "Go builds the Lambda Runtime Interface Emulator"
fi
if (( ${#missing[@]} )); then
  printf 'install.sh: missing prerequisite: %s\n' "${missing[@]}" >&2
  exit 1
fi
if (( want_dynamodb )); then
  # "openjdk version "17.0.15" ..." or "java version "1.8.0_..."".
  jv="$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  jmajor="${jv%%.*}"
  [[ "$jmajor" == 1 ]] && jmajor="$(echo "$jv" | cut -d. -f2)"
  [[ "$jmajor" =~ ^[0-9]+$ ]] && (( jmajor >= 17 )) \
    || die "missing prerequisite: Java 17+ for DynamoDB Local (found java version '${jv:-unknown}')"
fi

if (( want_maildev )); then
  nv="$(node --version 2>/dev/null || true)"; nmajor="${nv#v}"; nmajor="${nmajor%%.*}"
  [[ "$nmajor" =~ ^[0-9]+$ ]] && (( nmajor >= 20 )) \
    || die "missing prerequisite: Node.js 20+ for maildev $MAILDEV_VERSION (found '${nv:-none}')"
fi

mkdir -p "$CACHE"

# Several `make` or `go test` runs may install at once: one installs, the others wait.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.install.lock"
  flock 9
fi

# link NAME DIR: points .cache/NAME at the pinned version's directory.
link() { ln -sfn "$(basename "$2")" "$CACHE/$1"; }

# step NAME VERSION DIR LINK INSTALL_FUNCTION
step() {
  local name=$1 version=$2 dir=$3 lnk=$4 fn=$5
  if [[ -f "$dir/.installed" ]]; then
    link "$lnk" "$dir"
    echo "$name $version: already installed ($dir)"
    return
  fi
  local t0=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir"
  if ! "$fn" "$dir" >"$dir/install.log" 2>&1; then
    tail -n 30 "$dir/install.log" >&2
    die "installing $name $version failed (full log: $dir/install.log)"
  fi
  echo "$version" >"$dir/.installed"
  link "$lnk" "$dir"
  echo "$name $version: installed in $((SECONDS - t0)) s ($dir)"
}

install_dynamodb() {
  local dir=$1
  mvn -q -B -f "$ROOT/infra/dynamodb-local/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dir"
  local found=0
  for arch in amd64 aarch64; do
    for so in "$dir"/libsqlite4java-linux-"$arch"-*.so; do
      [[ -e "$so" ]] || continue
      cp "$so" "$dir/libsqlite4java-linux-$arch.so"
      found=1
    done
  done
  (( found )) || { echo "no libsqlite4java-linux-*.so among the dependencies" >&2; return 1; }
  ls "$dir"/DynamoDBLocal-*.jar >/dev/null
}

install_moto() {
  local dir=$1
  python3 -m venv "$dir"
  "$dir/bin/pip" install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION"
  "$dir/bin/moto_server" --help >/dev/null
}

install_maildev() {
  local dir=$1
  npm install --prefix "$dir" --no-audit --no-fund --no-save "maildev@$MAILDEV_VERSION"
  # maildev 3.x ships its CLI as dist/bin/maildev.js (package.json "bin").
  node "$dir/node_modules/maildev/dist/bin/maildev.js" --version
}

install_sam() {
  local dir=$1
  python3 -m venv "$dir"
  "$dir/bin/pip" install --disable-pip-version-check -q "aws-sam-cli==$SAM_CLI_VERSION"
  SAM_CLI_TELEMETRY=0 "$dir/bin/sam" --version
}

install_schemathesis() {
  local dir=$1
  python3 -m venv "$dir"
  "$dir/bin/pip" install --disable-pip-version-check -q "schemathesis==$SCHEMATHESIS_VERSION"
  "$dir/bin/st" --version
}

install_rie() {
  local dir=$1
  # A static build for the host: the benchmark runs host builds of the functions under it.
  GOBIN="$dir/bin" CGO_ENABLED=0 GOFLAGS=-trimpath \
    go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  # Not run as a check: it takes no --help and would start serving on 0.0.0.0:8080.
  [[ -x "$dir/bin/aws-lambda-rie" ]]
}

# The tools install in parallel (each into its own directory); a failure is reported
# after all have finished.
pids=()
(( want_dynamodb )) && { step dynamodb-local "$DYNAMODB_LOCAL_VERSION" "$CACHE/dynamodb-local-$DYNAMODB_LOCAL_VERSION" dynamodb-local install_dynamodb & pids+=($!); }
(( want_moto )) && { step moto "$MOTO_VERSION" "$CACHE/moto-$MOTO_VERSION" moto install_moto & pids+=($!); }
(( want_maildev )) && { step maildev "$MAILDEV_VERSION" "$CACHE/maildev-$MAILDEV_VERSION" maildev install_maildev & pids+=($!); }
(( want_sam )) && { step sam-cli "$SAM_CLI_VERSION" "$CACHE/sam-cli-$SAM_CLI_VERSION" sam-venv install_sam & pids+=($!); }
(( want_rie )) && { step rie "$RIE_VERSION" "$CACHE/rie-$RIE_VERSION" rie install_rie & pids+=($!); }
(( want_st )) && { step schemathesis "$SCHEMATHESIS_VERSION" "$CACHE/schemathesis-$SCHEMATHESIS_VERSION" schemathesis install_schemathesis & pids+=($!); }
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
exit "$failed"
