"""Send the dashboards and datasources to a running Grafana over its HTTP API.

With ``grafana-client`` (the maintained successor of ``grafana-api``): the folder is created
if missing (``POST /api/folders``), each datasource is created (``POST /api/datasources``) or
updated by uid (``PUT /api/datasources/uid/{uid}``), and each dashboard is saved with
``POST /api/dashboards/db`` into the folder, overwriting the previous version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.errors import PushFailed
from dashboards.kit import BuiltDashboard
from dashboards.provisioning import FOLDER_TITLE, FOLDER_UID, GrafanaSources, datasources

__all__ = ["PushResult", "push"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PushResult:
    """What Grafana now holds: the folder, datasources created/updated, dashboard URLs."""

    folder_created: bool
    datasources_created: tuple[str, ...]
    datasources_updated: tuple[str, ...]
    dashboards: tuple[str, ...]


def push(
    url: str,
    token: str,
    built: tuple[BuiltDashboard, ...],
    sources: GrafanaSources,
    *,
    timeout_s: float,
) -> PushResult:
    """Push everything; raise ``PushFailed`` naming the request Grafana refused."""
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    folder_created = False
    try:
        _call("GET /api/folders/" + FOLDER_UID, api.folder.get_folder, FOLDER_UID)
    except _Missing:
        _call("POST /api/folders", api.folder.create_folder, FOLDER_TITLE, uid=FOLDER_UID)
        folder_created = True
    created: list[str] = []
    updated: list[str] = []
    for source in datasources(sources):
        uid = source["uid"]
        try:
            _call(f"GET /api/datasources/uid/{uid}", api.datasource.get_datasource_by_uid, uid)
        except _Missing:
            _call("POST /api/datasources", api.datasource.create_datasource, source)
            created.append(uid)
        else:
            _call(
                f"PUT /api/datasources/uid/{uid}",
                api.datasource.update_datasource_by_uid,
                uid,
                source,
            )
            updated.append(uid)
    urls: list[str] = []
    for board in built:
        answer = _call(
            "POST /api/dashboards/db",
            api.dashboard.update_dashboard,
            {
                "dashboard": {**board.json, "id": None},
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "smartcity dashboards push",
            },
        )
        urls.append(str(answer.get("url", board.uid)) if isinstance(answer, dict) else board.uid)
    log.info(
        "dashboards_pushed",
        extra={"dashboards": len(urls), "datasources": len(created) + len(updated)},
    )
    return PushResult(folder_created, tuple(created), tuple(updated), tuple(urls))


class _Missing(Exception):
    """Grafana answered 404."""


def _call(request: str, method: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return method(*args, **kwargs)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            raise _Missing(request) from exc
        raise PushFailed(request, f"HTTP {exc.status_code}: {exc.message}") from exc
    except GrafanaException as exc:
        raise PushFailed(request, f"HTTP {exc.status_code}: {exc.message}") from exc
    except Exception as exc:  # the client raises its transport's many errors; name the step
        raise PushFailed(request, f"{type(exc).__name__}: {exc}") from exc
