"""The event the notify service publishes: a message it gave up on (短信或邮件发送失败)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NotificationFailed(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a reader ignores what it does not know

    notification_id: str
    channel: Literal["sms", "email", "inbox"]
    subject: str
    status: Literal["failed"]
    case_id: str | None
    created_at: str
    attempts: int = Field(ge=0)
    reason: str | None
    recipient: str = Field(description="收件人的账号（不含号码或地址）")
    event_type: str = Field(description="引起这条通知的事件")


NOTIFY_EVENT_DATA: dict[str, type[BaseModel]] = {"notification_failed": NotificationFailed}
