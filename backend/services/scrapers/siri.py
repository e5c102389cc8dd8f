"""PRIM's SIRI Lite answers (stop-monitoring, general-message) as pydantic models: the fields this code reads.

Unknown fields are ignored; a field of the wrong type makes the whole answer a `bad_response` naming its path
(`upstream_http.validated`). What a usable answer may lack (a visit without a journey, a call without a time) is
optional here and counted by the parser, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class SiriModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SiriText(SiriModel):
    """SIRI Lite's `{"value": "...", "lang": "fr"}`."""

    value: str | None = None


# SIRI Lite writes a text as a list of translations, sometimes as one.
SiriTexts = list[SiriText] | SiriText | None


def first_text(texts: SiriTexts) -> str | None:
    """The first translation of a SIRI Lite text, stripped; None when there is none."""
    first = (texts[0] if texts else None) if isinstance(texts, list) else texts
    value = first.value if first is not None else None
    return value.strip() if value and value.strip() else None


class ErrorInfo(SiriModel):
    ErrorText: Any = None
    ErrorDescription: Any = None


class DeliveryError(SiriModel):
    model_config = ConfigDict(extra="allow", frozen=True)  # an error of another shape is still quoted whole

    ErrorInformation: ErrorInfo | None = None


class Call(SiriModel):
    ExpectedDepartureTime: str | None = None
    ExpectedArrivalTime: str | None = None
    AimedDepartureTime: str | None = None
    AimedArrivalTime: str | None = None
    DestinationDisplay: SiriTexts = None
    DepartureStatus: str | None = None
    ArrivalStatus: str | None = None
    VehicleAtStop: Any = None  # only `true` says the vehicle is at the stop


class VehicleJourney(SiriModel):
    LineRef: SiriTexts = None
    DestinationName: SiriTexts = None
    DirectionName: SiriTexts = None
    MonitoredCall: Call | None = None


class StopVisit(SiriModel):
    MonitoredVehicleJourney: VehicleJourney | None = None


class StopDelivery(SiriModel):
    ErrorCondition: DeliveryError | None = None
    MonitoredStopVisit: list[StopVisit] | None = None


class MessagePart(SiriModel):
    MessageText: SiriText | None = None


class MessageContent(SiriModel):
    Message: list[MessagePart] | None = None


class InfoMessageItem(SiriModel):
    InfoChannelRef: SiriTexts = None
    ValidUntilTime: str | None = None
    Content: MessageContent | None = None


class MessageDelivery(SiriModel):
    ErrorCondition: DeliveryError | None = None
    InfoMessage: list[InfoMessageItem] | None = None


class StopMonitoringService(SiriModel):
    StopMonitoringDelivery: list[StopDelivery]


class GeneralMessageService(SiriModel):
    GeneralMessageDelivery: list[MessageDelivery]


class StopMonitoringSiri(SiriModel):
    ServiceDelivery: StopMonitoringService


class GeneralMessageSiri(SiriModel):
    ServiceDelivery: GeneralMessageService


class SiriAnswer(SiriModel):
    """An answer of one SIRI Lite service: its deliveries, and the path it must hold (for error messages)."""

    EXPECTED: ClassVar[str]

    @property
    def deliveries(self) -> Sequence[StopDelivery | MessageDelivery]:
        raise NotImplementedError


class StopMonitoringAnswer(SiriAnswer):
    EXPECTED: ClassVar[str] = "Siri.ServiceDelivery.StopMonitoringDelivery[]"
    Siri: StopMonitoringSiri

    @property
    def deliveries(self) -> list[StopDelivery]:
        return self.Siri.ServiceDelivery.StopMonitoringDelivery


class GeneralMessageAnswer(SiriAnswer):
    EXPECTED: ClassVar[str] = "Siri.ServiceDelivery.GeneralMessageDelivery[]"
    Siri: GeneralMessageSiri

    @property
    def deliveries(self) -> list[MessageDelivery]:
        return self.Siri.ServiceDelivery.GeneralMessageDelivery
