#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds taken from the repository:
#   log_file             the log files of examples/cloudtrail (and of the shared
#                        sample, ../shared/data/cloudtrail-sample or
#                        $TRACKER_SAMPLE_DIR, when present), each also
#                        decompressed, plus small hand-made documents;
#   s3_key               the keys of those files, as they are and form-encoded
#                        as S3 event notifications carry them, plus digest /
#                        Insights / odd keys;
#   query, query_params  request targets found in tests/*.rs, swagger.yaml
#                        (parameter examples) and README.md (placeholders
#                        filled in), plus hand-made ones and forged page
#                        positions (input format: fuzz_targets/common.rs).
# Seeds are named by the SHA-1 of their content, so running it again adds
# nothing twice. Usage: bash fuzz/seed.sh (from anywhere; needs python3).
set -euo pipefail

fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz_dir")"
export FUZZ_DIR="$fuzz_dir" ROOT="$root"
export SAMPLE="${TRACKER_SAMPLE_DIR:-$root/../shared/data/cloudtrail-sample}"

exec python3 - <<'PY'
import gzip, hashlib, os, re, sys, urllib.parse
from pathlib import Path

fuzz, root, sample = Path(os.environ["FUZZ_DIR"]), Path(os.environ["ROOT"]), Path(os.environ["SAMPLE"])
corpus = fuzz / "corpus"
for target in ["log_file", "s3_key", "query", "query_params"]:
    (corpus / target).mkdir(parents=True, exist_ok=True)

def put(target, content):
    if isinstance(content, str):
        content = content.encode()
    (corpus / target / hashlib.sha1(content).hexdigest()).write_bytes(content)

# --- log_file and s3_key: the log files and their keys --------------------------
folders = [root / "examples" / "cloudtrail"]
if (sample / "AWSLogs").is_dir():
    folders.append(sample)
else:
    print(f"note: no shared sample at {sample}; seeding from examples/cloudtrail only", file=sys.stderr)
for folder in folders:
    for path in sorted((folder / "AWSLogs").rglob("*")):
        if not path.is_file() or not path.name.endswith((".json", ".json.gz")):
            continue
        data = path.read_bytes()
        put("log_file", data)
        if data[:2] == b"\x1f\x8b":
            put("log_file", gzip.decompress(data))
        key = path.relative_to(folder).as_posix()
        put("s3_key", key)
        # As an S3 event notification carries it: form-encoded, `/` kept.
        put("s3_key", urllib.parse.quote_plus(key, safe="/"))

# Small documents: the shapes the unit tests name (digest, no Records, nulls,
# wrong types, secrets, Insights, odd times, duplicate keys, trailing data).
DOCS = r'''
{"Records":[{"eventID":"a"},{"eventID":"b"}],"x":1}
{"awsAccountId":"1","logFiles":[]}
{"Records":null}
{"Records":[]}
{"Records":[42,"x",null,[],{}]}
{"Records":[{"eventID":7,"eventTime":12,"eventName":["x"],"userIdentity":[],"awsRegion":null}]}
{"Records":[{"eventID":"e1","eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","userIdentity":{"userName":"bob"}}]}
{"Records":[{"eventID":"e2","eventTime":"2024-01-02T16:00:00.5+02:00","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Admin/alice@example.com","principalId":"AROA:alice","accountId":"111","sessionContext":{"sessionIssuer":{"userName":"Admin"}}},"requestParameters":{"roleArn":"r","Password":"p"},"responseElements":{"credentials":{"sessionToken":"t","secretAccessKey":"s"}},"additionalEventData":{"keyMaterial":["k"]},"recipientAccountId":"111","errorCode":"AccessDenied"}]}
{"Records":[{"eventType":"AwsCloudTrailInsight","insightDetails":{"eventName":"CompleteLifecycleAction","eventSource":"autoscaling.amazonaws.com"}}]}
{"Records":[{"eventID":"t","eventTime":"0001-01-01T00:00:00Z"},{"eventID":"u","eventTime":"9999-12-31T23:59:59.999999999Z"},{"eventID":"v","eventTime":"2016-12-31T23:59:60Z"}]}
{"Records":[{"eventID":"a"}],"Records":[{"eventID":"b"}]}
{"Records":[{"eventID":"a","eventID":"b","requestParameters":{"x":1e3,"password":null}}]}
{"Records":[{"eventID":"a"}]} trailing
'''
for doc in DOCS.strip().splitlines():
    put("log_file", doc)
    put("log_file", gzip.compress(doc.encode(), mtime=0))

# --- s3_key: other layouts -------------------------------------------------------
KEYS = r'''
AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02/123456789012_CloudTrail_us-east-1_20240102T0000Z_abc.json.gz
prefix/AWSLogs/o-abc123/123456789012/CloudTrail/us-east-1/2024/01/02/x.json.gz
AWSLogs/123456789012/CloudTrail-Digest/us-east-2/2015/08/17/x.json.gz
AWSLogs/123456789012/CloudTrail-Insight/us-east-1/2015/08/17/x.json.gz
AWSLogs/123456789012/CloudTrail/
AWSLogs/with+space%2Bx.json.gz
AWSLogs%2Fa%2Fb.json.gz
caf%C3%A9.json
100%.json
a%zz+b%2.JSON.GZ
my+folder/log+%281%29.json
'''
for key in KEYS.strip().splitlines():
    put("s3_key", key)

# --- query, query_params: request targets ------------------------------------------
targets = set()
for test in sorted((root / "tests").glob("*.rs")):
    targets.update(re.findall(r'"(/(?:users|services|scan|parameters|events)[^" ]*)"', test.read_text()))
readme = (root / "README.md").read_text()
targets.update(m for m in re.findall(r"http://127\.0\.0\.1:8080(/[^' ]*)", readme))
name = None
for line in (root / "swagger.yaml").read_text().splitlines():
    line = line.strip()
    if line.startswith("name: "):
        name = line[6:]
    elif line.startswith("example: ") and name and " " not in name:
        value = line[9:].strip()
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            value = value[1:-1]
        targets.add("/scan?" + urllib.parse.urlencode({name: value}))
        name = None
targets.update(r'''
/users
/services
/parameters
/scan
/scan?from=2024-07-01&to=2024-08-31&limit=1
/scan?from=2024-07-01T00:00:00Z&to=2024-08-31T12:00:00.5%2B02:00&limit=3&count=false
/scan?from=2024-07-01T00:00:00 02:00&limit=2
/scan?from=1970-01-01&to=9999-12-30&limit=10000
/scan?params=['instanceType','eventSource']&values=['t2.micro','ec2.amazonaws.com']&eventName=RunInstances,StartInstances
/scan?param=userIdentity.type&value=AssumedRole&account=123456789012&sessionName=s
/scan?param=requestParameters.a.b.c.1.d&value=null
/services/ec2?from=2024-07-01&limit=2
/services/ec2.amazonaws.com?from=2024-07-01&count=1
/services/s3?from=2024-07-01&param=key&value=k/1
/users/a%2Fb%20c%25d%2B%C3%A9?from=2024-07-01
/users/arn:aws:iam::123456789012:root?from=1970-01-01
/users/%5Bx%5D?from=2024-08-01&eventName=A,B
/events/odd-1
/events/odd-5%23x
/events/odd-3
POST /scan
DELETE /users/x
'''.strip().splitlines())
FILL = [("{DAY}", "from=2024-08-01&to=2024-08-01"), ("{all}", "from=1970-01-01&to=9999-12-30"),
        ("{ALL}", "from=1970-01-01&to=9999-12-30"), ("/{}", "/alice"), ("={}", "=t2.micro"),
        ("{time}", "2024-08-01T10:00:00Z"), ("{kind}", "t2.micro"), ("{user}", "alice"),
        ("{eventID}", "odd-1"), ("{id}", "odd-1"), ("{}", "from=2024-07-01")]
for target in sorted(targets):
    for placeholder, value in FILL:
        target = target.replace(placeholder, value)
    target = re.sub(r"\{\w+\}", "alice", target)
    put("query", target)
    put("query_params", target)
# Forged page positions (line 2 of an input).
for after in ["2024-08-01T00:00:00.000000Z#x", "9999-12-31T23:59:59.000000Z#z", "", "1970"]:
    for target in ["/scan?from=2024-07-01&limit=2", "/services/ec2?from=2024-07-01&limit=1", "/users/alice?from=1970-01-01"]:
        put("query", f"{target}\n{after}")
        put("query_params", f"{target}\n{after}")

for target in ["log_file", "s3_key", "query", "query_params"]:
    print(f"{target:<13} {len(list((corpus / target).iterdir())):5d} seeds")
PY
