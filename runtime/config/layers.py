"""A template's own layers (`AWS::Serverless::LayerVersion`, `AWS::Lambda::LayerVersion`) and a function's `Layers`.

`!Ref` of a layer resource is its version ARN, as in CloudFormation; a
function's `Layers` that name one of the template's layers run from its local
folder (`ContentUri`, or `Content` when it is a path), in order, at most 5 as
Lambda allows. A layer ARN from elsewhere cannot be downloaded: it is listed
with a warning. With SAM's `Metadata: BuildMethod: python3.x`, `sam build`
puts the folder's contents under `python/`, so the folder itself is what
lands on `sys.path` (`LayerContent.under_python`; execution/layers.py lays both shapes out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.config.model import LayerContent

LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
MAX_LAYERS = 5  # Lambda's limit per function
# CreateFunction's InvalidParameterValueException for a sixth layer.
TOO_MANY = "Cannot reference more than 5 layers."


@dataclass(frozen=True)
class LocalLayer:
    """One of the template's layers: its ARN (what `!Ref` gives), its folder, and whether SAM builds it."""

    logical_id: str
    arn: str
    folder: Path | None  # None when its content is in S3
    built_python: bool = False  # Metadata.BuildMethod python*: the folder's contents go under python/


def template_layers(path: Path, resources: Mapping[str, Any], region: str, account_id: str) -> dict[str, LocalLayer]:
    """Logical id -> LocalLayer for every layer resource of the template."""
    layers: dict[str, LocalLayer] = {}
    for rid, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") not in LAYER_TYPES:
            continue
        props = resource.get("Properties") or {}
        name = props.get("LayerName")
        name = name if isinstance(name, str) else rid
        content = props.get("ContentUri") if resource["Type"] == LAYER_TYPES[0] else props.get("Content")
        folder = (path.parent / content).resolve() if isinstance(content, str) and not content.startswith("s3://") else None
        method = str((resource.get("Metadata") or {}).get("BuildMethod") or "")
        layers[str(rid)] = LocalLayer(str(rid), f"arn:aws:lambda:{region}:{account_id}:layer:{name}:1", folder,
                                      built_python=method.startswith("python"))
    return layers


def function_layers(
    path: Path, function: str, written: Sequence[Any], local: Mapping[str, LocalLayer], line: int | None,
) -> tuple[tuple[str, ...], tuple[LayerContent, ...], list[str]]:
    """A function's resolved `Layers`: their ARNs, the local folders to run, and what cannot run (one text per
    layer, the same for every function naming it, so the template's warnings list each layer once)."""
    if len(written) > MAX_LAYERS:
        raise ConfigError(TOO_MANY, path=str(path), line=line, function=function, key="Layers")
    by_arn = {layer.arn: layer for layer in local.values()}
    arns: list[str] = []
    folders: list[LayerContent] = []
    warnings: list[str] = []
    for item in written:
        arn = str(item)
        arns.append(arn)
        layer = by_arn.get(arn)
        if layer is None:
            warnings.append(f"layer {arn} is not in the template and cannot be downloaded: its code is not on "
                            "sys.path here")
        elif layer.folder is None:
            warnings.append(f"layer {layer.logical_id} has its content in S3: its code is not on sys.path here "
                            "(give it a local ContentUri)")
        elif not layer.folder.is_dir():
            raise ConfigError(f"layer {layer.logical_id}: content folder {str(layer.folder)!r} does not exist",
                              path=str(path), line=line, function=function, key="Layers")
        else:
            folders.append(LayerContent(layer.folder, under_python=layer.built_python))
    return tuple(arns), tuple(folders), warnings
