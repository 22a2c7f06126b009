"""The definition as the local runner sees it: ``${Placeholder}`` substitution and :func:`validate`.

:func:`validate` checks only what the runner needs: that every state type, field, value, Choice
operator, intrinsic function, JSONPath and Task resource is one it supports (the tables at the
end, which are what statemachine/xva_pipeline.asl.json uses), naming anything else; that the
fields it reads are there; that every StartAt, Next, Default and Catch target exists. Linting
beyond that (types, ranges, reachability, ...) is asl-validator's and statelint's, which CI runs
on the same file (infra/lint_asl.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from xvaflow.pipeline.asl.paths import expression_problem

_PLACEHOLDER_RE: Final = re.compile(r"\$\{([^}]+)\}")
_RUNNER: Final = "is not supported by the local runner"
S3_GET_OBJECT: Final = "arn:aws:states:::s3:getObject"


class UnsupportedDefinition(ValueError):
    """The local runner will not run this definition; ``problems`` lists every problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("the local runner cannot run this state machine definition:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


def placeholders(definition: Any) -> set[str]:
    """Every ``${Name}`` placeholder in a definition (its strings and keys)."""
    return set(_PLACEHOLDER_RE.findall(json.dumps(definition)))


def substitute(definition: Any, values: Mapping[str, str]) -> Any:
    """Replace ``${Name}`` placeholders as the CDK's ``definition_substitutions`` does: in the
    definition's text (a value is inserted as JSON string content).

    Raises:
        KeyError: naming every placeholder that has no value.
    """
    missing = sorted(placeholders(definition) - set(values))
    if missing:
        raise KeyError(f"no substitution for placeholder(s): {', '.join(missing)}")
    return json.loads(_PLACEHOLDER_RE.sub(lambda m: json.dumps(str(values[m.group(1)]))[1:-1],
                                          json.dumps(definition)))


def validate(definition: Any, *, resources: Mapping[str, Any] | None = None,
             has_item_reader: bool = True) -> list[str]:
    """Every problem that keeps the local runner from executing ``definition`` (empty: none),
    each a line naming the state (``state 'Map/ItemProcessor/Task': ...``) and the field.

    ``resources``: when given, every Task Resource must be one of its keys.
    ``has_item_reader``: whether the runner will get a callable to read a Map's ItemReader.
    """
    checker = _Checker(resources, has_item_reader)
    checker.machine("", definition, _TOP, "")
    return checker.problems


Spec: TypeAlias = "str | tuple[str, ...] | _Object | list[_Object]"


@dataclass(frozen=True)
class _Object:
    """The fields of a JSON object the runner supports, each with what its value must be
    (:meth:`_Checker.value`), the fields it needs, and what it is (for the messages)."""

    fields: Mapping[str, Spec]
    required: tuple[str, ...] = ()
    what: str = ""


class _Checker:
    def __init__(self, resources: Mapping[str, Any] | None, has_item_reader: bool) -> None:
        self.resources = resources
        self.has_item_reader = has_item_reader
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{f'state {where!r}' if where else 'definition'}: {message}")

    def machine(self, where: str, machine: Any, spec: _Object, field: str) -> None:
        """The definition (``where`` empty) or a Map's ItemProcessor, and all its states."""
        states = machine.get("States") if isinstance(machine, dict) else None
        if not isinstance(states, dict) or not states:
            self.add(where, f"{field or 'the definition'} needs a non-empty States")
            return
        self.walk(where, machine, spec, field, states)
        for name, state in states.items():
            self.state(f"{where}/{field}/{name}" if where else name, state, states)

    def state(self, where: str, state: Any, names: Mapping[str, Any]) -> None:
        kind = state.get("Type") if isinstance(state, dict) else None
        if not isinstance(kind, str) or kind not in STATES:
            self.add(where, f"Type {kind} {_RUNNER} (supported: "
                     f"{', '.join(sorted(STATES))})" if kind else "Type is required")
            return
        self.walk(where, state, STATES[kind], "", names)
        if kind in ("Task", "Map") and ("Next" in state) == (state.get("End") is True):
            self.add(where, 'needs exactly one of Next or "End": true')

    def walk(self, where: str, obj: Any, spec: _Object, field: str,
             names: Mapping[str, Any]) -> None:
        """Check the object at ``field`` (``""``: the state itself) against ``spec``."""
        prefix = f"{field}." if field else ""
        if not isinstance(obj, dict):
            self.add(where, f"{field} must be an object")
            return
        for key, value in obj.items():
            if key in spec.fields:
                self.value(where, prefix + key, spec.fields[key], value, names)
            else:
                self.add(where, f"{prefix}{key} {_RUNNER}{spec.what} (supported: "
                         f"{', '.join(sorted(spec.fields))})")
        for key in spec.required:
            if key not in obj:
                self.add(where, f"{prefix}{key} is required")

    def value(self, where: str, field: str, spec: Spec, value: Any,
              names: Mapping[str, Any]) -> None:
        """Check a field's value against ``spec``: a table, ``[table]`` (a non-empty array of
        such objects), the supported values, or the name of a check ("any": whatever it is,
        asl-validator checks it)."""
        if isinstance(spec, _Object):
            self.walk(where, value, spec, field, names)
        elif isinstance(spec, list):
            if not (isinstance(value, list) and value):
                self.add(where, f"{field} must be a non-empty array")
            for i, item in enumerate(value if isinstance(value, list) else []):
                self.walk(where, item, spec[0], f"{field}[{i}]", names)
        elif isinstance(spec, tuple):
            if value not in spec:
                self.add(where, f"{field} {value!r} {_RUNNER} (supported: {', '.join(spec)})")
        elif spec == "target":
            if not isinstance(value, str) or value not in names:
                self.add(where, f"{field} names {value!r}, which is not a state here")
        elif spec == "template":  # Parameters, ResultSelector, ItemSelector: each .$ must run
            pairs = (value.items() if isinstance(value, dict) else
                     enumerate(value) if isinstance(value, list) else [])
            for key, sub in pairs:
                self.value(where, f"{field}.{key}" if isinstance(value, dict) else
                           f"{field}[{key}]", "expression" if str(key).endswith(".$")
                           else "template", sub, names)
        elif spec in ("path", "expression"):  # an expression may be an intrinsic function
            why = expression_problem(value, intrinsics=spec == "expression")
            if why:
                self.add(where, f"{field}: {why}")
        elif spec == "result path":  # ResultPath writes into objects: names only
            if value is not None and not re.fullmatch(r"\$(\.[\w-]+)*", str(value)):
                self.add(where, f"{field} {value!r} {_RUNNER} (supported: null, $, "
                         "$.name.name)")
        elif spec == "resource":
            if not isinstance(value, str) or "${" in value:
                self.add(where, f"Resource {value!r} is not a resource (a ${{placeholder}} "
                         "left? substitute the definition first)")
            elif self.resources is not None and value not in self.resources:
                self.add(where, f"no callable is bound to Resource '{value}' (bound: "
                         f"{', '.join(sorted(self.resources))})")
        elif spec == "item reader":
            self.walk(where, value, _READER, field, names)
            params = value.get("Parameters") if isinstance(value, dict) else None
            for key in ("Bucket", "Key"):
                if isinstance(params, dict) and key not in params and f"{key}.$" not in params:
                    self.add(where, f"{field}.Parameters.{key} is required")
            if not self.has_item_reader:
                self.add(where, "ItemReader needs an item_reader callable, and the runner was "
                         "given none")
        elif spec == "processor":
            self.machine(where, value, _PROCESSOR, field)


def _state(kind: str, fields: Mapping[str, Spec], *required: str) -> _Object:
    return _Object({"Type": "any", "Comment": "any", **fields}, required, f" in a {kind} state")


_RETRIER: Final = _Object({"ErrorEquals": "any", "IntervalSeconds": "any", "MaxAttempts": "any",
                           "BackoffRate": "any", "MaxDelaySeconds": "any",
                           "JitterStrategy": ("NONE", "FULL")}, ("ErrorEquals",), " in a retrier")
_CATCHER: Final = _Object({"ErrorEquals": "any", "ResultPath": "result path", "Next": "target"},
                          ("ErrorEquals", "Next"), " in a catcher")
# the one comparison the definition makes; other operators and And/Or/Not are named as fields
_RULE: Final = _Object({"Variable": "path", "StringEquals": "any", "Next": "target"},
                       ("Variable", "StringEquals", "Next"), " in a Choice rule")
_READER: Final = _Object({"Resource": (S3_GET_OBJECT,), "Parameters": "template",
                          "ReaderConfig": _Object({"InputType": ("JSON",)}, ("InputType",))},
                         ("Resource", "ReaderConfig", "Parameters"))
_TOP: Final = _Object({"Comment": "any", "StartAt": "target", "States": "any",
                       "TimeoutSeconds": "any"}, ("StartAt",), " in a state machine")
_PROCESSOR: Final = _Object({"Comment": "any", "StartAt": "target", "States": "any",
                             "ProcessorConfig": _Object({"Mode": ("DISTRIBUTED",),
                                                         "ExecutionType": "any"}, ("Mode",))},
                            ("StartAt", "ProcessorConfig"), " in an ItemProcessor")
STATES: Final[Mapping[str, _Object]] = {
    "Task": _state("Task", {"Resource": "resource", "Parameters": "template",
                            "ResultSelector": "template", "ResultPath": "result path",
                            "TimeoutSeconds": "any", "Retry": [_RETRIER], "Catch": [_CATCHER],
                            "Next": "target", "End": "any"}, "Resource"),
    "Choice": _state("Choice", {"Choices": [_RULE], "Default": "target"}, "Choices"),
    "Map": _state("Map", {"Label": "any", "ItemReader": "item reader",
                          "MaxConcurrencyPath": "path", "ItemSelector": "template",
                          "ItemProcessor": "processor", "ResultPath": "result path",
                          "Catch": [_CATCHER], "Next": "target", "End": "any"},
                  "ItemReader", "ItemProcessor"),
    "Succeed": _state("Succeed", {}),
    "Fail": _state("Fail", {"Error": "any", "ErrorPath": "expression", "Cause": "any",
                            "CausePath": "expression"}),
}
