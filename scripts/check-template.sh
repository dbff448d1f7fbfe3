#!/usr/bin/env bash
# Offline checks of the SAM template; exits non-zero when any check fails.
#
#   1. cfn-lint (applies the SAM transform, checks every Condition branch)
#   2. checkov with the parameters' defaults (what a PowerShell user deploys)
#   3. checkov with every optional resource switched on (created secrets and parameters,
#      Resolver endpoint and rule, alarm topic and key): checkov resolves Conditions with the
#      defaults, so without this pass it would never look at those resources
#   4. sam validate --lint
#   5. samconfig.toml, read with SAM CLI's own reader: parameters only where `sam deploy
#      --guided` saves them ([default.deploy.parameters]), every example parameter exists in
#      the template, and the architecture is a literal that `sam build` and `sam deploy` share
#
# Suppressions live in template.yaml next to the resource, each with its reason.
# Usage: scripts/check-template.sh [TEMPLATE]   (default template.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPLATE="${1:-template.yaml}"
[ -f "$TEMPLATE" ] || { echo "check-template: $TEMPLATE not found" >&2; exit 2; }

bash scripts/python-tools.sh cfn sam
CACHE="${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}"
CFN="$CACHE/venv-cfn/bin"
SAM="$CACHE/venv-sam/bin"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=()
check() { # check NAME COMMAND...
  local name=$1; shift
  echo "== $name"
  if "$@"; then
    echo "-- $name: passed"
  else
    echo "-- $name: FAILED" >&2
    failed+=("$name")
  fi
}

all_on() { # writes $work/all-on.json: the template with every optional resource enabled
  "$CFN/python" - "$TEMPLATE" "$work/all-on.json" <<'EOF'
import json, sys
from cfnlint.decode import decode

template, errors = decode(sys.argv[1])
if errors or template is None:
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1)
example_key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
switched_on = {
    "CreateSecrets": "true",
    "LdapBindUser": "svc-scim@corp.example.com",
    "KmsKeyArn": example_key,
    "CreateSsmParameters": "true",
    "ScimEndpointUrl": "https://scim.eu-west-1.amazonaws.com/abc/scim/v2/",
    "AdSyncGroupName": "AWS-Sync",
    "AdGroupPrefix": "AWS-*",
    "AdSearchBase": "OU=AWS,DC=corp,DC=example,DC=com",
    "DomainController": "dc1.corp.example.com",
    "AdCaBundle": "-----BEGIN CERTIFICATE-----",
    "SyncSettings": "{}",
    "AdDomainName": "corp.example.com",
    "DnsServerIp1": "10.0.0.10",
    "DnsServerIp2": "10.0.1.10",
    "LogsKmsKeyArn": example_key,
    "AlarmEmail": "ops@example.com",
    "HttpsProxy": "http://proxy.corp.example.com:3128",
}
parameters = template.get("Parameters", {})
missing = sorted(set(switched_on) - set(parameters))
if missing:
    print("check-template: update the all-on list, these parameters are gone: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
for name, value in switched_on.items():
    parameters[name]["Default"] = value
with open(sys.argv[2], "w") as out:
    json.dump(template, out, indent=1, default=str)
EOF
}

checkov() { # checkov FILE
  "$CFN/checkov" -f "$1" --framework cloudformation --skip-download --compact --quiet
}

check "cfn-lint" "$CFN/cfn-lint" "$TEMPLATE"
check "checkov (defaults)" checkov "$TEMPLATE"
if all_on; then
  check "checkov (every optional resource on)" checkov "$work/all-on.json"
else
  echo "-- could not build the all-on variant" >&2
  failed+=("checkov (every optional resource on)")
fi
check "sam validate --lint" env SAM_CLI_TELEMETRY=0 "$SAM/sam" validate --lint -t "$TEMPLATE"

samconfig() {
  "$SAM/python" - "$TEMPLATE" samconfig.toml <<'EOF'
import re, sys
from pathlib import Path
from samcli.lib.config.samconfig import SamConfig
from samcli.yamlhelper import yaml_parse

template = yaml_parse(Path(sys.argv[1]).read_text())
config_path = Path(sys.argv[2])
config = SamConfig(str(config_path.parent.resolve()), config_path.name)
config.sanity_check()
problems = []
for command in ("global", "build"):
    if "parameter_overrides" in config.get_all([command], "parameters"):
        problems.append(
            f"parameter_overrides in [default.{command}.parameters]: `sam deploy --guided` saves them "
            "under [default.deploy.parameters], which would shadow this list"
        )
deploy = config.get_all(["deploy"], "parameters")
for key in ("capabilities", "stack_name"):
    if key not in deploy:
        problems.append(f"[default.deploy.parameters] lacks {key}")
parameters = template.get("Parameters", {})
examples = re.findall(r'^#\s*(?:#\s*)?"([A-Za-z0-9]+)=', config_path.read_text(), re.M)
for name in examples:
    if name not in parameters:
        problems.append(f"samconfig.toml shows parameter {name}, which template.yaml does not have")
if not examples:
    problems.append("samconfig.toml shows no example parameter_overrides")
function = template["Resources"]["ScimSyncFunction"]["Properties"]
architectures = function.get("Architectures")
if not (isinstance(architectures, list) and len(architectures) == 1 and architectures[0] in ("arm64", "x86_64")):
    problems.append(
        f"Architectures must be a literal [arm64] or [x86_64] (got {architectures!r}): a parameter "
        "given to sam deploy but not to sam build would deploy a binary for the other CPU"
    )
for p in problems:
    print("samconfig: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
}
check "samconfig.toml" samconfig

if [ ${#failed[@]} -gt 0 ]; then
  echo "check-template: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "check-template: all checks passed"
