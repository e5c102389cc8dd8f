"""PRIM's SIRI Lite answers (stop-monitoring, general-message) as typed dicts that pydantic checks: the fields this
code reads.

Unknown fields are ignored; a field of the wrong type makes the whole answer a `bad_response` naming its path
(`upstream_http.shape_error`). What a usable answer may lack (a visit without a journey, a call without a time) is
optional here and counted by the parser, never guessed. Typed dicts rather than models: pydantic checks the same
shape without building an object for every visit, call and text of an answer (Chatelet's 52 KB answer, 60 visits:
0.66 ms of CPU as models, 0.32 ms as typed dicts), and a cycle reads a thousand of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12


class SiriText(TypedDict, total=False):
    """SIRI Lite's `{"value": "...", "lang": "fr"}`."""

    value: str | None


# SIRI Lite writes a text as a list of translations, sometimes as one.
SiriTexts = list[SiriText] | SiriText | None


def first_text(texts: SiriTexts) -> str | None:
    """The first translation of a SIRI Lite text, stripped; None when there is none."""
    first = (texts[0] if texts else None) if isinstance(texts, list) else texts
    value = first.get("value") if first is not None else None
    return value.strip() if value and value.strip() else None


class ErrorInfo(TypedDict, total=False):
    ErrorText: Any
    ErrorDescription: Any


@with_config(ConfigDict(extra="allow"))  # an error of another shape is still quoted whole
class DeliveryError(TypedDict, total=False):
    ErrorInformation: ErrorInfo | None


class Call(TypedDict, total=False):
    ExpectedDepartureTime: str | None
    ExpectedArrivalTime: str | None
    AimedDepartureTime: str | None
    AimedArrivalTime: str | None
    DestinationDisplay: SiriTexts
    DepartureStatus: str | None
    ArrivalStatus: str | None
    VehicleAtStop: Any  # only `true` says the vehicle is at the stop


class VehicleJourney(TypedDict, total=False):
    LineRef: SiriTexts
    DestinationName: SiriTexts
    DirectionName: SiriTexts
    MonitoredCall: Call | None


class StopVisit(TypedDict, total=False):
    MonitoredVehicleJourney: VehicleJourney | None


class StopDelivery(TypedDict, total=False):
    ErrorCondition: DeliveryError | None
    MonitoredStopVisit: list[StopVisit] | None


class MessagePart(TypedDict, total=False):
    MessageText: SiriText | None


class MessageContent(TypedDict, total=False):
    Message: list[MessagePart] | None


class InfoMessageItem(TypedDict, total=False):
    InfoChannelRef: SiriTexts
    ValidUntilTime: str | None
    Content: MessageContent | None


class MessageDelivery(TypedDict, total=False):
    ErrorCondition: DeliveryError | None
    InfoMessage: list[InfoMessageItem] | None


class StopMonitoringService(TypedDict):
    StopMonitoringDelivery: list[StopDelivery]


class GeneralMessageService(TypedDict):
    GeneralMessageDelivery: list[MessageDelivery]


class StopMonitoringSiri(TypedDict):
    ServiceDelivery: StopMonitoringService


class GeneralMessageSiri(TypedDict):
    ServiceDelivery: GeneralMessageService


class StopMonitoringAnswer(TypedDict):
    Siri: StopMonitoringSiri


class GeneralMessageAnswer(TypedDict):
    Siri: GeneralMessageSiri


AnswerT = TypeVar("AnswerT")
DeliveryT = TypeVar("DeliveryT", StopDelivery, MessageDelivery)


@dataclass(frozen=True)
class SiriService(Generic[AnswerT, DeliveryT]):
    """One SIRI Lite service's answer: its schema, its deliveries, and the path they are at (for error messages)."""

    schema: TypeAdapter[AnswerT]
    expected: str
    deliveries: Callable[[AnswerT], Sequence[DeliveryT]]


STOP_MONITORING: SiriService[StopMonitoringAnswer, StopDelivery] = SiriService(
    TypeAdapter(StopMonitoringAnswer),
    "Siri.ServiceDelivery.StopMonitoringDelivery[]",
    lambda answer: answer["Siri"]["ServiceDelivery"]["StopMonitoringDelivery"],
)
GENERAL_MESSAGE: SiriService[GeneralMessageAnswer, MessageDelivery] = SiriService(
    TypeAdapter(GeneralMessageAnswer),
    "Siri.ServiceDelivery.GeneralMessageDelivery[]",
    lambda answer: answer["Siri"]["ServiceDelivery"]["GeneralMessageDelivery"],
)
