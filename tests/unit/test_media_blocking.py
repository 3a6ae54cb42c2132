"""A bot's browser context never requests images, fonts or media unless the payer's manifest asks for them."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import BrowserContext

from bots.session import block_media

PAGE = (b"<html><head><style>@font-face{font-family:F;src:url(/f.woff2)}body{font-family:F}</style></head>"
        b"<body><img src='/logo.png'><img src='/photo.JPG?v=2'><video src='/intro.mp4' autoplay></video>"
        b"<script src='/app.js'></script><p>Claim status: Paid</p></body></html>")


def _server() -> tuple[ThreadingHTTPServer, list[str]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            seen.append(self.path)
            body = PAGE if self.path == "/" else b"x"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_images_fonts_and_media_are_never_requested(context: BrowserContext) -> None:
    server, seen = _server()
    try:
        block_media(context)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_port}/", wait_until="load")
        assert page.inner_text("p") == "Claim status: Paid"
        page.wait_for_timeout(300)
    finally:
        server.shutdown()
    assert "/" in seen and "/app.js" in seen  # the page and its script still load
    assert not [path for path in seen if path.split("?")[0].lower().endswith((".png", ".jpg", ".woff2", ".mp4"))]
