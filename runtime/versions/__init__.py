"""Published versions and aliases of functions, as Lambda keeps them (`PublishVersion`, `CreateAlias`...).

A published version is frozen: its configuration and a copy of its code folder taken at publish time
(under the run's work dir), served by a pool of its own, so `FN:1` runs the code it was published with
while `$LATEST` follows the files. An alias names a version, optionally with one more version and the
share of invocations it takes (`RoutingConfig.AdditionalVersionWeights`). `AutoPublishAlias` publishes on
every change of code or configuration and points its alias at the new version, as `sam deploy` does.

    Invoker.resolve("FN:live") ──► VersionRegistry.pool_for ──► Alias.pick (weights) ──► version 2's pool
                                                                                          (code copy of v2)

shifting.py runs DeploymentPreference shifts (and their rollback on an alarm); traffic.py counts each
version's invocations for the screen's side-by-side view.

May import: config, errors, execution (the pools it runs versions on), identifiers, records, the
snapshot types, and observability's percentile rule.
"""
