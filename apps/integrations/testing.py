"""Helpers the provider apps' tests share.

Fixtures live next to the tests that use them, named after the endpoint and
the variant they capture: ``apps/<app>/tests/fixtures/<endpoint>__<variant>.json``
(for example ``campaign_get__page1.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.apps import apps


def fixtures_dir(app_label_or_path: str | Path) -> Path:
    """The fixture folder for an app label, a test module's ``__file__`` or a folder.

    - ``"tiktok_ads"`` -> ``<app path>/tests/fixtures``;
    - ``__file__`` of a test module -> ``fixtures`` next to it;
    - a folder -> its ``fixtures`` subfolder if it has one, else the folder itself.
    """
    candidate = Path(app_label_or_path)
    if isinstance(app_label_or_path, Path) or candidate.is_absolute() or len(candidate.parts) > 1:
        if candidate.is_file():
            return candidate.parent / "fixtures"
        nested = candidate / "fixtures"
        return nested if nested.is_dir() else candidate
    return Path(apps.get_app_config(str(app_label_or_path)).path) / "tests" / "fixtures"


def load_fixture(app_label_or_path: str | Path, name: str) -> Any:
    """The parsed JSON of ``<fixtures>/<name>.json`` (``.json`` may be given or left off).

    Usually a dict (a provider's answer); a fixture may hold a list too.
    """
    filename = name if name.endswith(".json") else f"{name}.json"
    path = fixtures_dir(app_label_or_path) / filename
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)
