"""JSON-ready forms of commands, events and results for the journal.

Pydantic validates the dataclasses of `actors.messages` on the way back in, so a
journal written by an older release still decodes field by field.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from actors import errors
from actors.errors import MarqueeError, restore_error
from actors.messages import Command, Event, Result

_events: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="kind")])
_results: TypeAdapter[Result] = TypeAdapter(
    Annotated[Result, Field(discriminator="kind")]
)
_commands: TypeAdapter[Command] = TypeAdapter(
    Annotated[Command, Field(discriminator="kind")]
)

_ERROR_TYPES: dict[str, type[MarqueeError]] = {
    error_type.code: error_type
    for error_type in vars(errors).values()
    if isinstance(error_type, type) and issubclass(error_type, MarqueeError)
}


def encode_event(event: Event) -> dict[str, Any]:
    return _events.dump_python(event, mode="json")  # type: ignore[no-any-return]


def decode_event(data: Any) -> Event:
    return _events.validate_python(data)


def encode_result(result: Result) -> dict[str, Any]:
    return _results.dump_python(result, mode="json")  # type: ignore[no-any-return]


def decode_result(data: Any) -> Result:
    return _results.validate_python(data)


def encode_error(error: MarqueeError) -> dict[str, Any]:
    return error.to_dict()


def decode_error(data: dict[str, Any]) -> MarqueeError:
    fields = dict(data)
    error_type = _ERROR_TYPES.get(fields.pop("code"), MarqueeError)
    detail = fields.pop("detail")
    return restore_error(error_type, detail, fields)


def fingerprint(command: Command) -> str:
    """A digest of everything in `command` but its request id.

    Two commands with one request id and different fingerprints are a client
    bug, reported as `request_id_conflict` instead of silently answered.
    """
    data = _commands.dump_python(command, mode="json")
    data.pop("request_id")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
