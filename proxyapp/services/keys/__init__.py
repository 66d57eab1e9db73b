"""API keys: the key format and its lookup (tokens), and an account's keys over their lifetime (lifecycle).

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- lifecycle: KeyStatus, KeyActionRefused, Rotation, key_status, expiry_of, expiry_date_range, expiry_problem,
  list_keys, count_usable_keys, create_named_key, find_owned_key, revoke_key, rotation_grace_end, rotate_key,
  submitting_key
- tokens: generate_key, is_well_formed, hash_key, IssuedKey, issue_key, find_key, find_usable_key, touch_last_used
"""

