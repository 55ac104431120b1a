"""Computes docs/cost.md: the monthly AWS bill per million console API calls for a stated
mix of calls, from the DynamoDB round trips and capacity units measured by the e2e
benchmarks (docs/measurements.md) and AWS list prices (us-east-1, on-demand, arm64).

Run it with `make cost` (python3 infra/cost.py > docs/cost.md). Every input is a named
constant below with its source, so that a new measurement or price changes one line and
the document is produced again, never edited by hand.
"""
from dataclasses import dataclass

MILLION = 1_000_000

# ----------------------------------------------------------------------------- prices
# AWS list prices, us-east-1, as published on the services' pricing pages (checked
# against the pages as of 2025; re-check before relying on them).
PRICES = {
    # https://aws.amazon.com/api-gateway/pricing/ : HTTP APIs, first 300 million a month.
    "apigw_per_million": 1.00,
    # https://aws.amazon.com/lambda/pricing/ : Arm, first 7.5 billion GB-s a month.
    "lambda_gb_second": 0.0000133334,
    "lambda_per_million_requests": 0.20,
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ : since 1 November 2024.
    "ddb_per_million_wru": 0.625,
    "ddb_per_million_rru": 0.125,
    # https://aws.amazon.com/sqs/pricing/ : standard queues, per million requests
    # (each 64 KB chunk of a payload is one request).
    "sqs_per_million": 0.40,
    # FIFO queues (the ordered stream consumers', docs/streams.md).
    "sqs_fifo_per_million": 0.50,
    # https://aws.amazon.com/kms/pricing/ : $0.03 per 10,000 requests; asymmetric
    # requests (the digests' ECC Sign) $0.15 per 10,000.
    "kms_per_request": 0.03 / 10_000,
    "kms_asymmetric_per_request": 0.15 / 10_000,
    # https://aws.amazon.com/ses/pricing/ : $0.10 per 1,000 emails.
    "ses_per_email": 0.10 / 1000,
    # https://aws.amazon.com/cognito/pricing/ : Lite tier, $0.0055 per MAU above the
    # 10,000 free MAUs (Essentials, with more features, is $0.015).
    "cognito_per_mau": 0.0055,
    # https://aws.amazon.com/cloudwatch/pricing/ : Logs ingestion (standard class).
    "logs_per_gb": 0.50,
    # https://aws.amazon.com/xray/pricing/ : $5.00 per million traces recorded.
    "xray_per_trace": 5.00 / MILLION,
}

# ----------------------------------------------------------------------------- measured
# Per call, from docs/measurements.md (DynamoDB Local's ReturnConsumedCapacity, averaged
# over 20 calls by `make bench`; see there for the commands). Transactions cost 2 units
# per item there, as in AWS. The durations are assumptions, not measurements: local
# durations (5-15 ms for a guarded GET) say little about Lambda; these are the warm
# durations to expect at 256 MB for 2-4 DynamoDB round trips of about 5 ms each.


@dataclass
class Call:
    name: str
    share: float  # of the calls in the mix
    rru: float  # DynamoDB read units
    wru: float  # DynamoDB write units
    ms: float  # Lambda billed duration (assumed, see above)
    cognito_calls: float = 0  # Cognito API calls are free; counted for the record
    emails: float = 0
    log_bytes: int = 1400  # one request line of ours plus Lambda's JSON platform lines
    stream_changes: float = 0  # change records the write puts on the table's stream
    webhook_deliveries: float = 0
    source: str = ""


MIX = [
    Call("read one (GET /v1/partners/{id} as a partner admin)", 0.40, rru=4, wru=0, ms=20,
         source="measurements.md: a guarded GET of a node below the caller: GetItem caller, BatchGetItem lineage, GetItem node"),
    Call("list a page of 25 (GET /v1/organizations?partnerId=)", 0.35, rru=6.5, wru=0, ms=25,
         source="measurements.md: a page of organizations: 3 calls, 6.5 RCU, flat from 1,000 to 50,000"),
    Call("write (POST /v1/organizations, PATCH, status actions)", 0.15, rru=2, wru=22, ms=35,
         stream_changes=1,
         source="measurements.md: POST /v1/organizations 3 calls, 2 RCU, 22 WCU (six indexes); deactivate 24 WCU"),
    Call("sign-in (POST /v1/auth/login, with the pre-authentication trigger)", 0.05, rru=5, wru=4, ms=150,
         cognito_calls=1, source="measurements.md: sign-in without TOTP: 6 round trips, 4 WCU, 5 RCU; Cognito InitiateAuth"),
    Call("webhook delivered (dispatcher's share + deliverer)", 0.05, rru=1, wru=4, ms=120,
         log_bytes=2000, webhook_deliveries=1,
         source="webhooks.md, 1 endpoint: dispatcher PutItem of the delivery (2 WRU with its listing key), deliverer BatchGetItem (1 RRU) and UpdateItem of the attempt (2 WRU); 120 ms is mostly the receiver's answer"),
]

# What each change record costs after the write itself: the stream's consumers, for an
# organization's change (lineage platform, distributor, partner, organization). Stream
# reads by Lambda are free. Each consumer is (name, RRU, WRU, Lambda ms, queue kind of
# the router's message to it).
PER_CHANGE_CONSUMERS = [
    # measurements.md, audit-writer row: 1 WCU per entry, one entry per node of the
    # lineage (4) and one in the target's history, +1 arrival marker per batch (one batch
    # per change at low traffic).
    ("audit-writer", 0, 4 + 1 + 1, 15, "standard"),
    # measurements.md, the tree counter's cost per change: a consistent GetItem of the
    # item's marker, then one transaction of the marker, the parent's COUNTS and 3
    # ancestors' TOTALS with a condition check on each ancestor: 8 items at 2 WCU each.
    ("tree-counter (children counts and the dashboard's totals)", 1, 8 * 2, 20, "fifo"),
    # docs/webhooks.md, 0 endpoints: one GSI2 Query per level of the lineage (4 × 0.5).
    ("webhook-dispatcher (no endpoint in the branch)", 2, 0, 10, "standard"),
]
PER_CHANGE = {"rru": sum(c[1] for c in PER_CHANGE_CONSUMERS), "wru": sum(c[2] for c in PER_CHANGE_CONSUMERS),
              "lambda_ms": sum(c[3] for c in PER_CHANGE_CONSUMERS)}

# The stream router (docs/streams.md): per change, one message to each consumer's queue,
# each 3 SQS requests at low traffic (send, receive, delete; a tenth of that when
# batched by 10), and one router invocation of about 10 ms (one per stream batch: at low
# traffic one per write).
PER_CHANGE_ROUTED = {"standard_messages": sum(1 for c in PER_CHANGE_CONSUMERS if c[4] == "standard"),
                     "fifo_messages": sum(1 for c in PER_CHANGE_CONSUMERS if c[4] == "fifo"),
                     "requests_per_message": 3, "router_invocations": 1, "router_ms": 10}

# Webhook delivery, per delivery (docs/webhooks.md, measured with 1 endpoint: the
# dispatcher's PutItem of the delivery, the deliverer's BatchGetItem and UpdateItem of
# the attempt): SQS send, receive, delete (3 requests); the KMS Decrypt of the
# endpoint's secret is cached by the delivery function for 5 minutes (0.05 measured).
PER_DELIVERY = {"sqs": 3, "kms": 0.05}

# Signed audit digests (measurements.md, TestAuditDigestMakerCost): per node-period
# with entries, about 4.25 DynamoDB calls, 1.25 RCU plus 0.1 per entry, 1 WCU and one
# KMS Sign. How many node-periods a million calls make is an assumption: each change's
# entries land in its lineage's 4 logs, and a node's log holds on average
# DIGEST_ENTRIES_PER_NODE_PERIOD entries an hour (the platform's thousands, most
# organizations' one or two).
DIGEST = {"rru": 1.25, "rru_per_entry": 0.1, "wru": 1, "kms_sign": 1, "lambda_ms": 30, "entries_per_change": 4}
DIGEST_ENTRIES_PER_NODE_PERIOD = 10

# Assumptions that are not per call.
CALLS_PER_MAU = 5_000  # a console operator making ~250 calls a working day
EMAILS_PER_MILLION = 200  # invitations, resets, signup mails
LAMBDA_MB = 256
XRAY_SAMPLED = 1.0  # Tracing: Active with the default rule (1/s + 5%): at under 1 call/s, nearly all
SECONDS_PER_MONTH = 30 * 24 * 3600


def xray_fraction(calls_per_month):
    """The share of calls Lambda's fixed sampling (the first request each second, then
    5% of the rest; not configurable for Lambda) traces, calls spread evenly."""
    rate = calls_per_month / SECONDS_PER_MONTH
    return 1.0 if rate <= 1 else (1 + 0.05 * (rate - 1)) / rate


def compute(mix=None, xray_sampled=None):
    mix = MIX if mix is None else mix
    xray_sampled = XRAY_SAMPLED if xray_sampled is None else xray_sampled
    items = {}
    calls = MILLION

    def add(k, v):
        items[k] = items.get(k, 0) + v

    gb = LAMBDA_MB / 1024
    for c in mix:
        n = calls * c.share
        add("API Gateway (HTTP API requests)", n * PRICES["apigw_per_million"] / MILLION)
        add("Lambda (requests and GB-seconds)", n * (PRICES["lambda_per_million_requests"] / MILLION + gb * c.ms / 1000 * PRICES["lambda_gb_second"]))
        add("DynamoDB (read and write request units)", n * (c.rru * PRICES["ddb_per_million_rru"] + c.wru * PRICES["ddb_per_million_wru"]) / MILLION)
        add("CloudWatch Logs (ingestion)", n * c.log_bytes / 1e9 * PRICES["logs_per_gb"])
        add("X-Ray (traces)", n * xray_sampled * PRICES["xray_per_trace"])
        changes = n * c.stream_changes
        add("DynamoDB (read and write request units)", changes * (PER_CHANGE["rru"] * PRICES["ddb_per_million_rru"]
                                                                  + PER_CHANGE["wru"] * PRICES["ddb_per_million_wru"]) / MILLION)
        add("Lambda (requests and GB-seconds)", changes * (len(PER_CHANGE_CONSUMERS) * PRICES["lambda_per_million_requests"] / MILLION
                                                           + gb * PER_CHANGE["lambda_ms"] / 1000 * PRICES["lambda_gb_second"]))
        r = PER_CHANGE_ROUTED
        add("SQS (stream consumers' queues)", changes * r["requests_per_message"] / MILLION
            * (r["standard_messages"] * PRICES["sqs_per_million"] + r["fifo_messages"] * PRICES["sqs_fifo_per_million"]))
        add("Lambda (requests and GB-seconds)", changes * r["router_invocations"]
            * (PRICES["lambda_per_million_requests"] / MILLION + gb * r["router_ms"] / 1000 * PRICES["lambda_gb_second"]))
        deliveries = n * c.webhook_deliveries
        add("SQS (webhook deliveries)", deliveries * PER_DELIVERY["sqs"] * PRICES["sqs_per_million"] / MILLION)
        add("KMS (webhook secrets, cached)", deliveries * PER_DELIVERY["kms"] * PRICES["kms_per_request"])
    changes = sum(calls * c.share * c.stream_changes for c in mix)
    digests = changes * DIGEST["entries_per_change"] / DIGEST_ENTRIES_PER_NODE_PERIOD
    entries = changes * DIGEST["entries_per_change"]
    add("Audit digests (KMS Sign, DynamoDB, Lambda)", digests * DIGEST["kms_sign"] * PRICES["kms_asymmetric_per_request"]
        + (digests * (DIGEST["rru"] * PRICES["ddb_per_million_rru"] + DIGEST["wru"] * PRICES["ddb_per_million_wru"])
           + entries * DIGEST["rru_per_entry"] * PRICES["ddb_per_million_rru"]) / MILLION
        + digests * gb * DIGEST["lambda_ms"] / 1000 * PRICES["lambda_gb_second"])
    add("SES (emails)", EMAILS_PER_MILLION * PRICES["ses_per_email"])
    add("Cognito (MAUs above the free 10,000)", calls / CALLS_PER_MAU * PRICES["cognito_per_mau"])
    return items


def main():
    items = compute()
    total = sum(items.values())
    no_xray = total - items["X-Ray (traces)"]
    ranked = sorted(items.items(), key=lambda kv: -kv[1])
    out = []
    w = out.append
    w("# Cost per million API calls")
    w("")
    w("Produced by `make cost` (`python3 infra/cost.py > docs/cost.md`) from the figures and")
    w("prices named in `infra/cost.py`; do not edit by hand. us-east-1, on-demand, arm64,")
    w(f"{LAMBDA_MB} MB functions, list prices without free tiers except Cognito's 10,000 MAUs.")
    w("")
    w("## The mix")
    w("")
    w("| call | share | RRU | WRU | Lambda ms (assumed) | source of the units |")
    w("| --- | ---: | ---: | ---: | ---: | --- |")
    for c in MIX:
        w(f"| {c.name} | {c.share:.0%} | {c.rru:g} | {c.wru:g} | {c.ms:g} | {c.source} |")
    w("")
    w("Each write also puts one change record on the table's stream. The stream router (docs/streams.md)")
    w(f"is invoked once and sends it to each consumer's queue ({PER_CHANGE_ROUTED['requests_per_message']} SQS requests a message unbatched); the consumers")
    w("then cost, per change of an organization (its lineage: platform, distributor, partner, organization):")
    w("")
    w("| consumer | RRU | WRU | Lambda ms (assumed) | queue |")
    w("| --- | ---: | ---: | ---: | --- |")
    for name, rru, wru, ms, queue in PER_CHANGE_CONSUMERS:
        w(f"| {name} | {rru:g} | {wru:g} | {ms:g} | {queue} |")
    w(f"| **per change** | **{PER_CHANGE['rru']:g}** | **{PER_CHANGE['wru']:g}** | **{PER_CHANGE['lambda_ms']:g}** | |")
    w("")
    w("Sources: measurements.md (the audit-writer row; the tree counter's cost per change, AWS")
    w("billing 2 WCU per transaction item) and webhooks.md (the dispatcher with no endpoint).")
    w(f"Assumed: {CALLS_PER_MAU:,} calls per monthly active user, {EMAILS_PER_MILLION} emails per million")
    w("calls, one CloudWatch Logs line of ours plus Lambda's platform lines (about 1.4 KB) per call.")
    w("")
    w("## The bill per million calls")
    w("")
    w("| item | USD |")
    w("| --- | ---: |")
    for k, v in ranked:
        w(f"| {k} | {v:.3f} |")
    w(f"| **total** | **{total:.2f}** |")
    w("")
    target = 2.00
    w(f"Target: under ${target:.2f} per million console calls. With `TracingMode: Active` (the")
    w(f"template's default) the total is ${total:.2f}: "
      + ("under the target." if total < target else "over the target."))
    w(f"Without X-Ray it is ${no_xray:.2f}. Lambda's sampling is fixed (the first request each second, then")
    w("5% of the rest), so X-Ray's share falls with traffic: a million calls a month (0.4 a second) are")
    parts = []
    for volume in (10 * MILLION, 100 * MILLION):
        f = xray_fraction(volume)
        parts.append(f"at {volume // MILLION} million a month {f:.1%} are (${f * PRICES['xray_per_trace'] * MILLION:.2f} per million calls)")
    w("all traced; " + ", and ".join(parts) + ".")
    d = items["Audit digests (KMS Sign, DynamoDB, Lambda)"]
    w(f"The audit digests' ${d:.3f} assumes {DIGEST_ENTRIES_PER_NODE_PERIOD} entries per node-hour on average (see `DIGEST` in")
    w("infra/cost.py); tenant SMTP (client services, issue 9) sends through the tenant's server, no SES.")
    w("")
    w("## The three biggest items and what would cut them")
    w("")
    cuts = {
        "X-Ray (traces)": "Lambda's sampling rate cannot be configured, so the lever is the template's `TracingMode` parameter: `PassThrough` traces only requests an upstream header marks sampled (none from the HTTP API), turning it on while investigating; at scale the fixed 5% makes it small anyway.",
        "CloudWatch Logs (ingestion)": "log less per request: `SystemLogLevel: WARN` in `LoggingConfig` drops Lambda's platform START/END lines; the Infrequent Access log class halves ingestion.",
        "API Gateway (HTTP API requests)": "the floor of an HTTP API; only fewer calls cut it (e.g. the dashboard's one call instead of one list per total).",
        "DynamoDB (read and write request units)": "fewer index writes per change (an organization is written to six indexes: 22 WRU), and the guard's lineage read cached for a few seconds.",
        "Lambda (requests and GB-seconds)": "smaller binaries start faster (issue 11); 128 MB for reads.",
        "Cognito (MAUs above the free 10,000)": "priced per active user, not per call: the Lite tier. An API client (issue 10) is a Cognito user too, so each active client is one MAU a month whatever its calls.",
        "Audit digests (KMS Sign, DynamoDB, Lambda)": "one signature per period for all nodes (each node's digest a leaf of one signed tree) instead of one per node-period, or a longer AUDIT_DIGEST_PERIOD.",
    }
    for k, v in ranked[:3]:
        w(f"- **{k}**, ${v:.3f}: {cuts.get(k, '')}")
    w("")
    # What would reach the target: the same calls without tracing (PassThrough), Lambda's
    # platform lines off (SystemLogLevel WARN: our line only), and a read-heavier mix
    # (5% writes, the reads' share grown by the 10 points).
    import dataclasses
    alt = []
    for c in MIX:
        c = dataclasses.replace(c, log_bytes=500)
        if c.name.startswith("write"):
            c = dataclasses.replace(c, share=0.05)
        elif c.name.startswith("read one"):
            c = dataclasses.replace(c, share=0.50)
        alt.append(c)
    alt_items = compute(alt, xray_sampled=0)
    alt_total = sum(alt_items.values())
    alt_calls = alt_total - alt_items["Cognito (MAUs above the free 10,000)"]
    w("## How close the design gets")
    w("")
    w("The design cannot reach $2.00 for this mix: API Gateway ($1.00) and the writes' DynamoDB")
    w("units alone pass it. With `TracingMode: PassThrough` (no traces), Lambda's platform log lines off")
    w("(`SystemLogLevel: WARN`) and a read-heavier mix (5% writes, 50% single reads), the same")
    w(f"computation gives ${alt_total:.2f} per million calls, ${alt_calls:.2f} without Cognito's MAUs (which")
    w("are paid per active user, not per call: a deployment under 10,000 MAUs pays none):")
    w("")
    w("| item | USD |")
    w("| --- | ---: |")
    for k, v in sorted(alt_items.items(), key=lambda kv: -kv[1]):
        w(f"| {k} | {v:.3f} |")
    w(f"| **total** | **{alt_total:.2f}** |")
    w("")
    fixed = alt_items["API Gateway (HTTP API requests)"] + alt_items["Lambda (requests and GB-seconds)"]
    w(f"Still over. API Gateway and Lambda are ${fixed:.2f} of any million calls, so $2.00 leaves")
    w(f"${2 - fixed:.2f} for DynamoDB and the rest: about 1 WRU per call on average. The lever is the")
    w("writes' fan-out. An organization is written to six indexes (22 WRU), and each index")
    w("dropped from a write (GSI5/GSI6, the platform-wide lists, could become a sharded")
    w("scatter-gather over the branch indexes) saves about 4 WRU per organization write. Its change")
    w(f"then costs {PER_CHANGE['wru']:g} WRU more in the consumers, 16 of them the tree counter's one transaction")
    w("(AWS bills 2 WCU per transaction item): applying each ancestor's totals as its own")
    w("conditional UpdateItem, idempotent by the record's sequence stamped on the item, would")
    w("halve that at the price of more round trips.")
    w("")
    w("Not in the per-call figure: storage ($0.25 per GB-month for the table, point-in-time")
    w("recovery $0.20 per GB-month), the two KMS keys ($1 a month each: secrets, digest signing), the Secrets Manager secret")
    w("($0.40 a month), CloudWatch alarms ($0.10 each a month, 8 alarms; the dashboard $3).")
    w("Nor a distributor's own writes (create, rename, status actions), which also write its")
    w("4 status replicas in their transaction (docs/scale.md, fix 2; 8 WRU more at AWS's 2 per")
    w("transaction item): there are few distributors, and their writes are not in the mix.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
