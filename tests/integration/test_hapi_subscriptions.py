"""The HAPI servers deliver FHIR R4 rest-hook Subscriptions (hapi-server/README.md "Subscriptions").

A small HTTP receiver on 127.0.0.1 stands for the gateway's notification endpoint. The
tests create Subscriptions on EHR A, write Slots straight to HAPI and check what arrives:
one authenticated request per change naming the Slot, nothing once the Subscription is
gone. Every Subscription a test creates is deleted when it ends.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.hapi

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
SEND_DELETES = "http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages"
# Generous: the two JVMs share 2 cores with the rest of the suite.
WAIT = 30.0
RESTART_HINT = "is HAPI running a build with rest-hook subscriptions? (make hapi-stop && make hapi)"


@dataclass(frozen=True)
class Notification:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def resource(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """Records every request it gets; answers 200 with no body."""

    base_url: str
    received: list[Notification] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, notification: Notification) -> None:
        with self.changed:
            self.received.append(notification)
            self.changed.notify_all()

    def at(self, path: str) -> list[Notification]:
        with self.changed:
            return [n for n in self.received if n.path == path]

    def wait_for(
        self, what: str, matches: Callable[[Notification], bool], timeout: float = WAIT
    ) -> Notification:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [n for n in self.received if matches(n)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(n.method, n.path) for n in self.received][-10:]
                    raise AssertionError(
                        f"no notification {what} within {timeout:.0f}s; last: {seen}"
                    )
                self.changed.wait(left)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            receiver.record(Notification(self.command, self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = _record

        def log_message(self, format: str, *args: Any) -> None:
            return  # no access log on the test output

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, name="subscription-receiver", daemon=True
    )
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class Hapi:
    """EHR A over HTTP, remembering the Subscriptions it creates so they can be deleted."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.subscriptions: list[str] = []

    def subscribe(
        self,
        criteria: str,
        endpoint: str,
        *,
        token: str,
        payload: str | None = "application/fhir+json",
        channel_type: str = "rest-hook",
        send_deletes: bool = False,
    ) -> str:
        channel: dict[str, Any] = {
            "type": channel_type,
            "header": [f"Authorization: Bearer {token}"],
        }
        if endpoint:
            channel["endpoint"] = endpoint
        if payload is not None:
            channel["payload"] = payload
        if send_deletes:
            channel["extension"] = [{"url": SEND_DELETES, "valueBoolean": True}]
        response = self.http.post(
            "/Subscription",
            json={
                "resourceType": "Subscription",
                "status": "requested",
                "reason": "frontdesk subscription test",
                "criteria": criteria,
                "channel": channel,
            },
        )
        assert response.status_code == 201, response.text
        subscription_id: str = response.json()["id"]
        self.subscriptions.append(subscription_id)
        return subscription_id

    def status(self, subscription_id: str) -> str:
        response = self.http.get(f"/Subscription/{subscription_id}")
        assert response.status_code == 200, response.text
        status: str = response.json()["status"]
        return status

    def wait_active(self, subscription_id: str) -> None:
        deadline = time.monotonic() + WAIT
        while (status := self.status(subscription_id)) != "active":
            assert status == "requested", f"Subscription/{subscription_id} went {status}"
            assert time.monotonic() < deadline, (
                f"Subscription/{subscription_id} never active: {RESTART_HINT}"
            )
            time.sleep(0.1)

    def unsubscribe(self, subscription_id: str) -> None:
        response = self.http.delete(f"/Subscription/{subscription_id}")
        assert response.status_code in (200, 204), response.text
        self.subscriptions.remove(subscription_id)

    def schedule(self) -> str:
        schedule_id = f"sub-sc-{uuid.uuid4().hex[:12]}"
        response = self.http.put(
            f"/Schedule/{schedule_id}",
            json={
                "resourceType": "Schedule",
                "id": schedule_id,
                "active": True,
                "actor": [{"display": "Dr Subscription"}],
            },
        )
        assert response.status_code == 201, response.text
        return schedule_id

    def put_slot(self, slot_id: str, schedule_id: str, status: str) -> str:
        """Creates or updates the Slot; returns the version HAPI stored."""
        response = self.http.put(
            f"/Slot/{slot_id}",
            json={
                "resourceType": "Slot",
                "id": slot_id,
                "schedule": {"reference": f"Schedule/{schedule_id}"},
                "status": status,
                "start": "2031-07-01T09:00:00Z",
                "end": "2031-07-01T09:15:00Z",
            },
        )
        assert response.status_code in (200, 201), response.text
        version: str = response.json()["meta"]["versionId"]
        return version


@pytest.fixture
def hapi(hapi_base_urls: tuple[str, str]) -> Iterator[Hapi]:
    with httpx.Client(base_url=hapi_base_urls[0], headers=FHIR_JSON, timeout=60) as http:
        client = Hapi(http)
        yield client
        for subscription_id in list(client.subscriptions):
            client.unsubscribe(subscription_id)


def slot_id() -> str:
    return f"sub-sl-{uuid.uuid4().hex[:12]}"


def put_of(path: str, version: str) -> Callable[[Notification], bool]:
    def matches(n: Notification) -> bool:
        return n.method == "PUT" and n.path == path and n.resource()["meta"]["versionId"] == version

    return matches


def test_slot_create_and_update_each_notify_with_the_slot_and_the_header(hapi, receiver):
    token = secrets.token_urlsafe(16)
    subscription = hapi.subscribe("Slot?", f"{receiver.base_url}/hook", token=token)
    hapi.wait_active(subscription)
    schedule, slot = hapi.schedule(), slot_id()

    created = hapi.put_slot(slot, schedule, "busy")
    first = receiver.wait_for("for the create", put_of(f"/hook/Slot/{slot}", created))
    updated = hapi.put_slot(slot, schedule, "free")
    second = receiver.wait_for("for the update", put_of(f"/hook/Slot/{slot}", updated))

    for notification, status in ((first, "busy"), (second, "free")):
        assert notification.headers["Authorization"] == f"Bearer {token}"
        assert notification.headers["Content-Type"].startswith("application/fhir+json")
        body = notification.resource()
        assert (body["resourceType"], body["id"], body["status"]) == ("Slot", slot, status)
        assert body["schedule"]["reference"] == f"Schedule/{schedule}"
    assert (created, updated) == ("1", "2")
    assert second.headers["If-Match"] == 'W/"2"'


def test_criteria_pick_the_slots_of_one_schedule(hapi, receiver):
    token = secrets.token_urlsafe(16)
    watched, other = hapi.schedule(), hapi.schedule()
    one = hapi.subscribe(
        f"Slot?schedule=Schedule/{watched}", f"{receiver.base_url}/one", token=token
    )
    every = hapi.subscribe("Slot?", f"{receiver.base_url}/every", token=token)
    hapi.wait_active(one)
    hapi.wait_active(every)

    elsewhere, here = slot_id(), slot_id()
    hapi.put_slot(elsewhere, other, "free")
    hapi.put_slot(here, watched, "free")

    receiver.wait_for("for the watched schedule", put_of(f"/one/Slot/{here}", "1"))
    # The catch-all Subscription saw both writes, so both were matched by now.
    receiver.wait_for("for the other schedule", put_of(f"/every/Slot/{elsewhere}", "1"))
    receiver.wait_for("for the watched schedule", put_of(f"/every/Slot/{here}", "1"))
    assert receiver.at(f"/one/Slot/{elsewhere}") == []


def test_without_payload_a_notification_is_a_bare_post_naming_nothing(hapi, receiver):
    token = secrets.token_urlsafe(16)
    schedule = hapi.schedule()
    subscription = hapi.subscribe(
        f"Slot?schedule=Schedule/{schedule}", f"{receiver.base_url}/ping", token=token, payload=None
    )
    hapi.wait_active(subscription)

    hapi.put_slot(slot_id(), schedule, "free")

    ping = receiver.wait_for("without payload", lambda n: n.path == "/ping")
    assert (ping.method, ping.body) == ("POST", b"")
    assert ping.headers["Authorization"] == f"Bearer {token}"


def test_deletes_notify_only_when_the_subscription_asks_for_them(hapi, receiver):
    token = secrets.token_urlsafe(16)
    schedule = hapi.schedule()
    criteria = f"Slot?schedule=Schedule/{schedule}"
    asks = hapi.subscribe(criteria, f"{receiver.base_url}/asks", token=token, send_deletes=True)
    silent = hapi.subscribe(criteria, f"{receiver.base_url}/silent", token=token)
    hapi.wait_active(asks)
    hapi.wait_active(silent)
    slot = slot_id()
    hapi.put_slot(slot, schedule, "free")
    receiver.wait_for("for the create", put_of(f"/silent/Slot/{slot}", "1"))

    response = hapi.http.delete(f"/Slot/{slot}")
    assert response.status_code == 200, response.text

    deleted = receiver.wait_for(
        "for the delete", lambda n: n.method == "DELETE" and n.path == f"/asks/Slot/{slot}"
    )
    assert deleted.headers["Authorization"] == f"Bearer {token}"
    assert [n.method for n in receiver.at(f"/silent/Slot/{slot}")] == ["PUT"]


def test_a_deleted_subscription_stops_notifying(hapi, receiver):
    token = secrets.token_urlsafe(16)
    schedule = hapi.schedule()
    criteria = f"Slot?schedule=Schedule/{schedule}"
    doomed = hapi.subscribe(criteria, f"{receiver.base_url}/doomed", token=token)
    control = hapi.subscribe(criteria, f"{receiver.base_url}/control", token=token)
    hapi.wait_active(doomed)
    hapi.wait_active(control)
    slot = slot_id()
    hapi.put_slot(slot, schedule, "busy")
    receiver.wait_for("before the delete", put_of(f"/doomed/Slot/{slot}", "1"))

    hapi.unsubscribe(doomed)
    assert hapi.http.get(f"/Subscription/{doomed}").status_code == 410

    # HAPI unregisters the Subscription on its next submission pass: a write racing the
    # delete may still be delivered, so write until two in a row reach only the control
    # (the first of them may yet arrive late at the deleted one; none after it may).
    deadline = time.monotonic() + WAIT
    status = "busy"
    quiet: list[int] = []
    while len(quiet) < 2:
        status = "free" if status == "busy" else "busy"
        version = hapi.put_slot(slot, schedule, status)
        receiver.wait_for("to the control", put_of(f"/control/Slot/{slot}", version))
        if any(
            put_of(f"/doomed/Slot/{slot}", version)(n) for n in receiver.at(f"/doomed/Slot/{slot}")
        ):
            quiet = []
        else:
            quiet.append(int(version))
        assert time.monotonic() < deadline, "the deleted Subscription kept notifying"
    # And it stays quiet: later writes reach the control only.
    for _ in range(3):
        status = "free" if status == "busy" else "busy"
        version = hapi.put_slot(slot, schedule, status)
        receiver.wait_for("to the control", put_of(f"/control/Slot/{slot}", version))
    late = [n.resource()["meta"]["versionId"] for n in receiver.at(f"/doomed/Slot/{slot}")]
    assert all(int(v) <= quiet[0] for v in late), (late, quiet)


def test_only_rest_hook_activates_so_a_client_can_tell_what_the_server_does(hapi, receiver):
    token = secrets.token_urlsafe(16)
    websocket = hapi.subscribe("Slot?", "", token=token, payload=None, channel_type="websocket")
    rest_hook = hapi.subscribe("Slot?", f"{receiver.base_url}/hook", token=token)

    hapi.wait_active(rest_hook)

    assert hapi.status(websocket) == "requested"


def test_a_subscription_the_server_cannot_evaluate_is_refused(hapi):
    response = hapi.http.post(
        "/Subscription",
        json={
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "frontdesk subscription test",
            "criteria": "Slot?bogus=1",
            "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/none"},
        },
    )

    assert response.status_code == 422, response.text
    assert "bogus" in response.text
