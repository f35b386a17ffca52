"""``manage.py import_legacy_tiktok_ads``: the legacy ``marketing_integrations`` export.

Both fixtures hold the same seven rows: three tenants that import (acme,
globex, initech), an unknown tenant (umbrella), a row without a token (hooli),
a malformed date (soylent) and a second acme row (a duplicate).
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db

from apps.integrations import crypto
from apps.integrations.adapters import TokenGrant
from apps.integrations.fields import Secret
from apps.integrations.models import ConnectionStatus
from apps.integrations.registry import providers
from apps.integrations.services import connection_disconnect, connection_save_grant
from apps.tiktok_ads.legacy import (
    LegacyRow,
    LegacyRowInvalid,
    legacy_row_validate,
)
from apps.tiktok_ads.models import TikTokAdsConnection, TikTokAdvertiser, TikTokPixel

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
CSV_FILE = FIXTURES / "legacy_marketing_integrations.csv"
JSON_FILE = FIXTURES / "legacy_marketing_integrations.json"

ACME_TOKEN = "739a207a06221596e912a0144c556fb45f35428e"
ACME_DUPLICATE_TOKEN = "5bf29274940941a4962e88f64c16e84ca7fd21df"
ROTATED_TOKEN = "c7103b997a306521a42391c26e032f167f901238"
FILE_TOKENS = (
    ACME_TOKEN,
    "e3c804630bcc0f0408aac127a6feda3636f313e1",  # globex
    "5d5cbe9f145fe09f1b31a0f8455793e4fbf885d3",  # initech
    "57e4f7ac9cb7be0d8de7352677975bc31e335193",  # umbrella (unknown tenant)
    "699767c7e0e1ac6c1e4c75c124bca36f834db2ae",  # soylent (bad date)
    ACME_DUPLICATE_TOKEN,
)
ACME_CONNECTED_AT = datetime(2024, 3, 2, 8, 15, tzinfo=UTC)

EXPECTED_FIRST_RUN = [
    "row 1: acme created",
    "row 2: globex created",
    "row 3: initech created",
    "row 4: umbrella error: no tenant with slug 'umbrella' in the hub",
    "row 5: hooli error: tiktok_access_token is missing",
    "row 6: soylent error: tiktok_connected_at is not a date (ISO 8601 or YYYY-MM-DD HH:MM:SS expected)",
    "row 7: acme skipped: duplicate of row 1 for this tenant (the first row wins)",
]


@pytest.fixture(params=[CSV_FILE, JSON_FILE], ids=["csv", "json"])
def export_file(request) -> Path:
    return request.param


@pytest.fixture
def tenants(make_tenant):
    return {slug: make_tenant(slug) for slug in ("acme", "globex", "initech", "hooli", "soylent")}


def run(*args: str) -> tuple[str, CommandError | None]:
    """The command's stdout, and the CommandError it ended with (None when it succeeded)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("import_legacy_tiktok_ads", *args, stdout=out, stderr=err, no_color=True)
    except CommandError as exc:
        return out.getvalue() + err.getvalue(), exc
    return out.getvalue() + err.getvalue(), None


def row_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("row ")]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def acme_row(**overrides: str) -> dict[str, str]:
    return {
        "tenant_slug": "acme",
        "tiktok_access_token": ACME_TOKEN,
        "tiktok_advertiser_ids": "7012345678901234567 7012345678901234568",
        "tiktok_pixel_id": "7234567890123456789",
        "tiktok_pixel_code": "CQ1A2B3C4D5E6F7G8H9I",
        "tiktok_connected_at": "2024-03-02 08:15:00",
        **overrides,
    }


def raw_tokens() -> list[str | None]:
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tiktok_ads_tiktokadsconnection")
        return [row[0] for row in cursor.fetchall()]


def oauth_connect(tenant, user, token: str = "oauth-token-from-the-hub-0001"):
    """Connect the tenant the way the OAuth callback does (connected_at = now)."""
    return connection_save_grant(
        provider=providers.get("tiktok_ads"),
        tenant=tenant,
        user=user,
        grant=TokenGrant(
            access_token=token,
            granted_scopes=["10", "44"],
            external_user_id="7099999999999999999",
            assets={"advertiser_ids": ["7099999999999999999"]},
        ),
        scope_packs=["ads_read"],
    )


# --- a first import ------------------------------------------------------------------


def test_imports_every_valid_row_and_reports_the_others(export_file, tenants):
    output, error = run(str(export_file))

    assert row_lines(output) == EXPECTED_FIRST_RUN
    assert "created=3 updated=0 skipped=1 errors=3" in output
    assert error is not None and "3 row(s) failed" in str(error)

    acme = TikTokAdsConnection.objects.get(tenant=tenants["acme"])
    assert acme.status == ConnectionStatus.CONNECTED
    assert acme.access_token.reveal() == ACME_TOKEN  # the first acme row won
    assert acme.refresh_token is None and acme.access_expires_at is None
    assert acme.assets == {
        "advertiser_ids": ["7012345678901234567", "7012345678901234568"],
        "imported_from": "legacy",
    }
    assert acme.connected_at == ACME_CONNECTED_AT
    assert acme.connected_by is None
    assert acme.external_user_id == "6801234567890123456"
    assert acme.granted_scopes == ["10", "20", "21", "22", "44", "80", "7224195155857866754"]

    globex = TikTokAdsConnection.objects.get(tenant=tenants["globex"])
    assert globex.assets["advertiser_ids"] == ["7023456789012345678"]
    assert globex.external_user_id == "7023456789012345678"  # no user id: the first advertiser
    assert globex.granted_scopes == []
    assert globex.connected_at == datetime(2024, 5, 10, 14, 30, tzinfo=UTC)

    initech = TikTokAdsConnection.objects.get(tenant=tenants["initech"])
    assert initech.connected_at == datetime(2024, 1, 20, 9, 0, tzinfo=UTC)  # naive means UTC
    assert initech.assets["advertiser_ids"] == ["7034567890123456789"]

    for slug in ("hooli", "soylent"):
        assert not TikTokAdsConnection.objects.filter(tenant=tenants[slug]).exists()


def test_creates_advertisers_and_the_conversion_pixel(export_file, tenants):
    run(str(export_file))

    advertisers = TikTokAdvertiser.objects.for_tenant(tenants["acme"]).order_by("advertiser_id")
    assert [a.advertiser_id for a in advertisers] == ["7012345678901234567", "7012345678901234568"]
    for advertiser in advertisers:
        assert advertiser.is_active and advertiser.name == "" and advertiser.synced_at is not None
        assert advertiser.connection.tenant_id == tenants["acme"].pk

    pixel = TikTokPixel.objects.for_tenant(tenants["acme"]).get()
    assert (pixel.pixel_id, pixel.pixel_code) == ("7234567890123456789", "CQ1A2B3C4D5E6F7G8H9I")
    assert pixel.is_conversion_pixel
    assert pixel.advertiser_id == "7012345678901234567"

    initech_pixel = TikTokPixel.objects.for_tenant(tenants["initech"]).get()
    assert initech_pixel.is_conversion_pixel and initech_pixel.pixel_code == ""
    assert not TikTokPixel.objects.for_tenant(tenants["globex"]).exists()


def test_an_existing_conversion_pixel_is_kept(tenants, tmp_path):
    run(str(write_csv(tmp_path / "first.csv", [acme_row()])))
    file = write_csv(
        tmp_path / "second.csv",
        [acme_row(tiktok_pixel_id="7299999999999999999", tiktok_pixel_code="CNEWPIXEL000000000")],
    )

    output, error = run(str(file))

    assert error is None
    assert row_lines(output) == [
        "row 1: acme updated (pixel); pixel 7299999999999999999 not marked for conversions: "
        "pixel 7234567890123456789 already is"
    ]
    pixels = dict(
        TikTokPixel.objects.for_tenant(tenants["acme"]).values_list(
            "pixel_id", "is_conversion_pixel"
        )
    )
    assert pixels == {"7234567890123456789": True, "7299999999999999999": False}


# --- reruns and changes ----------------------------------------------------------------


def test_rerun_with_the_same_file_changes_nothing(export_file, tenants):
    run(str(export_file))
    before = list(TikTokAdsConnection.objects.order_by("pk").values())
    counts = (TikTokAdvertiser.objects.count(), TikTokPixel.objects.count())

    output, error = run(str(export_file))

    assert row_lines(output)[:3] == [
        "row 1: acme skipped: unchanged",
        "row 2: globex skipped: unchanged",
        "row 3: initech skipped: unchanged",
    ]
    assert row_lines(output)[3:] == EXPECTED_FIRST_RUN[3:]
    assert "created=0 updated=0 skipped=4 errors=3" in output
    assert error is not None
    assert list(TikTokAdsConnection.objects.order_by("pk").values()) == before
    assert (TikTokAdvertiser.objects.count(), TikTokPixel.objects.count()) == counts


def test_a_changed_token_updates_the_connection(tenants, tmp_path):
    run(str(write_csv(tmp_path / "first.csv", [acme_row()])))
    first = TikTokAdsConnection.objects.get()
    file = write_csv(
        tmp_path / "rotated.csv",
        [acme_row(tiktok_access_token=ROTATED_TOKEN, tiktok_connected_at="2024-04-01T10:00:00Z")],
    )

    output, error = run(str(file))

    assert error is None
    assert row_lines(output) == ["row 1: acme updated (access token, connected_at)"]
    assert "created=0 updated=1 skipped=0 errors=0" in output
    connection = TikTokAdsConnection.objects.get()
    assert connection.pk == first.pk
    assert connection.access_token.reveal() == ROTATED_TOKEN
    assert connection.connected_at == datetime(2024, 4, 1, 10, 0, tzinfo=UTC)
    assert TikTokAdvertiser.objects.count() == 2 and TikTokPixel.objects.count() == 1

    output, _ = run(str(file))
    assert row_lines(output) == ["row 1: acme skipped: unchanged"]


def test_a_connection_disconnected_in_the_hub_is_reconnected_by_a_newer_legacy_token(
    tenants, tmp_path
):
    run(str(write_csv(tmp_path / "first.csv", [acme_row()])))
    connection = TikTokAdsConnection.objects.get()
    connection.status = ConnectionStatus.DISCONNECTED
    connection.access_token = None
    connection.disconnected_at = datetime(2024, 3, 10, tzinfo=UTC)
    connection.save()

    older = write_csv(tmp_path / "older.csv", [acme_row()])
    output, _ = run(str(older))
    assert row_lines(output) == [
        "row 1: acme skipped: the hub connection was disconnected at 2024-03-10 00:00:00 UTC, "
        "after the legacy connection at 2024-03-02 08:15:00 UTC; not overwritten"
    ]

    newer = write_csv(
        tmp_path / "newer.csv",
        [acme_row(tiktok_access_token=ROTATED_TOKEN, tiktok_connected_at="2024-04-01 00:00:00")],
    )
    output, _ = run(str(newer))
    assert row_lines(output) == ["row 1: acme updated (access token, connected_at)"]
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED and connection.disconnected_at is None


# --- OAuth connections -------------------------------------------------------------------


def test_a_newer_oauth_connection_is_not_overwritten(export_file, tenants, make_member):
    user = make_member(tenants["acme"], "owner")
    oauth = oauth_connect(tenants["acme"], user)

    output, _ = run(str(export_file))

    line = row_lines(output)[0]
    assert line.startswith(
        "row 1: acme skipped: the hub connection was connected through OAuth at "
    )
    assert line.endswith(
        ", after the legacy connection at 2024-03-02 08:15:00 UTC; not overwritten"
    )
    connection = TikTokAdsConnection.objects.get(tenant=tenants["acme"])
    assert connection.access_token.reveal() == "oauth-token-from-the-hub-0001"
    assert connection.connected_by == user
    assert connection.connected_at == oauth.connected_at
    assert connection.assets == {"advertiser_ids": ["7099999999999999999"]}
    assert not TikTokAdvertiser.objects.for_tenant(tenants["acme"]).exists()
    assert not TikTokPixel.objects.for_tenant(tenants["acme"]).exists()


def test_an_oauth_connection_older_than_the_legacy_one_is_updated(tenants, make_member, tmp_path):
    user = make_member(tenants["acme"], "owner")
    oauth = oauth_connect(tenants["acme"], user)
    TikTokAdsConnection.objects.filter(pk=oauth.pk).update(
        connected_at=datetime(2024, 1, 1, tzinfo=UTC)
    )

    output, error = run(str(write_csv(tmp_path / "acme.csv", [acme_row()])))

    assert error is None
    assert row_lines(output) == [
        "row 1: acme updated (access token, advertiser_ids, connected_at, advertisers, pixel)"
    ]
    connection = TikTokAdsConnection.objects.get()
    assert connection.access_token.reveal() == ACME_TOKEN
    assert connection.connected_by is None
    assert connection.assets["advertiser_ids"] == ["7012345678901234567", "7012345678901234568"]
    assert connection.assets["imported_from"] == "legacy"


def test_a_row_without_a_date_never_replaces_a_dated_hub_connection(tenants, make_member, tmp_path):
    oauth_connect(tenants["acme"], make_member(tenants["acme"], "owner"))
    file = write_csv(tmp_path / "undated.csv", [acme_row(tiktok_connected_at="")])

    output, _ = run(str(file))

    assert row_lines(output)[0].startswith(
        "row 1: acme skipped: the hub connection was connected through OAuth at "
    )
    assert "has no tiktok_connected_at to show it is newer" in output


def test_a_disconnected_oauth_connection_stays_disconnected(tenants, make_member, export_file):
    connection = oauth_connect(tenants["acme"], make_member(tenants["acme"], "owner"))
    adapter = providers.get("tiktok_ads").adapter
    adapter.revoke = lambda *, connection: None  # no provider call in this test
    try:
        connection_disconnect(connection=connection)
    finally:
        del adapter.revoke

    output, _ = run(str(export_file))

    assert row_lines(output)[0].startswith(
        "row 1: acme skipped: the hub connection was disconnected"
    )
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED and connection.access_token is None


# --- dry run ----------------------------------------------------------------------------


def test_dry_run_reports_exactly_what_a_run_would_do_and_writes_nothing(export_file, tenants):
    dry_output, dry_error = run(str(export_file), "--dry-run")

    assert "Dry run" in dry_output
    assert "created=3 updated=0 skipped=1 errors=3 (dry run: nothing was written)" in dry_output
    assert dry_error is not None  # errors still fail the command, so a CI dry run catches them
    assert not TikTokAdsConnection.objects.exists()
    assert not TikTokAdvertiser.objects.exists()
    assert not TikTokPixel.objects.exists()

    real_output, _ = run(str(export_file))
    assert row_lines(real_output) == row_lines(dry_output) == EXPECTED_FIRST_RUN


def test_dry_run_of_an_update_leaves_the_connection_as_it_was(tenants, tmp_path):
    run(str(write_csv(tmp_path / "first.csv", [acme_row()])))
    before = list(TikTokAdsConnection.objects.values())
    file = write_csv(tmp_path / "rotated.csv", [acme_row(tiktok_access_token=ROTATED_TOKEN)])

    output, error = run(str(file), "--dry-run")

    assert error is None
    assert row_lines(output) == ["row 1: acme updated (access token)"]
    assert list(TikTokAdsConnection.objects.values()) == before
    assert TikTokAdsConnection.objects.get().access_token.reveal() == ACME_TOKEN


# --- secrets ------------------------------------------------------------------------------


def test_tokens_are_stored_encrypted(export_file, tenants):
    run(str(export_file))

    stored = raw_tokens()
    assert len(stored) == 3
    for value in stored:
        assert value.startswith(crypto.TOKEN_PREFIX)
        assert not any(token in value for token in FILE_TOKENS)


def test_no_output_or_log_shows_a_token_even_partly(export_file, tenants, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    first, first_error = run(str(export_file))
    dry, _ = run(str(export_file), "--dry-run")
    rotated, _ = run(
        str(write_csv(tmp_path / "rotated.csv", [acme_row(tiktok_access_token=ROTATED_TOKEN)]))
    )
    # A shifted CSV record (one cell too many) puts a token where the date should be.
    shifted = tmp_path / "shifted.csv"
    shifted.write_text(
        "tenant_slug,tiktok_access_token,tiktok_connected_at\n"
        f"globex,{FILE_TOKENS[1][:20]},{FILE_TOKENS[1][20:]},2024-05-10\n"
    )
    shifted_output, _ = run(str(shifted))

    everything = "\n".join([first, str(first_error), dry, rotated, shifted_output, caplog.text])
    assert "row 1: globex error: the record has 4 cells where the header has 3" in shifted_output
    for token in (*FILE_TOKENS, ROTATED_TOKEN):
        pieces = {token[i : i + 8] for i in range(len(token) - 7)}
        leaked = sorted(piece for piece in pieces if piece in everything)
        assert not leaked, f"token pieces in the output: {leaked}"


def test_a_validated_record_masks_its_token():
    record = legacy_row_validate(
        row=LegacyRow(number=1, values={"tenant_slug": "acme", "tiktok_access_token": ACME_TOKEN})
    )
    assert isinstance(record.access_token, Secret)
    assert ACME_TOKEN not in repr(record)


# --- the file ----------------------------------------------------------------------------


def test_format_option_overrides_the_extension(tenants, tmp_path):
    exported = tmp_path / "marketing_integrations.export"
    shutil.copy(JSON_FILE, exported)

    output, _ = run(str(exported), "--format", "json")
    assert row_lines(output) == EXPECTED_FIRST_RUN

    with pytest.raises(CommandError, match="--format csv\\|json"):
        call_command("import_legacy_tiktok_ads", str(exported), stdout=StringIO())


def test_an_unknown_tiktok_column_stops_the_file_before_any_write(tenants, tmp_path):
    file = write_csv(tmp_path / "typo.csv", [acme_row(tiktok_advertizer_id="7012345678901234567")])

    with pytest.raises(CommandError, match="Unknown column\\(s\\): tiktok_advertizer_id"):
        call_command("import_legacy_tiktok_ads", str(file), stdout=StringIO())
    assert not TikTokAdsConnection.objects.exists()


def test_a_required_column_missing_stops_the_file(tenants, tmp_path):
    file = tmp_path / "no_token.json"
    file.write_text(json.dumps([{"tenant_slug": "acme", "tiktok_advertiser_id": "1"}]))

    with pytest.raises(CommandError, match="Required column\\(s\\) missing: tiktok_access_token"):
        call_command("import_legacy_tiktok_ads", str(file), stdout=StringIO())


def test_non_tiktok_columns_and_listed_legacy_columns_are_ignored(tenants, tmp_path):
    file = write_csv(
        tmp_path / "wide.csv",
        [
            acme_row(
                id="42",
                facebook_pixel_id="123",
                tiktok_refresh_token="legacy-refresh-value",
                tiktok_token_expires_at="not even a date",
                tiktok_is_active="false",
            )
        ],
    )

    output, error = run(str(file))

    assert error is None and row_lines(output) == ["row 1: acme created"]
    assert TikTokAdsConnection.objects.get().refresh_token is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"tiktok_advertiser_id": "7001"}, ("7001",)),
        ({"tiktok_advertiser_ids": "7001, 7002 7003"}, ("7001", "7002", "7003")),
        ({"tiktok_advertiser_ids": '["7001", 7002]'}, ("7001", "7002")),
        ({"tiktok_advertiser_ids": ["7001", 7002]}, ("7001", "7002")),
        ({"tiktok_advertiser_id": "7001", "tiktok_advertiser_ids": "7002,7001"}, ("7001", "7002")),
        ({"tiktok_advertiser_id": " ", "tiktok_advertiser_ids": ""}, ()),
    ],
)
def test_advertiser_ids_are_read_in_every_legacy_shape(values, expected):
    row = LegacyRow(1, {"tenant_slug": "acme", "tiktok_access_token": ACME_TOKEN, **values})
    assert legacy_row_validate(row=row).advertiser_ids == expected


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"tenant_slug": ""}, "tenant_slug is missing"),
        ({"tenant_slug": "acme corp"}, "tenant_slug is not a slug"),
        ({"tiktok_access_token": "  "}, "tiktok_access_token is missing"),
        ({"tiktok_advertiser_ids": "7001,abc"}, "tiktok_advertiser_ids must hold numeric ids"),
        ({"tiktok_advertiser_ids": 7.0e18}, "tiktok_advertiser_ids must be a JSON array"),
        ({"tiktok_scope": "10,20"}, "tiktok_scope is not a JSON array of permission ids"),
        ({"tiktok_scope": '["ads.read"]'}, "tiktok_scope is not a JSON array of permission ids"),
        ({"tiktok_connected_at": "2024-13-01"}, "tiktok_connected_at is not a date"),
        ({"tiktok_connected_at": 1709367300}, "tiktok_connected_at is not a date"),
        ({"tiktok_pixel_code": "CABC123"}, "tiktok_pixel_code needs tiktok_pixel_id"),
    ],
)
def test_invalid_cells_give_a_reason_naming_the_column(values, reason):
    row = LegacyRow(1, {"tenant_slug": "acme", "tiktok_access_token": ACME_TOKEN, **values})
    with pytest.raises(LegacyRowInvalid, match=reason):
        legacy_row_validate(row=row)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-02 08:15:00", datetime(2024, 3, 2, 8, 15, tzinfo=UTC)),
        ("2024-03-02T08:15:00Z", datetime(2024, 3, 2, 8, 15, tzinfo=UTC)),
        ("2024-03-02 08:15:00.250+00", datetime(2024, 3, 2, 8, 15, 0, 250000, tzinfo=UTC)),
        ("2024-03-02T05:15:00-03:00", datetime(2024, 3, 2, 8, 15, tzinfo=UTC)),
    ],
)
def test_connected_at_accepts_iso_and_the_legacy_format(text, expected):
    row = LegacyRow(
        1, {"tenant_slug": "acme", "tiktok_access_token": ACME_TOKEN, "tiktok_connected_at": text}
    )
    assert legacy_row_validate(row=row).connected_at == expected
