"""The template's `AWS::SecretsManager::Secret`s, created by hand: moto's CloudFormation has no such resource type.

Each secret is named as the template says (`Name`), else `<stack>-<logical id>`
so a reload finds the one it made. Its value is `SecretString`, or what
`GenerateSecretString` asks for (moto's GetRandomPassword, merged into
`SecretStringTemplate` under `GenerateStringKey` as CloudFormation does). A
secret that exists already keeps its value; `!Ref` of it is its ARN.

Blocking (boto3): call it from a thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SECRET_TYPE = "AWS::SecretsManager::Secret"
# GenerateSecretString's keys and GetRandomPassword's parameters: the same names.
_PASSWORD_KEYS = ("PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase",
                  "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType")


def secret_name(rid: str, resource: Mapping[str, Any], stack_name: str) -> str:
    name = (resource.get("Properties") or {}).get("Name")
    return name if isinstance(name, str) and name and not name.startswith("<") else f"{stack_name}-{rid}"


def apply_secrets(client: Any, secrets: Mapping[str, Mapping[str, Any]], stack_name: str, *, create: bool = True) -> dict[str, str]:
    """Logical id -> ARN of each secret, created when missing (with `create`); a secret not found is left out."""
    arns: dict[str, str] = {}
    for rid, resource in secrets.items():
        name = secret_name(rid, resource, stack_name)
        try:
            arns[rid] = client.describe_secret(SecretId=name)["ARN"]
            continue
        except client.exceptions.ResourceNotFoundException:
            if not create:
                continue
        props = resource.get("Properties") or {}
        extra = {"Description": str(props["Description"])} if props.get("Description") else {}
        created = client.create_secret(Name=name, SecretString=_value(client, props), **extra)
        arns[rid] = created["ARN"]
    return arns


def delete_secrets(client: Any, secrets: Mapping[str, Mapping[str, Any]], stack_name: str) -> None:
    for rid, resource in secrets.items():
        try:
            client.delete_secret(SecretId=secret_name(rid, resource, stack_name), ForceDeleteWithoutRecovery=True)
        except client.exceptions.ResourceNotFoundException:
            pass


def _value(client: Any, props: Mapping[str, Any]) -> str:
    if isinstance(props.get("SecretString"), str):
        return str(props["SecretString"])
    generate = props.get("GenerateSecretString")
    if not isinstance(generate, Mapping):
        return ""
    asked = {key: generate[key] for key in _PASSWORD_KEYS if key in generate}
    password = client.get_random_password(**asked)["RandomPassword"]
    template, key = generate.get("SecretStringTemplate"), generate.get("GenerateStringKey")
    if isinstance(template, str) and isinstance(key, str):
        return json.dumps({**json.loads(template), key: password})
    return str(password)
