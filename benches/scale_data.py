#!/usr/bin/env python3
"""Inputs of benches/scale.sh: generated specs, OpenMetrics counters and a delaying proxy.

  scale_data.py specs N DIR        N SLOs as N/10 prometheus/v1 files of 10 events SLOs
  scale_data.py data N NOW         6 h of 60 s counters (3 regions, 2xx and 5xx) ending NOW
  scale_data.py proxy PORT TARGET DELAY
                                   a TCP proxy on 127.0.0.1:PORT to 127.0.0.1:TARGET that
                                   holds every request DELAY seconds before forwarding it
"""
import asyncio
import os
import sys

REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]


def specs(n, out):
    os.makedirs(out, exist_ok=True)
    for f in range((n + 9) // 10):
        lines = ['version: "prometheus/v1"', f"service: svc{f}", "slos:"]
        for s in range(10):
            i = f * 10 + s
            if i >= n:
                break
            job = f"job{i}"
            lines += [
                f"  - name: slo{s}",
                "    objective: 99.9",
                "    sli:",
                "      events:",
                f'        error_query: sum(rate(http_requests_total{{job="{job}",code=~"5.."}}[{{{{.window}}}}]))',
                f'        total_query: sum(rate(http_requests_total{{job="{job}"}}[{{{{.window}}}}]))',
                f"    alerting: {{name: Svc{f}Slo{s}Burn}}",
            ]
        with open(os.path.join(out, f"svc{f}.yaml"), "w") as fh:
            fh.write("\n".join(lines) + "\n")


def data(n, now):
    start = (now - 6 * 3600) // 60 * 60
    out = sys.stdout
    out.write("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n")
    steps = range(0, 6 * 3600, 60)
    for i in range(n):
        for r in REGIONS:
            for code, rps in (("200", 10.0), ("500", 0.005)):
                labels = f'code="{code}",job="job{i}",region="{r}"'
                buf = []
                for k, dt in enumerate(steps):
                    buf.append(f"http_requests_total{{{labels}}} {rps * 60 * (k + 1):.3f} {start + dt}\n")
                out.write("".join(buf))
    out.write("# EOF\n")


async def pipe(reader, writer, delay):
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            if delay:
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def proxy(port, target, delay):
    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw, delay), pipe(sr, cw, 0))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "specs":
        specs(int(sys.argv[2]), sys.argv[3])
    elif cmd == "data":
        data(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "proxy":
        asyncio.run(proxy(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
    else:
        sys.exit(__doc__)
