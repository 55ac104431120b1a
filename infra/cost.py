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
    # https://aws.amazon.com/kms/pricing/ : $0.03 per 10,000 requests.
    "kms_per_request": 0.03 / 10_000,
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
    Call("webhook delivered (dispatcher + delivery; NOT BUILT YET: estimate)", 0.05, rru=2, wru=3, ms=60,
         log_bytes=2000, webhook_deliveries=1,
         source="estimate for issue 14's design: one Query of the node's endpoints, one delivery-log write, SQS send+receive+delete"),
]

# What each change record costs after the write itself (the stream consumers): the
# audit-writer writes one entry per node of the lineage (3 for an organization under a
# partner: platform, distributor, partner), the tree-counter one counter update
# (2 WRU with its idempotency condition). Stream reads by Lambda are free.
PER_CHANGE = {"wru": 3 + 2, "lambda_ms": 15, "source": "measurements.md: audit-writer 1 WCU per entry, one entry per node of the lineage"}

# The stream router (docs/streams.md): per change, one message to the audit writer's
# standard queue and one to the tree counter's FIFO queue, each 3 SQS requests at low
# traffic (send, receive, delete; a tenth of that when batched by 10), and one router
# invocation of about 10 ms (one per stream batch: at low traffic one per write).
PER_CHANGE_ROUTED = {"standard_messages": 1, "fifo_messages": 1, "requests_per_message": 3,
                     "router_invocations": 1, "router_ms": 10}

# Webhook delivery, per delivery: SQS send, receive, delete (3 requests); the KMS
# Decrypt of the endpoint's secret is cached by the delivery function (1 in 100 assumed).
PER_DELIVERY = {"sqs": 3, "kms": 0.01}

# Assumptions that are not per call.
CALLS_PER_MAU = 5_000  # a console operator making ~250 calls a working day
EMAILS_PER_MILLION = 200  # invitations, resets, signup mails
LAMBDA_MB = 256
XRAY_SAMPLED = 1.0  # Tracing: Active with the default rule (1/s + 5%): at under 1 call/s, nearly all


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
        add("DynamoDB (read and write request units)", changes * PER_CHANGE["wru"] * PRICES["ddb_per_million_wru"] / MILLION)
        add("Lambda (requests and GB-seconds)", changes * gb * PER_CHANGE["lambda_ms"] / 1000 * PRICES["lambda_gb_second"])
        r = PER_CHANGE_ROUTED
        add("SQS (stream consumers' queues)", changes * r["requests_per_message"] / MILLION
            * (r["standard_messages"] * PRICES["sqs_per_million"] + r["fifo_messages"] * PRICES["sqs_fifo_per_million"]))
        add("Lambda (requests and GB-seconds)", changes * r["router_invocations"]
            * (PRICES["lambda_per_million_requests"] / MILLION + gb * r["router_ms"] / 1000 * PRICES["lambda_gb_second"]))
        deliveries = n * c.webhook_deliveries
        add("SQS (webhook deliveries)", deliveries * PER_DELIVERY["sqs"] * PRICES["sqs_per_million"] / MILLION)
        add("KMS (webhook secrets, cached)", deliveries * PER_DELIVERY["kms"] * PRICES["kms_per_request"])
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
    w(f"Each write also puts one change record on the stream: the audit-writer and the tree-counter")
    w(f"write {PER_CHANGE['wru']} WRU more for it ({PER_CHANGE['source']}). Stream reads by Lambda are free;")
    w("the stream router (docs/streams.md) sends each write's change record to the audit writer's queue and its")
    w(f"node item to the tree counter's FIFO queue, {PER_CHANGE_ROUTED['requests_per_message']} SQS requests a message unbatched, and is invoked once.")
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
    w(f"Target: under ${target:.2f} per million console calls. With `Tracing: Active` on every")
    w(f"function (today's template) the total is ${total:.2f}: "
      + ("under the target." if total < target else "over the target."))
    w(f"Without X-Ray it is ${no_xray:.2f}.")
    w("")
    w("## The three biggest items and what would cut them")
    w("")
    cuts = {
        "X-Ray (traces)": "sample, don't trace everything: a sampling rule of 1% (or `Tracing: PassThrough` and tracing only while investigating) cuts it a hundredfold.",
        "CloudWatch Logs (ingestion)": "log less per request: `SystemLogLevel: WARN` in `LoggingConfig` drops Lambda's platform START/END lines; the Infrequent Access log class halves ingestion.",
        "API Gateway (HTTP API requests)": "the floor of an HTTP API; only fewer calls cut it (e.g. the dashboard's one call instead of one list per total).",
        "DynamoDB (read and write request units)": "fewer index writes per change (an organization is written to six indexes: 22 WRU), and the guard's lineage read cached for a few seconds.",
        "Lambda (requests and GB-seconds)": "smaller binaries start faster (issue 11); 128 MB for reads.",
        "Cognito (MAUs above the free 10,000)": "priced per active user, not per call: the Lite tier; machine clients (issue 10) use no MAU.",
    }
    for k, v in ranked[:3]:
        w(f"- **{k}**, ${v:.3f}: {cuts.get(k, '')}")
    w("")
    # What would reach the target: the same calls with tracing sampled at 1%, Lambda's
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
    alt_items = compute(alt, xray_sampled=0.01)
    alt_total = sum(alt_items.values())
    alt_calls = alt_total - alt_items["Cognito (MAUs above the free 10,000)"]
    w("## How close the design gets")
    w("")
    w("The design cannot reach $2.00 for this mix: API Gateway ($1.00) and the writes' DynamoDB")
    w("units alone pass it. With X-Ray sampled at 1%, Lambda's platform log lines off")
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
    w("writes' index fan-out: an organization is written to six indexes (22 WRU), and each index")
    w("dropped from a write (GSI5/GSI6, the platform-wide lists, could become a sharded")
    w("scatter-gather over the branch indexes) saves about 4 WRU per organization write; the")
    w("change record and its audit entries (7 WRU per change) are the other half.")
    w("")
    w("Not in the per-call figure: storage ($0.25 per GB-month for the table, point-in-time")
    w("recovery $0.20 per GB-month), the KMS key ($1 a month), the Secrets Manager secret")
    w("($0.40 a month), CloudWatch alarms ($0.10 each a month, 8 alarms; the dashboard $3).")
    print("\n".join(out))


if __name__ == "__main__":
    main()
