#!/usr/bin/env python3
"""The explorer in a real browser: Debian's chromium, driven by selenium
through Debian's chromedriver (never a browser download).

Starts a devnet (the goodwill binary given as argv[1]), sends a payment
whose memo is `<script>alert(1)</script>` and a record, then loads every
explorer page in headless Chromium on a phone viewport (390x844) — the
home page also at 1280 px wide — checks what each shows, that the memo
stays text (no alert, no script element, no horizontal scrolling), and
saves one screenshot per page into the directory argv[2] (docs/explorer).

Exits 0 when every check passed, 1 naming the first that failed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

XSS = "<script>alert(1)</script>"
RECORD_KEY = "greeting"
RECORD_VALUE = "hello <b>goodwill</b> & friends"


def fail(why):
    print(f"explorer browser test: FAILED: {why}", file=sys.stderr)
    sys.exit(1)


def run(args, timeout=60):
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        fail(f"{' '.join(args)} exited {out.returncode}: {out.stderr.strip()}")
    return out.stdout


class Devnet:
    def __init__(self, goodwill, workdir):
        self.dir = os.path.join(workdir, "net")
        self.log = open(os.path.join(workdir, "devnet.log"), "w")
        self.proc = subprocess.Popen(
            [goodwill, "devnet", "--dir", self.dir, "--json-log",
             "--slot-ms", "500", "--epoch-slots", "10"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.ready = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                fail("the devnet exited before it was ready (see devnet.log)")
            event = json.loads(line)
            if event.get("event") == "ready":
                self.ready = event
                break
        if self.ready is None:
            fail("the devnet was not ready within 60 s")
        self.http = self.ready["http"].rstrip("/")
        self.node = self.ready["main_nodes"][0]["addr"]

    def height(self):
        with urllib.request.urlopen(self.http + "/api/v1/status", timeout=5) as r:
            return json.load(r)["height"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--hide-scrollbars",
              "--window-size=1280,900"):
        options.add_argument(a)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"),
                            options=options)


def phone(d):
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})


def desktop(d):
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": 1400, "deviceScaleFactor": 1, "mobile": False})


def check_page(d, name, status_text, must_show):
    """No script element, no alert, no horizontal scrolling; shows `must_show`."""
    try:
        alert = d.switch_to.alert
        fail(f"{name}: an alert opened: {alert.text!r}")
    except NoAlertPresentException:
        pass
    scripts = d.find_elements(By.TAG_NAME, "script")
    if scripts:
        fail(f"{name}: the page holds {len(scripts)} script element(s)")
    text = d.find_element(By.TAG_NAME, "body").text
    for s in must_show:
        if s not in text:
            fail(f"{name}: {s!r} not shown; the page says:\n{text[:2000]}")
    wide = d.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    if wide[0] > wide[1]:
        fail(f"{name}: scrolls sideways ({wide[0]} px wide in a {wide[1]} px viewport)")
    if status_text and status_text not in d.title:
        fail(f"{name}: title {d.title!r} lacks {status_text!r}")
    return text


def shot(d, out, name):
    path = os.path.join(out, name + ".png")
    d.save_screenshot(path)
    print(f"  {name}: {path} ({os.path.getsize(path)} bytes)")


def main():
    goodwill, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="goodwill-explorer-")
    net = Devnet(goodwill, work)
    d = None
    try:
        users = net.ready["users"]
        alice, bob = users[0], users[1]
        print(f"devnet ready: {net.http}/")
        sent = json.loads(run([goodwill, "wallet", "send", "--key", alice["key"],
                               "--to", bob["address"], "--amount", "5",
                               "--memo", XSS, "--node", net.node, "--wait", "--json"]))
        put = json.loads(run([goodwill, "data", "put", "--key", alice["key"],
                              "--name", RECORD_KEY, "--value", RECORD_VALUE,
                              "--node", net.node, "--wait", "--json"]))
        tx, height = sent["id"], sent["height"]
        print(f"memo tx {tx} in block {height}; record tx {put['id']}")

        d = browser()
        phone(d)
        # Home: the tip, latest blocks, forgers (their report arrives with
        # the core's tick), schedule, associations.
        for _ in range(40):
            d.get(net.http + "/")
            if "connected" in d.find_element(By.TAG_NAME, "body").text:
                break
            time.sleep(0.5)
        check_page(d, "home", "Home", ["Tip", "Latest blocks", "Forgers", "connected",
                                       "Schedule of epoch", "Associations", "Demo Charity"])
        if not d.find_elements(By.CSS_SELECTOR, "span.dot"):
            fail("home: no LED dot shown")
        shot(d, out, "home-phone")
        desktop(d)
        d.get(net.http + "/")
        check_page(d, "home (desktop)", "Home", ["Latest blocks"])
        shot(d, out, "home-desktop")
        phone(d)

        # The block that holds the memo.
        d.get(f"{net.http}/block/{height}")
        check_page(d, "block", "Block", [f"Block {height}", "Transactions", XSS])
        shot(d, out, "block")

        # The transaction: its memo as text, its proof checked.
        d.get(f"{net.http}/tx/{tx}")
        check_page(d, "tx", "Transaction",
                          [tx, XSS, "Inclusion proof", "the proof leads to the block's tx root"])
        if "&lt;script&gt;" not in d.page_source:
            fail("tx: the memo is not escaped in the page source")
        shot(d, out, "tx")

        # The account: balance, history, records; its record link.
        d.get(f"{net.http}/account/{urllib.parse.quote(alice['address'])}")
        check_page(d, "account", "Account", ["Balance", "History", "Records", RECORD_KEY, XSS])
        shot(d, out, "account")
        d.find_element(By.LINK_TEXT, RECORD_KEY).click()
        check_page(d, "record", "Record", [RECORD_VALUE, "Writes"])
        if d.find_elements(By.TAG_NAME, "b"):
            fail("record: the value's <b> became markup")
        shot(d, out, "record")

        # The association, from the home page's link.
        d.get(net.http + "/")
        d.find_element(By.LINK_TEXT, "Demo Charity").click()
        check_page(d, "association", "Association",
                   ["Demo Charity", "https://example.org/demo-charity", "Donations"])
        link = d.find_element(By.LINK_TEXT, "https://example.org/demo-charity")
        if "nofollow" not in (link.get_attribute("rel") or ""):
            fail("association: its url link lacks rel=nofollow")
        shot(d, out, "association")

        # The search box: a transaction id, then a height.
        d.get(net.http + "/")
        box = d.find_element(By.NAME, "q")
        box.send_keys(tx)
        box.submit()
        check_page(d, "search (tx id)", "Transaction", [XSS])
        d.get(f"{net.http}/search?q={height}")
        check_page(d, "search (height)", "Block", [f"Block {height}"])

        # Unknown and bad input.
        d.get(f"{net.http}/block/999999")
        check_page(d, "404", "Not found", ["no block 999999", "Search"])
        shot(d, out, "not-found")
        d.get(f"{net.http}/search?q=nonsense")
        check_page(d, "400", "Bad request", ["is not a height"])
        for path, code in (("/block/999999", 404), ("/search?q=nonsense", 400),
                           ("/tx/zz", 400), ("/", 200)):
            try:
                with urllib.request.urlopen(net.http + path, timeout=5) as r:
                    got = r.status
            except urllib.error.HTTPError as e:
                got = e.code
            if got != code:
                fail(f"GET {path}: status {got}, not {code}")
        print("explorer browser test: every page passed")
    finally:
        if d is not None:
            d.quit()
        net.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
