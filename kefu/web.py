"""The HTTP routes served beside Streamlit's own (serve.py mounts them): the session cookie.

The login cookie must stay out of page scripts' reach, so it is set and cleared only here, by a response
header, HttpOnly and SameSite=Strict (Secure over https, also behind a proxy that says so). After a login
the page posts the one-time code the server gave it (kefu.auth.handoff) and gets the cookie in the answer;
logging out posts to clear it. Both refuse a request from another site's page.
"""
from __future__ import annotations

import json
import os
import threading

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kefu import auth, config

COOKIE = "kefu_session"
SESSION_PATH = "/_kefu/session"
LOGOUT_PATH = "/_kefu/logout"
WORKER_PATH = "/_kefu/worker"
_MAX_BODY = 4096
_store_lock = threading.Lock()
_stores: dict[str, object] = {}


def _store():
    """One store per database file for the routes (its connections are per thread, as everywhere)."""
    from kefu.sheets import load_sheets, schema_dir
    from kefu.store import Store
    path = str(config.db_path())
    with _store_lock:
        if path not in _stores:
            _stores[path] = Store(path, load_sheets(schema_dir()), config.load(str(config.config_path())))
        return _stores[path]


def _same_site(request: Request) -> bool:
    """A same-origin fetch names its origin; a form or script of another site names another (or, for
    a plain form, the JSON content type below stops it first)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def _cookie_header(value: str, max_age: int, secure: bool) -> str:
    return (f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict" + ("; Secure" if secure else ""))


async def _json_body(request: Request) -> dict | None:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    body = await request.body()
    if len(body) > _MAX_BODY:
        return None
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def session_cookie(request: Request) -> Response:
    """POST {"code": ...}: the one-time code of a login, answered with the session cookie."""
    data = await _json_body(request)
    if data is None or not _same_site(request):
        return Response(status_code=403)
    store = _store()
    cookie = await _in_thread(auth.redeem_handoff, store, data.get("code"))
    if cookie is None:
        return Response(status_code=403)
    answer = Response(status_code=204)
    answer.headers["set-cookie"] = _cookie_header(cookie, int(store.settings.session_idle_hours * 3600),
                                                  _secure(request))
    answer.headers["cache-control"] = "no-store"
    return answer


async def logout_cookie(request: Request) -> Response:
    """POST: end the session this browser's cookie names (the sidebar's logout ended it already; a stale
    tab's is ended here) and clear the cookie."""
    if await _json_body(request) is None or not _same_site(request):
        return Response(status_code=403)
    token = request.cookies.get(COOKIE)
    if token:
        await _in_thread(auth.logout, _store(), token)
    answer = Response(status_code=204)
    answer.headers["set-cookie"] = _cookie_header("", 0, _secure(request))
    answer.headers["cache-control"] = "no-store"
    return answer


async def _in_thread(function, *args):
    """SQLite work off the event loop (it may wait on another writer's lock)."""
    from starlette.concurrency import run_in_threadpool
    return await run_in_threadpool(function, *args)


async def worker(request: Request) -> Response:           # noqa: ARG001
    """Which worker of `make serve` answered (its number; 0 for a single process): for the administrator
    checking the proxy, and for the tests that stop one."""
    return JSONResponse({"worker": int(os.environ.get("KEFU_WORKER", "0") or 0)},
                        headers={"cache-control": "no-store"})


ROUTES = [Route(SESSION_PATH, session_cookie, methods=["POST"]), Route(LOGOUT_PATH, logout_cookie, methods=["POST"]),
          Route(WORKER_PATH, worker, methods=["GET"])]
