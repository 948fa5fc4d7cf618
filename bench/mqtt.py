"""MQTT figures: publish-to-receive latency through a local broker, and the control loop's
period jitter with the broker up versus down (it must not care).

    python -m bench.mqtt [--json] [--seconds N]

Starts Debian's mosquitto on a free loopback port; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kiosk.config import Cleaning, Config, Paths
from kiosk.mqtt import MqttConfig, Telemetry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false",
             "log_dest stderr", "log_type information"]
    if os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    for line in proc.stderr:
        if b" running" in line:
            break
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc, port


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency(port: int, count: int) -> dict:
    """Time from Telemetry.offer (the control loop's side) to a subscriber's on_message."""
    import paho.mqtt.client as mqtt

    sent: dict[float, float] = {}
    received: list[float] = []
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client, userdata, message):
        water = json.loads(message.payload)["water_c"]
        if water in sent:
            received.append(time.perf_counter() - sent.pop(water))
            if len(received) >= count:
                done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_connect = lambda c, *a: c.subscribe("footbath/bench/state", qos=0)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    subscribed.wait(10)
    telemetry = Telemetry(MqttConfig(host="127.0.0.1", port=port, station="bench", queue_max=1000))
    telemetry.start()
    telemetry.wait_for(lambda t: t.connected)
    for i in range(count):
        water = 30.0 + i / 1000
        sent[water] = time.perf_counter()
        telemetry.offer({"water_c": water, "phase": "soaking", "faults": []}, now_s=i)
        time.sleep(0.005)  # a paced stream, as the control loop makes one
    done.wait(20)
    telemetry.stop()
    sub.loop_stop()
    sub.disconnect()
    ms = [v * 1000 for v in received]
    return {"messages": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms)}


def loop_jitter(port: int, seconds: float, folder: Path) -> dict:
    """The real-time simulated control loop, its periods measured at each controller step."""
    from kiosk.service import Service

    config = Config(paths=Paths(routines_dir=folder / "routines", state_dir=folder / "state",
                                socket=folder / f"api{port}.sock"),
                    cleaning=Cleaning(required=False),
                    mqtt=MqttConfig(host="127.0.0.1", port=port, station="jitter", queue_max=100))
    service = Service(config, simulate=True, speed=1.0, water_c=37.5)
    stamps: list[float] = []
    costs: list[float] = []
    tick = service._tick

    def timed_tick(now_s, reading):  # one pass: control step, status to the API, MQTT offer
        start = time.perf_counter()
        stamps.append(start)
        tick(now_s, reading)
        costs.append((time.perf_counter() - start) * 1000)

    service._tick = timed_tick
    service.start()
    service.controller.handle("start", {"routine": "classic"})
    service.controller.handle("confirm", {})
    time.sleep(seconds)  # the loop runs in real time: this is the measurement window
    stats = service.telemetry.stats()
    service.stop()
    periods = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    mean = statistics.fmean(periods)
    deviation = [abs(p - mean) for p in periods]
    return {"steps": len(periods), "period_ms": mean, "jitter_p50_ms": percentile(deviation, 50),
            "jitter_p99_ms": percentile(deviation, 99), "jitter_max_ms": max(deviation),
            "pass_p50_ms": percentile(costs, 50), "pass_p99_ms": percentile(costs, 99),
            "pass_max_ms": max(costs), "mqtt_sent": stats["sent"], "mqtt_dropped": stats["dropped"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0, help="per jitter run (default 20)")
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args(argv)
    if shutil.which("mosquitto") is None:
        print("mosquitto is not installed (make test installs it)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="fbmq") as tmp:
        folder = Path(tmp)
        broker, port = start_broker(folder)
        try:
            result = {"latency": latency(port, args.messages),
                      "jitter_broker_up": loop_jitter(port, args.seconds, folder / "up")}
        finally:
            broker.terminate()
            broker.wait()
        result["jitter_broker_down"] = loop_jitter(port, args.seconds, folder / "down")
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    lat = result["latency"]
    print(f"publish to receive through mosquitto on loopback ({lat['messages']} state messages):")
    print(f"  p50 {lat['p50_ms']:.2f} ms   p99 {lat['p99_ms']:.2f} ms   max {lat['max_ms']:.2f} ms")
    print("control loop (simulated bath in real time; its reads take 0.83-0.92 s with 1.8 s "
          "outliers, which is most of the period's jitter):")
    for key, label in (("jitter_broker_up", "broker up  "), ("jitter_broker_down", "broker down")):
        j = result[key]
        print(f"  {label}  {j['steps']} passes: one pass (step + status + MQTT offer) p50 "
              f"{j['pass_p50_ms']:.2f} ms, p99 {j['pass_p99_ms']:.2f} ms, max {j['pass_max_ms']:.2f} ms;"
              f" period {j['period_ms']:.0f} ms, jitter p50 {j['jitter_p50_ms']:.1f} ms, p99 "
              f"{j['jitter_p99_ms']:.1f} ms; mqtt sent {j['mqtt_sent']}, dropped {j['mqtt_dropped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
