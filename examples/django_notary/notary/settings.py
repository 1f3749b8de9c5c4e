"""A Django project that notarises documents on goodwill: no database (the
session lives in a signed cookie), the goodwill app, three views."""

import os

SECRET_KEY = os.environ.get("NOTARY_SECRET_KEY", "dev only: set NOTARY_SECRET_KEY in production")
DEBUG = os.environ.get("NOTARY_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["django.contrib.sessions", "goodwill.django"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "notary.urls"
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
DATABASES = {}
TEMPLATES = []
USE_TZ = True

# goodwill: the node, the app's key (it is paid and it signs the records),
# and whether to wait for finality.
GOODWILL_NODE_URL = os.environ.get("GOODWILL_NODE_URL", "http://127.0.0.1:8080")
GOODWILL_KEY_FILE = os.environ.get("GOODWILL_KEY_FILE", "notary.key")
GOODWILL_FINALITY = os.environ.get("GOODWILL_FINALITY", "1") != "0"
# The fee for one notarisation, in GWL.
NOTARY_FEE = os.environ.get("NOTARY_FEE", "0.01")
