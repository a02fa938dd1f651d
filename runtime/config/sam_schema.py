"""What SAM accepts in an `AWS::Serverless::Function`, so a template typo is refused as SAM refuses it.

SAM rejects a property it does not define ("property Timout not defined for
resource of type AWS::Serverless::Function") and a Globals.Function key it does
not support ("'Events' is not a supported property of 'Function'"). lambdatop
would otherwise run such a function with the defaults, silently.

Where the lists come from (aws-sam-translator, the code SAM and `sam deploy` run):
- `FUNCTION_PROPERTIES`: `SamFunction.property_types` in
  samtranslator/model/sam_resources.py of github.com/aws/serverless-application-model
  (commit 7000d0a, 29 May 2026); the same 49 names as the Syntax section of the
  AWS SAM Developer Guide page "AWS::Serverless::Function" (sam-resource-function).
- `GLOBAL_FUNCTION_PROPERTIES`: `Globals.supported_properties["AWS::Serverless::Function"]`
  in samtranslator/plugins/globals/globals.py, same commit.
When SAM adds a property, add it here (tests/test_config.py checks the Globals
list stays a subset of the function's).
"""

from __future__ import annotations

FUNCTION_TYPE = "AWS::Serverless::Function"

FUNCTION_PROPERTIES = frozenset({
    "Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256", "CapacityProviderConfig", "CodeSigningConfigArn", "CodeUri", "DeadLetterQueue",
    "DeploymentPreference", "Description", "DurableConfig", "Environment", "EphemeralStorage", "EventInvokeConfig",
    "Events", "FileSystemConfigs", "FunctionName", "FunctionScalingConfig", "FunctionUrlConfig", "Handler",
    "ImageConfig", "ImageUri", "InlineCode", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType",
    "PermissionsBoundary", "Policies", "PropagateTags", "ProvisionedConcurrencyConfig", "PublishToLatestPublished",
    "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath", "Runtime", "RuntimeManagementConfig",
    "SnapStart", "SourceKMSKeyArn", "Tags", "TenancyConfig", "Timeout", "Tracing", "VersionDeletionPolicy",
    "VersionDescription", "VpcConfig",
})

# Every function property except those that name or wire one function (its name, role, policies, events,
# image and inline code, the published version's hash and description).
GLOBAL_FUNCTION_PROPERTIES = FUNCTION_PROPERTIES - {
    "AutoPublishCodeSha256", "Events", "FunctionName", "ImageConfig", "ImageUri", "InlineCode", "PackageType",
    "Policies", "Role", "VersionDescription",
}


def function_only(key: str) -> str | None:
    """Why `key` may not be set in Globals.Function though a function may set it; None if that is not the case."""
    if key in FUNCTION_PROPERTIES and key not in GLOBAL_FUNCTION_PROPERTIES:
        return f"{key} is a property of each {FUNCTION_TYPE}; SAM's Globals.Function does not take it (set it on the function)"
    return None
