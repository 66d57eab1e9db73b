"""API key format, checksum and hashing."""

import math

import pytest

from proxyapp.services.keys import tokens as keys


def test_generated_key_has_prefix_length_and_valid_checksum():
    key = keys.generate_key()
    assert key.startswith("pxk_")
    assert len(key) == keys.KEY_LENGTH
    assert keys.is_well_formed(key)


def test_random_part_carries_at_least_256_bits():
    assert keys.RANDOM_LENGTH * math.log2(len(keys.BASE62)) >= 256


def test_keys_are_unique():
    assert len({keys.generate_key() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("position", [4, 20, 46, 50])
def test_one_changed_character_fails_the_checksum(position):
    key = keys.generate_key()
    replacement = "a" if key[position] != "a" else "b"
    typo = key[:position] + replacement + key[position + 1:]
    assert not keys.is_well_formed(typo)


@pytest.mark.parametrize(
    "candidate",
    ["", "pxk_", "sk_" + "a" * 49, "pxk_" + "a" * 48, "pxk_" + "!" * 49, "PXK_" + "a" * 49],
    ids=["empty", "prefix-only", "wrong-prefix", "short", "bad-alphabet", "uppercase-prefix"],
)
def test_malformed_keys_are_rejected_without_lookup(candidate):
    assert not keys.is_well_formed(candidate)


def test_hash_is_sha256_hex_and_not_the_key():
    key = keys.generate_key()
    digest = keys.hash_key(key)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert key not in digest
