#!/usr/bin/awk -f
# Turns weir_loadgen's "result label=COLUMN/ROW key=value ... rc=N" lines into
# one Markdown table: a row per figure, a column per proxy (-v columns="...").

function get(col, row, key) { return ((col, row, key) in v) ? v[col, row, key] : "" }

function ratio(a, b) { return (b + 0 > 0) ? sprintf(" (%.2f)", a / b) : "" }

function cpu(col, row) {
    return sprintf("cpu %s/%s", col == "direct" ? "-" : get(col, row, "proxy_cpu"),
                   get(col, row, "loadgen_cpu"))
}

function cell(col, row, base, kind,    x, out, rc) {
    if (!((col, row, "rc") in v)) return "n/a"
    rc = get(col, row, "rc")
    if (rc != 0 && get(col, row, "note") != "") notes[col ": " get(col, row, "note")] = 1
    if (kind == "tput") {
        x = get(col, row, "gbps")
        if (x == "") return "failed (rc " rc ")"
        out = sprintf("%.1f", x) (col == "direct" ? "" : ratio(x, get("direct", row, "gbps")))
        if (col != "direct") out = out sprintf(" %.2f s/GB", get(col, row, "proxy_cpu_per_gb"))
        if (get(col, row, "machine_cpu_per_gb") != "")
            out = out sprintf(", machine %.2f s/GB", get(col, row, "machine_cpu_per_gb"))
        out = out ", " cpu(col, row)
    } else if (kind == "cycles") {
        x = get(col, row, "cycles_per_s")
        if (x == "") return "failed (rc " rc ")"
        out = sprintf("%d", x) (col == "direct" ? "" : ratio(x, get("direct", base, "cycles_per_s")))
        if (row == "cycles-1") # one client: cycles of a tenth of a millisecond
            out = out sprintf(" p50 %d p99 %d us, ", get(col, row, "p50_ms") * 1000,
                              get(col, row, "p99_ms") * 1000)
        else
            out = out sprintf(" p50 %.1f p99 %.1f ms, ", get(col, row, "p50_ms"), get(col, row, "p99_ms"))
        out = out cpu(col, row)
        if (get(col, row, "auth_cost_pct") ~ /^-?[0-9.]+$/) {
            out = out sprintf(", %.1f%% fewer than without auth", get(col, row, "auth_cost_pct"))
            if (get(col, row, "auth_cost_pairs") + 0 > 1)
                out = out sprintf(" (%.1f to %.1f in %d pairs)", get(col, row, "auth_cost_low"),
                                  get(col, row, "auth_cost_high"), get(col, row, "auth_cost_pairs"))
        }
        if (get(col, row, "errors") + 0 > 0) out = out ", " get(col, row, "errors") " errors"
    } else if (kind == "latency") {
        x = get(col, row, "p50_us")
        if (x == "") return "failed (rc " rc ")"
        out = sprintf("%d us", x) (col == "direct" ? "" : ratio(x, get("direct", row, "p50_us")))
        out = out sprintf(" p99 %d us", get(col, row, "p99_us"))
        if (col != "direct") out = out ratio(get(col, row, "p99_us"), get("direct", row, "p99_us"))
        out = out ", " cpu(col, row)
    } else if (kind == "udp-rr") {
        x = get(col, row, "rr_per_s")
        if (x == "") return "failed (rc " rc ")"
        out = sprintf("%d", x) (col == "direct" ? "" : ratio(x, get("direct", row, "rr_per_s")))
        out = out sprintf(" p50 %d p99 %d us", get(col, row, "p50_us"), get(col, row, "p99_us"))
        if (col != "direct") out = out sprintf(", %.2f us/dgram", get(col, row, "proxy_us_per_dgram"))
        out = out sprintf(", loss %.2f%%, ", get(col, row, "loss_pct")) cpu(col, row)
    } else if (kind == "udp-flood") {
        x = get(col, row, "gbps")
        if (x == "") return "failed (rc " rc ")"
        out = sprintf("%.2f", x) (col == "direct" ? "" : ratio(x, get("direct", row, "gbps")))
        out = out sprintf(" %d dgram/s", get(col, row, "dgrams_per_s"))
        if (col != "direct") out = out sprintf(", %.2f us/dgram", get(col, row, "proxy_us_per_dgram"))
        out = out sprintf(", loss %.1f%% of %d/s sent, ", get(col, row, "loss_pct"),
                          get(col, row, "sent_per_s")) cpu(col, row)
    } else if (kind == "udp-held") {
        x = get(col, row, "answered")
        if (x == "") return "failed (rc " rc ")"
        out = sprintf("%d of %d, %.1f KiB and %.1f fds per association, %d opened/s", x,
                      get(col, row, "associations"), get(col, row, "rss_per_assoc_bytes") / 1024,
                      get(col, row, "fds_per_assoc"), get(col, row, "open_per_s"))
    } else {
        x = get(col, row, "woken")
        if (x == "") return "failed (rc " rc ")"
        out = sprintf("%d of %d, %.1f KiB and %.1f fds per session", x, get(col, row, "sessions"),
                      get(col, row, "rss_per_session_bytes") / 1024, get(col, row, "fds_per_session"))
    }
    return out (rc != 0 ? " (rc " rc ")" : "")
}

{
    split($2, label, "=")
    split(label[2], cr, "/")
    for (i = 3; i <= NF; i++) {
        eq = index($i, "=")
        v[cr[1], cr[2], substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
}

END {
    n = split(columns, cols, " ")
    nrows = split("tput-1-up tput-1-down tput-1-both tput-1-both-trunc tput-8-up tput-8-down " \
                  "tput-8-both tput-8-both-trunc " \
                  "cycles cycles-pipe cycles-auth cycles-1 latency idle " \
                  "udp-rr-64 udp-rr-1200 udp-many udp-ping udp-flood udp-paced udp-held", rows, " ")
    title["tput-1-up"] = "bulk, 1 conn, upload (Gbit/s)"
    title["tput-1-down"] = "bulk, 1 conn, download (Gbit/s)"
    title["tput-1-both"] = "bulk, 1 conn, both ways (Gbit/s)"
    title["tput-1-both-trunc"] = "bulk, 1 conn, both ways, readers MSG_TRUNC (Gbit/s, sum)"
    title["tput-8-both-trunc"] = "bulk, 8 conns, both ways, readers MSG_TRUNC (Gbit/s, sum)"
    title["tput-8-up"] = "bulk, 8 conns, upload (Gbit/s)"
    title["tput-8-down"] = "bulk, 8 conns, download (Gbit/s)"
    title["tput-8-both"] = "bulk, 8 conns, both ways (Gbit/s)"
    title["cycles"] = "SOCKS5 cycles/s, 32 clients, no auth"
    title["cycles-pipe"] = "SOCKS5 cycles/s, 32 clients, pipelined handshake"
    title["cycles-auth"] = "SOCKS5 cycles/s, 32 clients, user/pass"
    title["cycles-1"] = "SOCKS5 cycles/s, 1 client, no auth"
    title["latency"] = "1-byte ping-pong p50"
    title["idle"] = "idle sessions woken (of asked), proxy RSS"
    title["udp-rr-64"] = "UDP round trips/s, 64 B, 4 in flight per association"
    title["udp-rr-1200"] = "UDP round trips/s, 1200 B, 4 in flight per association"
    title["udp-many"] = "UDP round trips/s, 64 B, 256 associations, 1 in flight each"
    title["udp-ping"] = "UDP ping-pong round trips/s, 64 B, 1 association"
    title["udp-flood"] = "UDP one-way flood, 1200 B (Gbit/s delivered)"
    title["udp-paced"] = "UDP one-way, 1200 B paced (Gbit/s delivered)"
    title["udp-held"] = "UDP associations answering (of held), proxy RSS"
    line = "| figure |"
    sep = "|---|"
    for (c = 1; c <= n; c++) { line = line " " cols[c] " |"; sep = sep "---|" }
    print line
    print sep
    for (r = 1; r <= nrows; r++) {
        row = rows[r]
        kind = row ~ /^tput/ ? "tput" : row ~ /^cycles/ ? "cycles" : row
        if (row ~ /^udp-(rr|ping|many)/) kind = "udp-rr"
        if (row == "udp-paced") kind = "udp-flood"
        line = "| " title[row] " |"
        # Ratios of the cycles rows are to direct TCP at the same concurrency.
        base = row == "cycles-1" ? row : "cycles"
        for (c = 1; c <= n; c++) line = line " " cell(cols[c], row, base, kind) " |"
        print line
    }
    for (note in notes) {
        if (!shown++) print "\nNot verified (rc != 0):"
        gsub(/_/, " ", note)
        print "- " note
    }
}
