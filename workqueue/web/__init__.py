"""The biller web worklist (`payerbot web`): server-rendered pages over the work queue, no JavaScript."""

from workqueue.web.app import create_app, serve

__all__ = ["create_app", "serve"]
