"""docs/flask.md's two set-ups, run as its reader runs them: the Flask app beside Tessera in
one uvicorn process (examples/flask/app.py), and behind nginx with `tessera serve` and
gunicorn as separate processes (examples/flask/proxied.py, nginx.conf). On each: login in
both transports, a protected Flask view, refresh, logout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.asgi_process import answers, free_port, uvicorn
from tests.helpers import CSRF, assert_error, bearer, subprocess_env, wait_until
from tests.live import LISTENING, add_user, serve

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flask"
PASSWORD = "correct horse battery staple"  # tests.conftest's: add_user sets it
HTTP_TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0


def walk(url: str) -> None:
    """Login → protected Flask view → refresh → view → logout → refresh refused, with the
    body transport; then the browser's: the refresh cookie, on the same origin."""
    with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as http:
        assert http.get("/").json() == {"hello": "world"}  # Flask's
        assert http.get("/auth/tessera.js").status_code == 200  # Tessera's
        assert_error(http.get("/api/profile"), 401, "invalid_token")
        wrong = {"username": "alice", "password": "nope", "transport": "body"}
        assert_error(http.post("/auth/login", json=wrong), 401, "invalid_credentials")

        body = {"username": "alice", "password": PASSWORD, "transport": "body"}
        login = http.post("/auth/login", json=body)
        assert login.status_code == 200, login.text
        tokens = login.json()
        profile = http.get("/api/profile", headers=bearer(tokens["access_token"]))
        assert profile.status_code == 200, profile.text
        assert profile.json()["role"] == "user" and profile.json()["name"] == "alice"
        sub = profile.json()["sub"]
        denied = http.get("/api/admin", headers=bearer(tokens["access_token"]))
        assert_error(denied, 403, "insufficient_scope")

        refreshed = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        fresh = refreshed.json()
        assert http.get("/api/profile", headers=bearer(fresh["access_token"])).json()["sub"] == sub
        logout = http.post("/auth/logout", json={"refresh_token": fresh["refresh_token"]})
        assert logout.status_code == 204
        after = http.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
        assert_error(after, 401, "invalid_grant")

    with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT) as browser:
        login = browser.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert "refresh_token" not in login.json() and browser.cookies.get("tessera_refresh")
        refreshed = browser.post("/auth/refresh", headers=CSRF)
        assert refreshed.status_code == 200, refreshed.text
        access = refreshed.json()["access_token"]
        assert browser.get("/api/profile", headers=bearer(access)).json()["sub"] == sub
        assert browser.post("/auth/logout", headers=CSRF).status_code == 204
        assert_error(browser.post("/auth/refresh", headers=CSRF), 401, "invalid_grant")


def test_flask_beside_tessera_in_one_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    env = {"TESSERA_DATA_DIR": str(data_dir), "TESSERA_COOKIE_SECURE": "false"}
    with uvicorn("app:application", EXAMPLE, env, log_dir=tmp_path) as url:
        walk(url)


# behind nginx ------------------------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

MAIN_CONF = """
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/site.conf;
}}
"""


@contextmanager
def running(args: list[str], cwd: Path, log: Path, env: dict[str, str]) -> Iterator[None]:
    with log.open("w") as out:
        process = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_flask_and_tessera_behind_nginx(tmp_path: Path) -> None:
    if NGINX is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("nginx is required in CI: apt-get install -y nginx-light")
        pytest.skip("nginx is not installed (apt-get install -y nginx-light)")
    data_dir = tmp_path / "data"
    add_user(data_dir, "alice")
    env = {"TESSERA_COOKIE_SECURE": "false", "TESSERA_TRUST_FORWARDED": "true"}
    with serve(data_dir, env=env) as tessera:
        tessera_url = tessera.expect(LISTENING).group(1)
        flask_port, front_port = free_port(), free_port()
        # docs/flask.md's server block, on this test's ports
        site = (EXAMPLE / "nginx.conf").read_text()
        site = site.replace("listen 8080", f"listen 127.0.0.1:{front_port}")
        site = site.replace("http://127.0.0.1:8001", tessera_url)
        site = site.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{flask_port}")
        (tmp_path / "site.conf").write_text(site)
        (tmp_path / "nginx.conf").write_text(MAIN_CONF.format(dir=tmp_path))
        gunicorn = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{flask_port}"]
        flask_env = subprocess_env(TESSERA_INTERNAL_URL=tessera_url)
        nginx = [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        front = f"http://127.0.0.1:{front_port}"
        with (
            running([*gunicorn, "proxied:app"], EXAMPLE, tmp_path / "gunicorn.log", flask_env),
            running(nginx, tmp_path, tmp_path / "nginx.log", subprocess_env()),
        ):
            wait_until(
                lambda: answers(front) and httpx.get(front, timeout=1).status_code == 200,
                "nginx and gunicorn to answer",
                STARTUP_TIMEOUT,
            )
            assert httpx.get(front, timeout=HTTP_TIMEOUT).headers["server"].startswith("nginx")
            walk(front)
