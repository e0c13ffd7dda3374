"""Pricing over the real binary: the catalog listing, a catalog replaced without restart
(admin reload and SIGHUP), and stored costs that never move when prices change."""
import os
import shutil
import signal
import tempfile
import time
import unittest

import clx

ROW = "{p}/{m}@{d},{p},{m},,{d},{i},{o},,,https://example.com/{p}/pricing,2026-07-24\n"


class PricingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="clx-cat-")
        cls.catalog = os.path.join(cls.dir, "prices.csv")
        shutil.copy(os.path.join(os.environ["CLX_SOURCE_DIR"], "pricing/catalog/prices.csv"), cls.catalog)
        with open(cls.catalog, "a") as f:
            f.write(ROW.format(p="openai", m="house-model", d="2025-01-01", i="1.00", o="2.00"))
        cls.srv = clx.Server(extra_args=["--catalog", cls.catalog])
        cls.key = cls.srv.create_key(name="pricing")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def models(self, headers):
        status, _, raw = self.srv.request("GET", "/api/v1/pricing/models", headers=headers)
        return status, clx.parse(raw)

    def test_models_listing(self):
        status, js = self.models({"Authorization": "Bearer " + self.srv.admin_token})
        self.assertEqual(status, 200)
        self.assertEqual(js["unit"], "USD per million tokens")
        mini = [m for m in js["models"] if m["id"] == "openai/gpt-4o-mini@2024-07-18"]
        self.assertEqual(len(mini), 1)
        self.assertEqual((mini[0]["inputPerMtok"], mini[0]["outputPerMtok"], mini[0]["cachedInputPerMtok"]),
                         ("0.15", "0.6", "0.075"))
        self.assertTrue(mini[0]["source"].startswith("https://"))
        # an ingestion key may check coverage too; nothing else may
        status, js2 = self.models({"X-API-Key": self.key})
        self.assertEqual(status, 200)
        self.assertEqual(len(js2["models"]), len(js["models"]))
        status, err = self.models({})
        self.assertEqual(status, 401)
        self.assertEqual(err["error"]["code"], "unauthenticated")

    def test_reload_changes_new_costs_only(self):
        ev = lambda rid: clx.event(rid, provider="openai", model="house-model", inputTokens=1000000,
                                   outputTokens=1000000)
        status, js, _ = self.srv.ingest(self.key, ev("before-change"))
        self.assertEqual((status, js["inserted"]), (200, 1))
        self.assertEqual(self.srv.get_event("before-change")["costUsd"], "3")  # $1 + $2

        # the provider raises the price: a new row with a later effective date
        with open(self.catalog, "a") as f:
            f.write(ROW.format(p="openai", m="house-model", d="2026-01-01", i="5.00", o="10.00"))
        status, js, raw = self.srv.admin("POST", "pricing/reload")
        self.assertEqual(status, 200, raw)
        self.assertTrue(js["ok"])
        status, js, _ = self.srv.ingest(self.key, ev("after-change"))
        self.assertEqual(js["inserted"], 1)
        after = self.srv.get_event("after-change")
        self.assertEqual(after["costUsd"], "15")
        self.assertEqual(after["priceId"], "openai/house-model@2026-01-01")
        before = self.srv.get_event("before-change")  # history is not rewritten
        self.assertEqual((before["costUsd"], before["priceId"]), ("3", "openai/house-model@2025-01-01"))

    def test_broken_catalog_keeps_the_running_one(self):
        good = open(self.catalog).read()
        try:
            with open(self.catalog, "a") as f:
                f.write("not,a,valid,row\n")
            status, js, _ = self.srv.admin("POST", "pricing/reload")
            self.assertEqual(status, 400)
            self.assertIn("line", js["error"]["message"])
            os.kill(self.srv.proc.pid, signal.SIGHUP)  # the same through SIGHUP: logged, not fatal
            time.sleep(0.3)
            self.assertTrue(self.srv.alive())
            self.assertIn("catalog not reloaded", self.srv.stderr())
            status, js, _ = self.srv.ingest(self.key, clx.event("still-priced", provider="openai",
                                                                   model="gpt-4o-mini", inputTokens=1000,
                                                                   outputTokens=0))
            self.assertEqual(js["inserted"], 1)
            self.assertEqual(self.srv.get_event("still-priced")["costUsd"], "0.00015")
        finally:
            with open(self.catalog, "w") as f:
                f.write(good)


if __name__ == "__main__":
    unittest.main()
