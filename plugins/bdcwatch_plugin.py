"""The ``bdcwatch`` Airflow plugin (CONTRACT §7): the operations UI's FastAPI app under
``/bdcwatch`` and the navigation entry 问题台账 that shows its ledger inside the Airflow UI.

Thin on purpose: the app lives in the package (``bdcwatch.web``). Loaded from the
``[core] plugins_folder`` by the api-server (``make demo``, the compose stack and the
browser tests point it here).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from bdcwatch.web.app import create_app


class BdcwatchPlugin(AirflowPlugin):
    name = "bdcwatch"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/bdcwatch", "name": "bdcwatch 问题台账"}]
    # Relative hrefs resolve against the UI's <base href>, so they follow [api] base_url.
    # With url_route the UI shows the page in its own frame at /plugin/bdcwatch.
    external_views = [
        {
            "name": "问题台账",
            "href": "bdcwatch/ui/",
            "url_route": "bdcwatch",
            "destination": "nav",
            "nav_top_level": True,
            "icon": "bdcwatch/static/ledger.svg",
        },
    ]
