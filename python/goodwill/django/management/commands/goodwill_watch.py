"""manage.py goodwill_watch --address gw1… [--handler app.module.func]

Follows the node's event stream for the addresses and calls the handler
with each event (goodwill.client.Event: kind "block", "tx" or
"retracted"). The last event handled is kept in --state (a file), so a
restart resumes after it: nothing handled twice, nothing skipped. Handlers
come from --handler or the setting GOODWILL_WATCH_HANDLERS (dotted paths);
without any, events are printed as JSON lines.
"""

from __future__ import annotations

import json
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from goodwill import InvalidAddress, parse_address

from ... import conf


class Command(BaseCommand):
    help = "Follow addresses on the chain and call the app's handlers with each event."

    def add_arguments(self, parser):
        parser.add_argument("--address", action="append", default=[], help="an address to watch (repeatable)")
        parser.add_argument("--handler", action="append", default=[], help="a dotted path to call with each event")
        parser.add_argument("--state", default=".goodwill-watch", help="the file that keeps the last event's id")
        parser.add_argument("--count", type=int, default=None, help="stop after this many events")

    def handle(self, *args, **opts):
        for a in opts["address"]:
            try:
                parse_address(a)
            except InvalidAddress as e:
                raise CommandError(str(e)) from None
        paths = opts["handler"] or list(getattr(settings, "GOODWILL_WATCH_HANDLERS", []))
        handlers = [import_string(p) for p in paths]
        state = opts["state"]
        after = None
        if os.path.exists(state):
            with open(state) as f:
                after = f.read().strip() or None
        n = 0
        for ev in conf.client().watch(opts["address"], after=after):
            if handlers:
                for h in handlers:
                    h(ev)
            else:
                self.stdout.write(json.dumps({"id": ev.id, "kind": ev.kind, "data": ev.data}))
            tmp = state + ".tmp"
            with open(tmp, "w") as f:
                f.write(ev.id)
            os.replace(tmp, state)
            n += 1
            if opts["count"] is not None and n >= opts["count"]:
                return
