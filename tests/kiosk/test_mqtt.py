"""MQTT telemetry against a real broker: Debian's mosquitto on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.config import parse_config
from kiosk.mqtt import COMMANDS, MqttConfig, Telemetry, discovery, state_payload

pytestmark = pytest.mark.processes  # a real MQTT broker

ROOT = Path(__file__).resolve().parents[2]
if shutil.which("mosquitto") is None:  # the test command installs it; say so plainly if not
    pytest.fail("mosquitto is not installed: run `make test`, which installs Debian's mosquitto",
                pytrace=False)

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is the [mqtt] extra")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_running(proc: subprocess.Popen, log: Path) -> None:
    """Read mosquitto's own log until it says it runs (it logs to stderr, piped here)."""
    with log.open("ab") as out:
        for line in proc.stderr:
            out.write(line)
            if b" running" in line:
                break
        else:
            raise AssertionError(f"mosquitto exited with {proc.wait()}: see {log}")
    threading.Thread(target=_drain, args=(proc, log), daemon=True).start()


def _drain(proc: subprocess.Popen, log: Path) -> None:
    with log.open("ab") as out:
        for line in proc.stderr:
            out.write(line)


class Broker:
    def __init__(self, folder: Path, *, tls: dict | None = None, password_file: Path | None = None):
        self.folder = folder
        self.port = free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr",
                 "log_type error", "log_type warning", "log_type notice", "log_type information"]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to `mosquitto`, who cannot read tmp_path
        if password_file:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines += ["allow_anonymous true"]
        if tls:
            lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
        self.conf = folder / f"mosquitto-{self.port}.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_running(self.proc, self.folder / "mosquitto.log")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    yield b
    b.stop()


class Listener:
    """A test subscriber, keeping every (topic, payload, retain) until a test takes it."""

    def __init__(self, port: int, topic: str = "#"):
        self.messages: list[tuple[str, str, bool]] = []
        self.arrived = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"test-{os.getpid()}-{id(self)}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "the test subscriber could not subscribe"

    def _on_message(self, client, userdata, message) -> None:
        with self.arrived:
            self.messages.append((message.topic, message.payload.decode(), message.retain))
            self.arrived.notify_all()

    def next(self, topic: str, *, timeout_s: float = 10.0, where=lambda payload: True):
        """The first message on `topic` not taken yet; the others stay for later calls."""
        taken = []

        def take() -> bool:
            for i, (got, payload, retain) in enumerate(self.messages):
                if got == topic and where(payload):
                    del self.messages[i]
                    taken.append((payload, retain))
                    return True
            return False

        with self.arrived:
            if not self.arrived.wait_for(take, timeout_s):
                raise AssertionError(f"no message on {topic}")
        return taken[0]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def telemetry_for(broker: Broker, **changes) -> Telemetry:
    config = replace(MqttConfig(host="127.0.0.1", port=broker.port, station="s1"), **changes)
    return Telemetry(config, version="test")


# -- payloads (pure) ------------------------------------------------------------------------------

def test_discovery_is_one_device_with_named_unit_tagged_entities():
    config = MqttConfig(host="h", station="s1")
    entities = discovery(config, "1.2.3")
    water = entities["homeassistant/sensor/footbath_s1/water_c/config"]
    assert water["device_class"] == "temperature" and water["unit_of_measurement"] == "°C"
    assert water["state_topic"] == "footbath/s1/state"
    assert water["availability_topic"] == "footbath/s1/availability"
    assert water["value_template"] == "{{ value_json.water_c }}"
    heater = entities["homeassistant/binary_sensor/footbath_s1/heater/config"]
    assert heater["device_class"] == "heat" and heater["payload_on"] == "ON"
    devices = {json.dumps(e["device"], sort_keys=True) for e in entities.values()}
    assert len(devices) == 1  # one device for the whole station
    assert len({e["unique_id"] for e in entities.values()}) == len(entities)
    assert not [t for t in entities if "/button/" in t]  # no command buttons unless enabled
    with_commands = discovery(replace(config, commands=True), "1.2.3")
    buttons = {t: e for t, e in with_commands.items() if "/button/" in t}
    assert {e["payload_press"] for e in buttons.values()} == set(COMMANDS)


def test_state_payload_from_a_status():
    status = {"water_c": 37.9, "target_c": 38.0, "heater": True, "phase": "steps", "routine": "classic",
              "session": {"phase": "steps", "title": "Toe rotation"}, "session_remaining_s": 123.4,
              "faults": [], "cleaning_needed": False}
    payload = state_payload(status)
    assert payload == {"water_c": 37.9, "target_c": 38.0, "heater": "ON", "phase": "steps",
                       "routine": "classic", "step": "Toe rotation", "remaining_s": 123,
                       "faults": "none", "fault": "OFF", "cleaning_needed": "OFF"}


def test_config_reads_every_mqtt_key(tmp_path):
    config = parse_config(f"""
mqtt:
  host: broker.local
  port: 8883
  station: bath-2
  username: spa
  password: secret
  tls: true
  ca_file: {tmp_path}/ca.pem
  commands: true
""", "c.yaml")
    assert config.mqtt.root == "footbath/bath-2"
    assert config.mqtt.tls and config.mqtt.ca_file == tmp_path / "ca.pem"


# -- against the broker ---------------------------------------------------------------------------

def test_discovery_and_availability_are_retained(broker):
    telemetry = telemetry_for(broker)
    telemetry.start()
    try:
        first = Listener(broker.port)
        first.next("footbath/s1/availability", where=lambda p: p == "online")
        first.close()
        late = Listener(broker.port)  # a dashboard that connects later still learns everything
        payload, retained = late.next("homeassistant/sensor/footbath_s1/water_c/config")
        assert retained and json.loads(payload)["unit_of_measurement"] == "°C"
        payload, retained = late.next("footbath/s1/availability")
        assert (payload, retained) == ("online", True)
        late.close()
    finally:
        telemetry.stop()
    after = Listener(broker.port)
    assert after.next("footbath/s1/availability") == ("offline", True)  # said goodbye
    after.close()


def test_state_is_published_on_change_and_not_repeated(broker):
    telemetry = telemetry_for(broker)
    telemetry.start()
    listener = Listener(broker.port, "footbath/s1/state")
    try:
        connected(telemetry)
        status = {"water_c": 30.0, "phase": "idle", "faults": []}
        telemetry.offer(status, now_s=0.0)
        telemetry.offer(status, now_s=1.0)  # unchanged: nothing new
        telemetry.offer({**status, "water_c": 30.5}, now_s=2.0)
        payloads = [json.loads(listener.next("footbath/s1/state")[0])["water_c"] for _ in range(2)]
        assert payloads == [30.0, 30.5]
        assert telemetry.stats()["sent"] == 2
        telemetry.offer({**status, "water_c": 30.5}, now_s=40.0)  # the heartbeat
        assert json.loads(listener.next("footbath/s1/state")[0])["water_c"] == 30.5
    finally:
        listener.close()
        telemetry.stop()


def test_a_state_offered_while_connecting_is_published_after_the_connection(broker, monkeypatch):
    telemetry = telemetry_for(broker)
    status = {"water_c": 30.0, "phase": "idle", "faults": []}

    def discovery_while_a_reading_arrives(*args):
        telemetry.offer(status, now_s=0.0)  # the control loop, in the middle of paho's callback
        return discovery(*args)

    monkeypatch.setattr("kiosk.mqtt.discovery", discovery_while_a_reading_arrives)
    listener = Listener(broker.port, "footbath/s1/state")
    telemetry.start()
    try:
        connected(telemetry)
        assert json.loads(listener.next("footbath/s1/state")[0])["water_c"] == 30.0
    finally:
        listener.close()
        telemetry.stop()


def connected(telemetry: Telemetry) -> None:
    assert telemetry.wait_for(lambda t: t.connected), telemetry.stats()


def test_a_broker_that_is_down_never_blocks_offer_and_drops_are_counted(tmp_path):
    config = MqttConfig(host="127.0.0.1", port=free_port(), station="s1", queue_max=5)
    telemetry = Telemetry(config)
    telemetry.start()  # nothing listens: paho keeps retrying in the background
    try:
        for i in range(200):
            telemetry.offer({"water_c": 30.0 + i / 100, "phase": "heating", "faults": []}, now_s=i)
        telemetry.queue.join()
        stats = telemetry.stats()
        assert not stats["connected"]
        assert stats["sent"] == 0 and stats["dropped"] == 200
    finally:
        telemetry.stop()


def run_command(broker, telemetry, payload: str) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="commander")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.publish("footbath/s1/command", payload, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def test_commands_are_off_by_default(broker):
    received = []
    telemetry = telemetry_for(broker)
    telemetry.on_command = received.append
    telemetry.start()
    try:
        connected(telemetry)
        run_command(broker, telemetry, "heater_off")
        assert telemetry.subscribed == []  # never subscribed: the broker cannot deliver it
        assert received == []
    finally:
        telemetry.stop()


def test_enabled_commands_are_only_stop_and_heater_off(broker):
    received = []
    telemetry = telemetry_for(broker, commands=True)
    telemetry.on_command = received.append
    telemetry.start()
    try:
        connected(telemetry)
        assert telemetry.wait_for(lambda t: t.subscribed == ["footbath/s1/command"])
        for payload in ("start", "heat", "stop", "ack_fault", "heater_off"):
            run_command(broker, telemetry, payload)
        assert telemetry.wait_for(lambda t: len(received) == 2 and t.rejected_commands == 3)
        assert received == ["stop", "heater_off"]
    finally:
        telemetry.stop()


# -- TLS and passwords ----------------------------------------------------------------------------

def make_ca(folder: Path) -> dict:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=footbath test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.cnf")
    return {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}


def test_tls_with_a_test_ca_and_a_password(tmp_path):
    tls = make_ca(tmp_path)
    passwords = tmp_path / "passwords"
    passwords.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "spa", "s3cret"], check=True)
    broker = Broker(tmp_path, tls=tls, password_file=passwords)
    try:
        telemetry = telemetry_for(broker, tls=True, ca_file=tls["ca"], username="spa", password="s3cret")
        telemetry.start()
        try:
            connected(telemetry)
            assert telemetry.stats()["error"] is None
        finally:
            telemetry.stop()
        wrong = telemetry_for(broker, tls=True, ca_file=tls["ca"], username="spa", password="nope")
        wrong.start()
        try:
            assert wrong.wait_for(lambda t: t.error is not None)
            assert not wrong.connected
        finally:
            wrong.stop()
    finally:
        broker.stop()


# -- with the service -----------------------------------------------------------------------------

def service_config(tmp_path: Path, broker: Broker, **mqtt_keys) -> str:
    extra = "".join(f"\n  {k}: {v}" for k, v in mqtt_keys.items())
    return f"""
paths:
  routines_dir: {tmp_path}/routines
  state_dir: {tmp_path}/state
  socket: {tmp_path}/api.sock
cleaning: {{required: false}}
mqtt:
  host: 127.0.0.1
  port: {broker.port}
  station: s1{extra}
"""


def test_state_updates_and_the_session_message_during_a_simulated_session(tmp_path, broker):
    from kiosk.service import Service

    config = parse_config(service_config(tmp_path, broker), "c.yaml")
    listener = Listener(broker.port)
    service = Service(config, simulate=True, water_c=36.5)
    service.server.start()
    try:
        connected(service.telemetry)
        c = service.controller
        c.handle("start", {"routine": "quick"})
        c.handle("confirm", {})
        phases = []
        for _ in range(3000):
            service.step_simulation()
            status = c.status()
            if status["phase"] == "ready":
                c.handle("confirm", {})
            if status["phase"] == "steps" and status["session"]["waiting_for_tap"]:
                c.handle("confirm", {})
            if status["phase"] == "done":
                break
        while True:
            payload, _ = listener.next("footbath/s1/state")
            phase = json.loads(payload)["phase"]
            if not phases or phases[-1] != phase:
                phases.append(phase)
            if phase == "done":
                break
        assert phases == ["heating", "ready", "soaking", "steps", "done"]
        record = json.loads(listener.next("footbath/s1/session")[0])
        assert record["routine"] == "quick" and record["outcome"] == "done"
        assert record["profile"] == "standard"
        assert 36.0 < record["mean_c"] <= record["peak_c"] < 39.0
        assert record["length_s"] > 300
    finally:
        listener.close()
        service.close()


def test_a_broker_stopped_mid_session_changes_nothing_the_bath_does(tmp_path, broker):
    """The control decisions are the same, step for step, with the broker up or gone."""
    from kiosk.service import Service

    def run(stop_broker: bool) -> list:
        folder = tmp_path / f"run{int(stop_broker)}"
        folder.mkdir()
        service = Service(parse_config(service_config(folder, broker), "c.yaml"), simulate=True,
                          water_c=36.0, seed=3)
        try:
            connected(service.telemetry)
            service.controller.handle("start", {"routine": "classic"})
            service.controller.handle("confirm", {})
            trace = []
            for i in range(600):
                if stop_broker and i == 100:
                    broker.stop()
                service.step_simulation()
                status = service.controller.status()
                trace.append((status["phase"], status["heater"], status["water_c"]))
            if stop_broker:
                assert service.controller.status()["mqtt"]["dropped"] > 0
            return trace
        finally:
            service.close()

    assert run(False) == run(True)


def test_the_last_will_says_offline_when_the_service_is_killed(tmp_path, broker):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(service_config(tmp_path, broker))
    listener = Listener(broker.port, "footbath/s1/availability")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(cfg), "serve",
                             "--simulate", "--speed", "10"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert listener.next("footbath/s1/availability", timeout_s=30,
                             where=lambda p: p == "online")[0] == "online"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert listener.next("footbath/s1/availability", timeout_s=30,
                             where=lambda p: p == "offline")[0] == "offline"
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()
