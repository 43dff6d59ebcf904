from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from nameko.extensions import DependencyProvider
from pydantic import Field, TypeAdapter, ValidationError

from services.notify.application import NotifyApplication, utcnow
from services.notify.audience import HEARD, plan
from services.notify.delivery import Dispatcher, DispatchSettings, greenpool_mapper
from services.notify.directory import CachedDirectory, ContactCache, RpcDirectory
from services.notify.messages import Templates
from services.notify.senders import HttpSmsSender, SmtpSender
from services.notify.worktable import WorkTable
from shared.caller import SignedRpcProxy
from shared.config import settings_of
from shared.contracts import IntegrationEvent
from shared.dependencies import EventStore
from shared.errors import InvalidError
from shared.inputs import StoredText, WholeNumber
from shared.messaging import integration_event_handler
from shared.rpc import rpc
from shared.service import HealthCheckMixin

log = logging.getLogger(__name__)

Username = TypeAdapter(Annotated[StoredText, Field(min_length=1, max_length=100)])
Limit = TypeAdapter(Annotated[int, Field(ge=1, le=1000), WholeNumber])


class Runtime:
    def __init__(self, work: WorkTable, dispatcher: Dispatcher, templates: Templates) -> None:
        self.work = work
        self.dispatcher = dispatcher
        self.templates = templates


class Delivery(DependencyProvider):
    """The dispatcher of this instance, running in a managed thread next to the consumers.

    Built on first use as well as at start: nameko starts extensions concurrently, so a
    consumer may hand over a message before this provider's ``start`` has run.
    """

    def setup(self) -> None:
        self.runtime: Runtime | None = None
        self._building = threading.Lock()

    def start(self) -> None:
        runtime = self._runtime()
        self.container.spawn_managed_thread(runtime.dispatcher.run, identifier="notify-dispatcher")

    def _runtime(self) -> Runtime:
        with self._building:
            if self.runtime is None:
                self.runtime = self._build()
            return self.runtime

    def _build(self) -> Runtime:
        store = next(d for d in self.container.dependencies if isinstance(d, EventStore))
        app: NotifyApplication = store.app
        work = WorkTable(app)
        settings = settings_of(self.container.config).notify
        senders = {
            "sms": HttpSmsSender(settings.sms_url, settings.sms_api_key),
            "email": SmtpSender(settings.smtp),
        }
        dispatch = DispatchSettings.of(settings)
        dispatcher = Dispatcher(app, work, senders, dispatch, mapper=greenpool_mapper(10))
        return Runtime(work, dispatcher, Templates(settings.templates_dir, settings.sms_signature))

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.dispatcher.stop()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> Runtime:
        return self._runtime()


class Contacts(DependencyProvider):
    def setup(self) -> None:
        self.cache = ContactCache()

    def get_dependency(self, worker_ctx: Any) -> ContactCache:
        return self.cache


class NotifyService(HealthCheckMixin):
    name = "notify"

    store: NotifyApplication = EventStore(NotifyApplication)  # type: ignore[assignment]
    delivery: Runtime = Delivery()  # type: ignore[assignment]
    contacts: ContactCache = Contacts()  # type: ignore[assignment]
    gateway = SignedRpcProxy("gateway")

    @integration_event_handler("catalogue", "*")
    def on_catalogue_event(self, event: IntegrationEvent) -> None:
        self._notify(event)

    @integration_event_handler("approval", "*")
    def on_case_event(self, event: IntegrationEvent) -> None:
        self._notify(event)

    def _notify(self, event: IntegrationEvent) -> None:
        if event.type not in HEARD or self.store.has_consumed(event.service, event.notification_id):
            return
        directory = CachedDirectory(RpcDirectory(self.gateway), self.contacts)
        deliveries = plan(event, directory, self.delivery.templates)
        if self.store.accept(event, deliveries, utcnow()):
            self.delivery.dispatcher.wake()

    @rpc
    def list_notifications(self, actor: str) -> list[dict[str, Any]]:
        valid = _valid(Username, actor)
        self.delivery.work.catch_up()
        return self.store.views(self.delivery.work.of_recipient(valid))

    @rpc
    def failed_notifications(self, limit: int = 100) -> list[dict[str, Any]]:
        self.delivery.work.catch_up()
        return self.store.views(self.delivery.work.failed(_valid(Limit, limit)))


def _valid(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise InvalidError(f"参数不合法: {exc.errors()[0]['msg']}") from None
