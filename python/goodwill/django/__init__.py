"""goodwill in a Django project: add "goodwill.django" to INSTALLED_APPS.

Settings:

- GOODWILL_NODE_URL: a main node's HTTP address (http://127.0.0.1:8080).
- GOODWILL_KEY_FILE: the app's key file (it receives payments and signs
  records); sealed ones open with the passphrase in the environment
  variable GOODWILL_PASSPHRASE (or the one GOODWILL_PASSPHRASE_ENV names).
- GOODWILL_FINALITY: True (the default) waits for a payment or a record
  to be final — finality_depth blocks deep, never undone — before it
  counts; False takes it once it is in a block.

Then: `@require_payment(...)` (goodwill.django.payments) for views,
`records.put / get / put_hash` (goodwill.django.records) for data, and
`manage.py goodwill_watch` to follow addresses.
"""
