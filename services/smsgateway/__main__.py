"""``python -m services.smsgateway``: the local SMS gateway on ``ONETRIP_SMS_PORT``."""
from __future__ import annotations

import logging
from pathlib import Path

from services.smsgateway.server import Ledger, serve
from shared.config import Settings
from shared.logs import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    host, port = settings.sms_gateway.host, settings.sms_gateway.port
    path = Path(settings.sms_gateway.database)
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
