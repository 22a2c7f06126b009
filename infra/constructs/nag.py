"""Helpers to acknowledge cdk-nag findings precisely, next to the resource they concern.

Every acknowledgement is also recorded as construct metadata of type :data:`ACK_METADATA`
(``{"rule": ..., "reason": ...}``), so that tests/infra can list them and check each reason
against the synthesised template. The context key :data:`NO_ACKNOWLEDGEMENTS` (tests only)
records them without acknowledging, so that a synthesis shows the findings they answer.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

ACK_METADATA = "xvaflow:acknowledgement"
NO_ACKNOWLEDGEMENTS = "xvaflow:no-acknowledgements"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope``
    and its children, with the reason it is acceptable."""
    scope.node.add_metadata(ACK_METADATA, {"rule": rule, "reason": reason})
    if scope.node.try_get_context(NO_ACKNOWLEDGEMENTS):
        return
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of ``construct`` (or of its default child), as cdk-nag
    writes it inside finding ids (``<LogicalId>``, ``<LogicalId.Arn>``)."""
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    if not isinstance(element, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation element")
    stack = Stack.of(element)
    return str(stack.resolve(stack.get_logical_id(element)))
