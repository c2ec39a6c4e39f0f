"""The dashboard page at ``{base_url}duragraph/ui/`` and its assets (built by ``extension/build.mjs``
into ``duragraph_lab/static/dashboard/``).

Both go through Jupyter's identity provider: a browser that is not logged in is redirected to
Jupyter's login page (``?token=`` logs in, as everywhere in Jupyter), so the page works in a plain
tab and behind JupyterHub (``base_url``). The page carries the base URL, the server's version and
the XSRF token; the scripts then talk to the JSON API with the login cookie.
"""

from __future__ import annotations

import html
import json
import mimetypes
from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from duragraph_lab._version import __version__

UI_PREFIX = "duragraph/ui"
STATIC_DIR = Path(__file__).resolve().parents[2] / "static" / "dashboard"
#: The files the page loads (what build.mjs writes); anything else is a 404.
ASSETS = {"dashboard.js", "dashboard.css"}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DuraGraph</title>
<link rel="stylesheet" href="{static}dashboard.css?v={version_q}">
<script id="duragraph-config" type="application/json">{config}</script>
</head>
<body class="dg-standalone">
<div id="duragraph-root">
<noscript>The DuraGraph dashboard needs JavaScript.</noscript>
</div>
<script type="module" src="{static}dashboard.js?v={version_q}"></script>
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DuraGraph</title></head>
<body><h1>DuraGraph dashboard not built</h1>
<p>The dashboard's bundles are missing from {path}. Reinstall duragraph-lab, or run
<code>npm ci &amp;&amp; npm run build</code> in <code>extension/</code> (Node.js 20+).</p></body></html>
"""


def _json_in_script(value: object) -> str:
    """JSON that cannot end its <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class DashboardPageHandler(ExtensionHandlerMixin, JupyterHandler):
    """``GET {base_url}duragraph/ui/``: the page (``…/duragraph/ui`` redirects here)."""

    @web.authenticated
    def get(self) -> None:
        if not self.request.path.endswith("/"):
            self.redirect(self.request.path + "/" + (f"?{self.request.query}" if self.request.query else ""))
            return
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        if not all((STATIC_DIR / name).is_file() for name in ASSETS):
            self.set_status(503)
            self.finish(_MISSING.format(path=html.escape(str(STATIC_DIR))))
            return
        xsrf = self.xsrf_token  # also sets the _xsrf cookie
        config = {
            "baseUrl": self.base_url,
            "apiUrl": f"{self.base_url}duragraph/api/v1/",
            "serverVersion": __version__,
            "xsrfToken": xsrf.decode() if isinstance(xsrf, bytes) else str(xsrf),
        }
        self.finish(
            _PAGE.format(
                static=html.escape(f"{self.base_url}{UI_PREFIX}/static/"),
                version_q=html.escape(__version__),
                config=_json_in_script(config),
            )
        )


class DashboardAssetHandler(ExtensionHandlerMixin, JupyterHandler):
    """``GET {base_url}duragraph/ui/static/<name>``: one of :data:`ASSETS`, else 404."""

    @web.authenticated
    def get(self, name: str) -> None:
        path = STATIC_DIR / name
        if name not in ASSETS or not path.is_file():
            raise web.HTTPError(404, "no dashboard asset %s", name)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".js"):
            content_type = "text/javascript"
        self.set_header("Content-Type", f"{content_type}; charset=utf-8")
        # Versioned by ?v=<version> in the page; a rebuilt bundle of the same version is picked up
        # on the next revalidation.
        self.set_header("Cache-Control", "no-cache")
        self.finish(path.read_bytes())


def ui_handlers() -> list[tuple[str, type]]:
    """The URL patterns of the page (relative to base_url, as ExtensionApp.handlers takes them)."""
    return [
        (rf"/{UI_PREFIX}/?", DashboardPageHandler),
        (rf"/{UI_PREFIX}/static/([^/]+)", DashboardAssetHandler),
    ]
