"""One router per concern (FastAPI's bigger-applications layout); ``create_app`` includes them.

Adding a concern (acknowledgements and silences, Alertmanager's webhook) is a module here with
its ``router``, and one line in ``api.app``, or a router handed to ``create_app(routers=...)``.
"""
