"""Every worked example of the contracts (meta.md §3.4, tiktok-ads.md §5), and the rules around them."""

from __future__ import annotations

import hashlib

import pytest

from apps.capi import hashing

# meta.md §3.4: (field, input, normalized, sha256)
META_VECTORS = [
    (
        "em",
        "John_Smith@gmail.com",
        "john_smith@gmail.com",
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
    ),
    (
        "ph_us",
        "(650)555-1212",
        "16505551212",
        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
    ),
    (
        "fn",
        "Mary",
        "mary",
        "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec",
    ),
    (
        "fn",
        "Valéry",
        "valéry",
        "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
    ),
    (
        "db",
        "2/16/1997",
        "19970216",
        "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c",
    ),
    (
        "country",
        "United States",
        "us",
        "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
    ),
    (
        "em",
        "  John.Doe@Example.COM ",
        "john.doe@example.com",
        "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
    ),
    (
        "em",
        "Person@Example.com",
        "person@example.com",
        "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345",
    ),
    (
        "fn",
        "  Maria ",
        "maria",
        "94aec9fbed989ece189a7e172c9cf41669050495152bc4c1dbf2a38d7fd85627",
    ),
    (
        "ct",
        "Menlo Park",
        "menlopark",
        "0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685",
    ),
    ("st", "SP", "sp", "be18b85f77fc024db379acf19e8a1ce62307ab7bb1bca395389ecfc2dafaf741"),
    # The using-the-api sample's phones, already international digits.
    (
        "ph",
        "12345678901",
        "12345678901",
        "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4",
    ),
    (
        "ph",
        "14251234567",
        "14251234567",
        "6f4fcb9deaeadc8f9746ae76d97ce1239e98b404efe5da3ee0b7149740f89ad6",
    ),
]

NORMALIZERS = {
    "em": hashing.normalize_email,
    "ph_us": lambda v: hashing.normalize_phone(v, country_code="1"),
    "ph": hashing.normalize_phone,
    "fn": hashing.normalize_name,
    "db": hashing.normalize_date_of_birth,
    "country": hashing.normalize_country,
    "ct": hashing.normalize_city,
    "st": hashing.normalize_state,
}
HASHERS = {
    "em": hashing.hash_email,
    "ph_us": lambda v: hashing.hash_phone_meta(v, country_code="1"),
    "ph": hashing.hash_phone_meta,
    "fn": hashing.hash_name,
    "db": hashing.hash_date_of_birth,
    "country": hashing.hash_country,
    "ct": hashing.hash_city,
    "st": hashing.hash_state,
}


@pytest.mark.parametrize(("field", "raw", "normalized", "digest"), META_VECTORS)
def test_meta_worked_vectors(field, raw, normalized, digest):
    assert NORMALIZERS[field](raw) == normalized
    assert HASHERS[field](raw) == digest


def test_meta_vector_2b_without_country_code_is_the_wrong_hash():
    """Row 2b: what Meta's SDK hashes when nobody adds the country code; matches nobody."""
    assert hashing.normalize_phone("(650)555-1212") == "6505551212"
    assert hashing.hash_phone_meta("(650)555-1212") == (
        "5eed6d50c9a69704a9a72b4af7d14d04d33e4460039e101b525f5d4f8a106a38"
    )
    assert hashing.hash_phone_meta("(650)555-1212", country_code="1") != (
        hashing.hash_phone_meta("(650)555-1212")
    )


def test_tiktok_worked_email_vector():
    assert hashing.hash_email("alice_abc@gmail.com") == (
        "848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f"
    )


def test_tiktok_phone_is_e164_with_the_plus_then_sha256():
    # Derived from the rule (tiktok-ads.md §5): "+", country code, digits, no trunk 0.
    expected = hashlib.sha256(b"+16505551212").hexdigest()
    assert hashing.normalize_phone_e164("(650)555-1212", country_code="1") == "+16505551212"
    assert hashing.hash_phone_tiktok("(650)555-1212", country_code="1") == expected
    assert hashing.hash_phone_tiktok("+1 650 555 1212") == expected
    # A Brazilian national number with its trunk zero, and the same in international form.
    assert hashing.normalize_phone_e164("011 98765-4321", country_code="55") == "+5511987654321"
    assert hashing.normalize_phone_e164("0055 11 98765-4321") == "+5511987654321"


def test_tiktok_external_id_is_trimmed_lowercased_sha256():
    expected = hashlib.sha256(b"crm-42").hexdigest()
    assert hashing.hash_external_id("  CRM-42 ") == expected


def test_whatsapp_wa_id_is_already_international():
    assert hashing.normalize_phone("5511987654321") == "5511987654321"
    assert hashing.normalize_phone("+55 (11) 98765-4321", country_code="1") == "5511987654321"


def test_an_already_hashed_value_passes_through():
    digest = "62A14E44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F"
    assert hashing.hash_email(digest) == digest.lower()


@pytest.mark.parametrize(
    ("func", "value"),
    [
        (hashing.normalize_email, "not-an-email"),
        (hashing.normalize_phone, "12"),
        (hashing.normalize_date_of_birth, "31/31/1999"),
        (hashing.normalize_country, "Atlantis"),
        (hashing.normalize_name, "  "),
    ],
)
def test_values_that_cannot_be_normalised_are_refused(func, value):
    with pytest.raises(hashing.NormalisationError):
        func(value)


def test_mask_never_shows_the_whole_value():
    assert hashing.mask("ana.silva@example.com") == "an***@***"
    assert hashing.mask("+5511987654321") == "+5***21"
    assert "987654" not in hashing.mask("+5511987654321")
    assert hashing.mask("") == ""
