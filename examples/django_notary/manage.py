#!/usr/bin/env python3
"""The notary example's manage.py (README.md beside it says how to run it)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notary.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
