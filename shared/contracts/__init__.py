from shared.contracts.envelope import SCHEMA_VERSION, IntegrationEvent, event_id_for

__all__ = ["SCHEMA_VERSION", "IntegrationEvent", "event_id_for"]
