"""Signing in: server-side sessions, two-factor codes (TOTP) and their one-time recovery codes.

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- recovery_codes: formatted, replace_codes, count_unused, use_code
- sessions: hash_token, describe_device, open_session, session_user, end_session, delete_sessions, end_all_sessions,
  end_own_session, live_sessions
- two_factor: AlreadyEnrolled, CodeRejected, Status, Verified, Provisioning, enrolment, is_enrolled, is_required,
  must_enrol, status, start_enrolment, unfinished_enrolment, provisioning, confirm_enrolment, normalize_code,
  is_totp_shaped, verify_totp, verify_second_factor, regenerate_recovery_codes, disable, remove
"""

