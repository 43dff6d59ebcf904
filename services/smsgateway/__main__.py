"""``python -m services.smsgateway``: the local SMS gateway on ``ONETRIP_SMS_PORT``."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from services.smsgateway.server import Ledger, serve
from shared.logs import configure_logging


def main() -> None:
    configure_logging(os.environ.get("ONETRIP_LOG_LEVEL") or "INFO")
    host = os.environ.get("ONETRIP_SMS_HOST") or "127.0.0.1"
    port = int(os.environ.get("ONETRIP_SMS_PORT") or 8090)
    path = Path(os.environ.get("ONETRIP_SMS_DB") or "var/smsgateway.sqlite3")
    path.parent.mkdir(parents=True, exist_ok=True)
    server = serve(host, port, Ledger(str(path)))
    logging.getLogger("smsgateway").info("SMS gateway on http://%s:%d, ledger %s", host, port, path)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
