"""ListLayers, ListLayerVersions, GetLayerVersion and GetLayerVersionByArn for the template's own layers.

A local layer is an `AWS::Serverless::LayerVersion` / `AWS::Lambda::LayerVersion`
resource of the template, or a function's layer entry that is not an ARN of
another account (a `!Ref` of such a resource, a folder in lambdatop.yaml); each
exists at version 1, as a first deployment makes it. A remote layer's ARN
(another account's, e.g. Powertools') is only listed in a function's
configuration: its content is not here, so GetLayerVersion on it is a 404.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.errors import ResourceNotFound

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
_LAYER_ARN = re.compile(r"arn:aws[\w-]*:lambda:([\w-]+):(\d{12}):layer:([\w-]+)(?::(\d+))?$")
_PLACEHOLDER = re.compile(r"<(?:(?:Ref|GetAtt) )?([^.> ]+)[^>]*>$")  # an unresolved `!Ref Layer`: <Ref Layer> or <Layer>


@dataclass(frozen=True)
class LocalLayer:
    name: str
    arn: str  # the layer's ARN, without a version
    version: int
    description: str = ""
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    license: str | None = None
    content: Path | None = None

    @property
    def version_arn(self) -> str:
        return f"{self.arn}:{self.version}"


def local_layers(fleet: Fleet) -> dict[str, LocalLayer]:
    """The fleet's local layers by name."""
    config = fleet.config
    declared = _template_layers(fleet)
    found = {layer.name: layer for layer in declared.values()}
    by_logical_id = {rid: layer.name for rid, layer in declared.items()}
    for function in fleet.functions.values():
        for entry in function.layers:
            named = layer_name(entry, config.account_id, by_logical_id)
            if named is not None and named not in found:
                folder = Path(entry) if not entry.startswith(("arn:", "<")) else None
                found[named] = LocalLayer(named, _base_arn(fleet) + named, 1,
                                          content=(config.root / folder).resolve() if folder else None)
    return found


def _template_layers(fleet: Fleet) -> dict[str, LocalLayer]:
    """The template's LayerVersion resources by logical id."""
    config = fleet.config
    template = config.template or {}
    root = config.template_path.parent if config.template_path else config.root
    found: dict[str, LocalLayer] = {}
    for rid, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, Mapping) or resource.get("Type") not in LAYER_TYPES:
            continue
        props = resource.get("Properties") or {}
        given = props.get("LayerName")
        name = given if isinstance(given, str) else str(rid)
        uri = props.get("ContentUri") or props.get("Content")
        license_info = props.get("LicenseInfo")
        found[str(rid)] = LocalLayer(
            name, _base_arn(fleet) + name, 1, str(props.get("Description") or ""), _strings(props.get("CompatibleRuntimes")),
            _strings(props.get("CompatibleArchitectures")), license_info if isinstance(license_info, str) else None,
            (root / uri).resolve() if isinstance(uri, str) else None,
        )
    return found


def _base_arn(fleet: Fleet) -> str:
    return f"arn:aws:lambda:{fleet.config.region}:{fleet.config.account_id}:layer:"


def layer_name(entry: str, account_id: str, by_logical_id: Mapping[str, str]) -> str | None:
    """The local layer a function's layer entry stands for, or None for another account's layer."""
    arn = _LAYER_ARN.match(entry)
    if arn:
        return arn.group(3) if arn.group(2) == account_id else None
    placeholder = _PLACEHOLDER.match(entry)
    if placeholder:
        return by_logical_id.get(placeholder.group(1), placeholder.group(1))
    return Path(entry).name or None


def layer_arn(fleet: Fleet, entry: str) -> str:
    """A function's layer entry as the version ARN GetFunctionConfiguration shows (a remote ARN as written)."""
    if _LAYER_ARN.match(entry) and entry.startswith("arn:"):
        return entry
    by_logical_id = {rid: layer.name for rid, layer in _template_layers(fleet).items()}
    name = layer_name(entry, fleet.config.account_id, by_logical_id)
    layer = local_layers(fleet).get(name or "")
    return layer.version_arn if layer is not None else entry


def list_layers(fleet: Fleet) -> dict[str, Any]:
    layers = sorted(local_layers(fleet).values(), key=lambda layer: layer.name)
    return {"Layers": [{"LayerName": lay.name, "LayerArn": lay.arn, "LatestMatchingVersion": _version_item(lay)} for lay in layers]}


def list_layer_versions(fleet: Fleet, name: str) -> dict[str, Any]:
    layer = local_layers(fleet).get(_bare_name(name))
    return {"LayerVersions": [_version_item(layer)] if layer is not None else []}


def get_layer_version(fleet: Fleet, name: str, version: str) -> dict[str, Any]:
    layer = local_layers(fleet).get(_bare_name(name))
    if layer is None or version != str(layer.version):
        raise ResourceNotFound("The resource you requested does not exist.")
    return _version_body(layer)


def get_layer_version_by_arn(fleet: Fleet, arn: str) -> dict[str, Any]:
    match = _LAYER_ARN.match(arn)
    if match is None or match.group(4) is None:
        raise ResourceNotFound("The resource you requested does not exist.")
    if match.group(2) != fleet.config.account_id:
        raise ResourceNotFound(f"The resource you requested does not exist: {arn} is another account's layer, "
                               f"whose content lambdatop does not have")
    return get_layer_version(fleet, match.group(3), match.group(4))


def _bare_name(name: str) -> str:
    match = _LAYER_ARN.match(name)
    return match.group(3) if match else name


def _version_item(layer: LocalLayer) -> dict[str, Any]:
    item: dict[str, Any] = {"LayerVersionArn": layer.version_arn, "Version": layer.version, "Description": layer.description,
                            "CreatedDate": _created(layer), "CompatibleRuntimes": list(layer.runtimes),
                            "CompatibleArchitectures": list(layer.architectures)}
    if layer.license:
        item["LicenseInfo"] = layer.license
    return item


def _version_body(layer: LocalLayer) -> dict[str, Any]:
    size, digest = _content_digest(layer.content)
    content: dict[str, Any] = {"CodeSha256": digest, "CodeSize": size}
    if layer.content is not None:
        content["Location"] = layer.content.as_uri()
    item = _version_item(layer)
    return {"Content": content, "LayerArn": layer.arn, **item}


def _created(layer: LocalLayer) -> str:
    try:
        moment = layer.content.stat().st_mtime if layer.content is not None else time.time()
    except OSError:
        moment = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}+0000"


def _content_digest(folder: Path | None) -> tuple[int, str]:
    """Size and a digest of the layer folder's files (AWS hashes the zip; there is no zip here)."""
    digest = hashlib.sha256()
    size = 0
    if folder is not None and folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            size += path.stat().st_size
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return size, base64.b64encode(digest.digest()).decode()


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
