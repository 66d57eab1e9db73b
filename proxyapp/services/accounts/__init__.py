"""Accounts: registration and credentials, email, password recovery, the account page's overview,
administrators' actions and the audit trail.

Modules and their public names (tests/unit/test_layout.py keeps this list complete):

- admin: AdminActionRefused, list_users, get_user, set_disabled, set_limits, revoke_key
- audit: AuditAction, record_event, recent_events
- email: change_email, request_verification, mail_verification, verification_email, confirm_email
- lifecycle: UsernameTaken, WrongPassword, InvalidCredentials, Registration, normalize_username, find_user,
  username_exists, register_user, authenticate, change_password, delete_account, username_problem, create_admin
- mail: MailNotSent, is_mail_enabled, send_mail, enqueue_mail_job
- overview: AccountOverview, recent_predictions, account_overview
- passwords: hasher, hash_password, verify_password, password_problem
- recovery: reset_lifetime, request_password_reset, accounts_to_mail, create_reset_link, mail_reset_link,
  mail_password_reset, queue_reset_mail, reset_account, reset_password, set_password_by_operator
- redis_index: index_key, add_to_index, forget_account
- tokens: TokenPurpose, TokenRefused, issue_token, find_token, spend_token, spend_all, refusal_rolls_back
"""

