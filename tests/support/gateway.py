"""Talking to a gateway process over HTTP in integration tests."""

from __future__ import annotations

import socket
from typing import Any

import requests

from tests.support.processes import ProcessGroup, ServiceProcess, eventually

DEMO_PASSWORD = "onetrip-demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Api:
    """A small HTTP client: ``api.as_user("gzc").post(...)`` signs requests with a token."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def login(self, username: str, password: str = DEMO_PASSWORD) -> requests.Response:
        return self.post("/api/v1/session", json={"username": username, "password": password})

    def as_user(self, username: str, password: str = DEMO_PASSWORD) -> Api:
        response = Api(self.base_url).login(username, password)
        assert response.status_code == 200, response.text
        return Api(self.base_url, response.json()["token"])

    def answers(self) -> bool:
        try:
            return self.get("/healthz").status_code in (200, 503)
        except requests.ConnectionError:
            return False


def start_gateway(
    processes: ProcessGroup, label: str = "gateway", **extra_env: str
) -> tuple[ServiceProcess, Api]:
    port = free_port()
    process = processes.start("gateway", label=label, PORT=str(port), **extra_env)
    api = Api(f"http://127.0.0.1:{port}")
    eventually(lambda: process.alive() and api.answers(), timeout=90)
    return process, api


def is_problem(response: requests.Response, status: int) -> bool:
    body = response.json()
    return (
        response.status_code == status
        and response.headers["Content-Type"].startswith("application/problem+json")
        and body["status"] == status
        and {"type", "title", "detail"} <= set(body)
    )
