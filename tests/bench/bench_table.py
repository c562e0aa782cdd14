#!/usr/bin/env python3
"""Turns run_bench.sh output (key=value lines) into the Markdown tables of BENCHMARKS.md.

Usage: bench_table.py RUN_OUTPUT.txt
"""

import sys

SERVERS = ["chatd select", "chatd epoll", "baseline", "floor"]


def parse(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("mode="):
                continue
            fields = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
            label = fields.get("server", "?")
            if label == "chatd":
                label = f"chatd {fields.get('backend', '?')}"
            fields["label"] = label
            rows.append(fields)
    # A server capped below the asked size (select: 960 for 1000) joins the group of
    # the next size the others ran, and shows its real count in the server column.
    standard = sorted({int(r["clients"]) for r in rows if r["label"] != "chatd select"})
    for r in rows:
        n = int(r["clients"])
        group = min((s for s in standard if s >= n), default=n)
        r["group"] = str(group)
        if group != n:
            r["label_shown"] = f"{r['label']} (at its limit, {n})"
    return rows


def find(rows, mode, label, clients=None):
    for r in rows:
        if r["mode"] == mode and r["label"] == label:
            if clients is None or r.get("group") == clients:
                return r
    return None


def sizes(rows, mode):
    seen = []
    for r in rows:
        if r["mode"] == mode and r["group"] not in seen:
            seen.append(r["group"])
    return sorted(seen, key=int)


def millions(v):
    return f"{float(v) / 1e6:.2f} M"


def flood_table(rows):
    out = [
        "| clients | server | deliveries/s | server CPU µs/delivery (user+sys) | "
        "vs baseline (deliveries/s) | CPU vs floor |",
        "|---|---|---|---|---|---|",
    ]
    for n in sizes(rows, "flood"):
        base = None
        floor = None
        for label in SERVERS:
            r = find(rows, "flood", label, n)
            if r and label == "baseline":
                base = r
            if r and label == "floor":
                floor = r
        # select runs at its limit (960) where 1000 was asked: show it with 1000.
        for label in SERVERS:
            r = find(rows, "flood", label, n)
            if r is None or r.get("status") != "ok":
                continue
            ratio = "—"
            if base and label != "baseline":
                ratio = f"{float(r['deliveries_per_s']) / float(base['deliveries_per_s']):.1f}×"
            vs_floor = "—"
            if floor and label != "floor" and r.get("cpu_us_per_delivery", "na") != "na":
                vs_floor = (
                    f"{float(r['cpu_us_per_delivery']) / float(floor['cpu_us_per_delivery']):.1f}×"
                )
            cpu = f"{r['cpu_us_per_delivery']} ({r['server_user_s']}+{r['server_sys_s']} s)"
            out.append(
                f"| {n} | {r.get('label_shown', label)} | {millions(r['deliveries_per_s'])} | {cpu} | {ratio} | {vs_floor} |"
            )
    return "\n".join(out)


def steady_table(rows):
    out = [
        "| clients | rate msg/s each | server | p50 ms | p99 ms | max ms | server CPU s | "
        "bench CPU s | delivered |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes(rows, "steady"):
        for label in SERVERS:
            r = find(rows, "steady", label, n)
            if r is None:
                continue
            delivered = "all" if r.get("status") == "ok" else (
                f"{int(r['deliveries']) / int(r['expected']):.0%} ({r['status']})"
            )
            out.append(
                f"| {n} | {r['rate']} | {r.get('label_shown', label)} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} "
                f"| {r.get('server_cpu_s', 'na')} | {r.get('bench_cpu_s', 'na')} | {delivered} |"
            )
    return "\n".join(out)


def hold_table(rows):
    out = [
        "| clients asked | server | joined | refused (server-full) | closed without error | "
        "server RSS | RSS per client | join time s (server CPU s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes(rows, "hold"):
        for label in SERVERS:
            r = find(rows, "hold", label, n)
            if r is None:
                continue
            rss = r.get("rss_kb", "na")
            rss = f"{int(rss) / 1024:.1f} MB" if rss not in ("na", None) else "—"
            per = r.get("rss_per_client_kb", "na")
            out.append(
                f"| {n} | {r.get('label_shown', label)} | {r.get('joined', '?')} | {r.get('refused', '?')} | "
                f"{r.get('closed_without_error', '—')} | {rss} | {per} kB | "
                f"{r.get('join_s', '?')} ({r.get('join_server_cpu_s', '?')}) |"
            )
    return "\n".join(out)


def targets_table(rows):
    out = [
        "| issue 7 target | chatd (this run) | met | floor-server, same row |",
        "|---|---|---|---|",
    ]

    def get(mode, label, n, key):
        r = find(rows, mode, label, n)
        return None if r is None or r.get(key) in (None, "na") else float(r[key])

    def verdict(value, limit, higher_is_better, unit):
        if value is None:
            return "not measured", ""
        ok = value >= limit if higher_is_better else value <= limit
        if ok:
            return "yes", ""
        if not higher_is_better and value > 2 * limit:
            return "no", f" ({value / limit:.1f}× the limit)"
        miss = (limit - value) / limit if higher_is_better else (value - limit) / limit
        return "no", f" (missed by {miss:.0%})"

    dps = get("flood", "chatd epoll", "100", "deliveries_per_s")
    yes, miss = verdict(dps, 7e6, True, "")
    fl = get("flood", "floor", "100", "deliveries_per_s")
    out.append(
        f"| flood, 100 clients: ≥ 7 M deliveries/s | {dps / 1e6:.2f} M{miss} | {yes} | "
        f"{fl / 1e6:.2f} M |" if dps and fl else "| flood 100 | — | — | — |"
    )
    cpu = get("flood", "chatd epoll", "100", "cpu_us_per_delivery")
    yes, miss = verdict(cpu, 0.15, False, "")
    flc = get("flood", "floor", "100", "cpu_us_per_delivery")
    out.append(
        f"| flood, 100 clients: ≤ 0.15 µs server CPU per delivery | {cpu:.3f} µs{miss} | {yes} | "
        f"{flc:.3f} µs |" if cpu and flc else "| flood cpu | — | — | — |"
    )
    p99 = get("steady", "chatd epoll", "1000", "p99_ms")
    yes, miss = verdict(p99, 20, False, "")
    flp = get("steady", "floor", "1000", "p99_ms")
    out.append(
        f"| steady 1000 × 1 msg/s: p99 ≤ 20 ms | {p99:.1f} ms{miss} | {yes} | {flp:.1f} ms |"
        if p99 and flp else "| steady 1000 | — | — | — |"
    )
    rss = get("hold", "chatd epoll", "10000", "rss_kb")
    joined = get("hold", "chatd epoll", "10000", "joined")
    yes, miss = verdict(rss / 1024 if rss else None, 50, False, "")
    out.append(
        f"| epoll: 10 000 clients held, RSS ≤ 50 MB | {joined:.0f} held, {rss / 1024:.0f} MB{miss} "
        f"| {yes} | — |" if rss and joined else "| hold 10000 | — | — | — |"
    )
    p99 = get("steady", "chatd epoll", "5000", "p99_ms")
    yes, miss = verdict(p99, 100, False, "")
    flp = get("steady", "floor", "5000", "p99_ms")
    out.append(
        f"| epoll: 5000 × 0.04 msg/s: p99 ≤ 100 ms | {p99:.0f} ms{miss} | {yes} | {flp:.0f} ms |"
        if p99 and flp else "| steady 5000 | — | — | — |"
    )
    r = find(rows, "hold", "chatd select", "10000")
    if r:
        asked = int(r["clients"])
        joined = int(r["joined"])
        refused = int(r["refused"])
        silent = int(r.get("closed_without_error", "0"))
        clean = "yes" if silent == 0 and joined + refused == asked else "no"
        out.append(
            f"| select: the documented limit reached, refused cleanly past it (`server-full`) "
            f"| {joined} joined (the logged max_clients), {refused} of {asked - joined} "
            f"refused with `server-full`, {silent} reset without it | {clean} | — |"
        )
    return "\n".join(out)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    rows = parse(sys.argv[1])
    print("### Flood\n")
    print(flood_table(rows))
    print("\n### Steady\n")
    print(steady_table(rows))
    print("\n### Hold\n")
    print(hold_table(rows))
    print("\n### Targets\n")
    print(targets_table(rows))
    faults = [r for r in rows if r.get("status") not in ("ok", "incomplete")]
    if faults:
        print("\nRuns not ok:\n")
        for r in faults:
            print(f"- {r['mode']} {r['label']} clients={r.get('clients')}: status={r.get('status')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
