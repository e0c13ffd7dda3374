"""Starting over a damaged data folder: costlynxd refuses to start with a message naming the
problem, instead of starting and failing on the first request."""
import os
import subprocess
import unittest

import clx

TOOL = os.environ.get("CLX_STORE_TOOL")


class DamagedStoreTest(unittest.TestCase):
    @unittest.skipUnless(TOOL, "CLX_STORE_TOOL is set by ctest")
    def test_malformed_sequence_number_refuses_to_start(self):
        srv = clx.Server()
        try:
            key = srv.create_key()
            st, _, _ = srv.ingest(key, clx.event("startup-1"))
            self.assertEqual(st, 200)
            srv.stop()
            # the writer's last sequence number is 8 bytes; 3 bytes cannot be continued from
            subprocess.run([TOOL, srv.data_dir, "meta-put", "seq", "abc"], check=True, timeout=60)
            with self.assertRaises(AssertionError) as refused:
                srv.start()
            self.assertIn("exited with 1 before ready", str(refused.exception))
            self.assertIn("cannot start the writer", srv.stderr())
            self.assertIn("malformed", srv.stderr())
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
