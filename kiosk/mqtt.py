"""MQTT telemetry for a spa with several stations, with Home Assistant discovery.

Off unless `mqtt:` is configured, and never in the safety path: the control loop only drops a
message into a bounded queue (`offer`, O(1), never blocks); a worker thread hands it to
paho-mqtt. A broker that is down or slow costs dropped telemetry (counted, in `status`), never
a late control step. Commands are off by default and, when enabled, can only stop a session or
switch everything off: nothing received over the network can ever heat.

Topics, for station S under base B (default "footbath"):
  B/S/availability   "online" / "offline" (retained; the broker publishes "offline" as our will)
  B/S/state          JSON: water, target, heater, phase, step, time left, faults, cleaning (retained)
  B/S/session        JSON, one per finished session: routine, profile, length, outcome, peak, mean
  B/S/command        "stop" or "heater_off" (only when mqtt.commands is true)
  <discovery prefix>/<component>/footbath_S/<object>/config   Home Assistant discovery (retained)
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

COMMANDS = ("stop", "heater_off")  # never anything that heats
HEARTBEAT_S = 30.0  # the state is republished at least this often, changed or not


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int = 1883
    station: str = "station1"
    base_topic: str = "footbath"
    discovery_prefix: str = "homeassistant"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    commands: bool = False
    keepalive_s: int = 30
    queue_max: int = 100

    @property
    def root(self) -> str:
        return f"{self.base_topic}/{self.station}"


def state_payload(status: dict) -> dict:
    """What the dashboard shows, from the controller's status."""
    session = status.get("session") or {}
    return {
        "water_c": status.get("water_c"),
        "target_c": status.get("target_c"),
        "heater": "ON" if status.get("heater") else "OFF",
        "phase": status.get("phase"),
        "routine": status.get("routine"),
        "step": session.get("title") if session.get("phase") == "steps" else None,
        "remaining_s": None if status.get("session_remaining_s") is None
        else round(status["session_remaining_s"]),
        "faults": ", ".join(f["code"] for f in status.get("faults") or []) or "none",
        "fault": "ON" if status.get("faults") else "OFF",
        "cleaning_needed": "ON" if status.get("cleaning_needed") else "OFF",
    }


def discovery(config: MqttConfig, version: str) -> dict[str, dict]:
    """Home Assistant discovery: one device, its sensors and binary sensors, named and unit-tagged."""
    node = f"footbath_{config.station}"
    root = config.root
    device = {"identifiers": [node], "name": f"Foot bath {config.station}", "manufacturer": "footbath",
              "model": "footbath kiosk", "sw_version": version}
    common = {"availability_topic": f"{root}/availability", "state_topic": f"{root}/state",
              "device": device}

    def entity(component: str, key: str, name: str, **extra) -> tuple[str, dict]:
        topic = f"{config.discovery_prefix}/{component}/{node}/{key}/config"
        # object_id fixes the entity id (sensor.foot_bath_<station>_water_temperature) for dashboards
        object_id = f"foot_bath_{config.station}_{name}".lower().replace(" ", "_").replace("-", "_")
        return topic, {"name": name, "unique_id": f"{node}_{key}", "object_id": object_id,
                       "value_template": f"{{{{ value_json.{key} }}}}", **common, **extra}

    entities = [
        entity("sensor", "water_c", "Water temperature", device_class="temperature",
               unit_of_measurement="°C", state_class="measurement", suggested_display_precision=1),
        entity("sensor", "target_c", "Target temperature", device_class="temperature",
               unit_of_measurement="°C"),
        entity("sensor", "phase", "Phase", icon="mdi:foot-print"),
        entity("sensor", "routine", "Routine", icon="mdi:format-list-checks"),
        entity("sensor", "step", "Step", icon="mdi:hand-back-left"),
        entity("sensor", "remaining_s", "Time left", device_class="duration", unit_of_measurement="s"),
        entity("sensor", "faults", "Faults", icon="mdi:alert"),
        entity("binary_sensor", "heater", "Heater", device_class="heat", payload_on="ON",
               payload_off="OFF"),
        entity("binary_sensor", "fault", "Fault", device_class="problem", payload_on="ON",
               payload_off="OFF"),
        entity("binary_sensor", "cleaning_needed", "Cleaning needed", device_class="problem",
               payload_on="ON", payload_off="OFF"),
    ]
    if config.commands:
        for command, name in (("stop", "Stop session"), ("heater_off", "Heater off")):
            topic = f"{config.discovery_prefix}/button/{node}/{command}/config"
            entities.append((topic, {"name": name, "unique_id": f"{node}_{command}",
                                     "command_topic": f"{root}/command", "payload_press": command,
                                     "availability_topic": f"{root}/availability", "device": device}))
    return dict(entities)


class Telemetry:
    """The MQTT side of the service; `offer` and `session_finished` are safe from any thread."""

    def __init__(self, config: MqttConfig, *, version: str = "",
                 on_command: Callable[[str], None] | None = None):
        self.config = config
        self.version = version
        self.on_command = on_command
        self.queue: queue.Queue = queue.Queue(maxsize=config.queue_max)
        self.dropped = 0
        self.sent = 0
        self.rejected_commands = 0
        self.connected = False  # accepted by the broker, and availability and discovery sent
        self._link_up = False  # the broker accepted us: the worker may publish
        self.error: str | None = None
        self._last_state: str | None = None
        self._last_state_at = 0.0
        self.subscribed: list[str] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="footbath-mqtt", daemon=True)
        self.client = self._make_client()

    def _make_client(self):
        import paho.mqtt.client as mqtt

        c = self.config
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"footbath-{c.station}")
        client.will_set(f"{c.root}/availability", "offline", qos=1, retain=True)
        if c.username:
            client.username_pw_set(c.username, c.password)
        if c.tls:
            client.tls_set(ca_certs=str(c.ca_file) if c.ca_file else None,
                           certfile=str(c.cert_file) if c.cert_file else None,
                           keyfile=str(c.key_file) if c.key_file else None)
        client.reconnect_delay_set(min_delay=1, max_delay=60)  # backoff while the broker is away
        client.max_queued_messages_set(c.queue_max)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self.client.loop_start()
        self._worker.start()

    def stop(self) -> None:
        """Say goodbye (availability offline), then close."""
        self._stop.set()
        self.queue.put_nowait(None) if not self.queue.full() else None
        if self._worker.is_alive():
            self._worker.join(timeout=2)
        if self.connected:
            info = self.client.publish(f"{self.config.root}/availability", "offline", qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    # -- from the control loop ------------------------------------------------------------------

    def offer(self, status: dict, now_s: float | None = None) -> None:
        """The newest status: published when it changed, and at least every HEARTBEAT_S."""
        now_s = time.monotonic() if now_s is None else now_s
        payload = json.dumps(state_payload(status), sort_keys=True)
        if payload == self._last_state and now_s - self._last_state_at < HEARTBEAT_S:
            return
        self._last_state, self._last_state_at = payload, now_s
        self._enqueue(f"{self.config.root}/state", payload, retain=True)

    def session_finished(self, record: dict) -> None:
        self._enqueue(f"{self.config.root}/session", json.dumps(record, sort_keys=True), retain=False)

    def _enqueue(self, topic: str, payload: str, *, retain: bool) -> None:
        try:
            self.queue.put_nowait((topic, payload, retain))
        except queue.Full:
            self.dropped += 1

    def wait_for(self, predicate: Callable[[Telemetry], bool], timeout_s: float = 10.0) -> bool:
        """Block until predicate(self) holds (connected, refused...) or the time is up."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout=timeout_s)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def stats(self) -> dict:
        return {"connected": self.connected, "sent": self.sent, "dropped": self.dropped,
                "queued": self.queue.qsize(), "rejected_commands": self.rejected_commands,
                "error": self.error}

    # -- the worker and paho's callbacks ---------------------------------------------------------

    def _work(self) -> None:
        import paho.mqtt.client as mqtt

        while not self._stop.is_set():
            item = self.queue.get()
            if item is None:
                return
            topic, payload, retain = item
            if not self._link_up:
                self.dropped += 1  # telemetry is live data: stale state is not worth keeping
            elif self.client.publish(topic, payload, qos=0, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS:
                self.sent += 1
            else:
                self.dropped += 1
            self.queue.task_done()
            self._notify()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.error = f"the broker refused the connection: {reason_code}"
            log.error("mqtt: %s", self.error)
            self._notify()
            return
        self._link_up = True
        root = self.config.root
        client.publish(f"{root}/availability", "online", qos=1, retain=True)
        for topic, payload in discovery(self.config, self.version).items():
            client.publish(topic, json.dumps(payload, ensure_ascii=False), qos=1, retain=True)
        if self._last_state is not None:
            # The newest state, for whoever subscribes next: through the worker's queue, behind
            # any older state still in it, so that the retained state ends as the newest.
            self._enqueue(f"{root}/state", self._last_state, retain=True)
        if self.config.commands:
            client.subscribe(f"{root}/command", qos=1)  # listed in `subscribed` once the broker acks
        self.connected, self.error = True, None
        log.info("mqtt: connected to %s:%s", self.config.host, self.config.port)
        self._notify()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if all(not code.is_failure for code in reason_codes):
            self.subscribed.append(f"{self.config.root}/command")
        self._notify()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._link_up = self.connected = False
        self.subscribed.clear()
        if not self._stop.is_set():
            self.error = f"disconnected from the broker ({reason_code}); reconnecting"
            log.warning("mqtt: %s", self.error)
        self._notify()

    def _on_message(self, client, userdata, message) -> None:
        command = message.payload.decode("utf-8", "replace").strip()
        if not self.config.commands or command not in COMMANDS or self.on_command is None:
            self.rejected_commands += 1
            log.warning("mqtt: command %r refused; allowed: %s", command[:40], ", ".join(COMMANDS))
            self._notify()
            return
        log.info("mqtt: command %s", command)
        try:
            self.on_command(command)
        except Exception as exc:  # a refused stop (no session) is not an error of ours
            log.info("mqtt: command %s: %s", command, exc)
        self._notify()
