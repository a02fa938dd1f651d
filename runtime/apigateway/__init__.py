"""API Gateway locally: the template's `Api` and `HttpApi` routes answer on one API port.

The job: read the REST and HTTP APIs a SAM template declares (implicit
`ServerlessRestApi` / `ServerlessHttpApi`, explicit `AWS::Serverless::Api` /
`AWS::Serverless::HttpApi` resources, their OpenAPI `DefinitionBody`), match
requests to routes as API Gateway does, turn each request into the payload
format 1.0 or 2.0 event, run it through `Fleet.invoke` (trigger `api`, the
route recorded), and map the function's answer back to HTTP, with CORS,
binary media types, Lambda and JWT authorizers and an API Gateway segment
above the function's in the trace.

One job per module:

    model.py        the definitions (ApiDefinition, Route, Authorizer, Cors) and ApiKind
    template.py     the SAM template (and lambdatop.yaml events) → ApiDefinitions
    routes.py       the route table: API Gateway's matching rules, most specific first
    events.py       request → payload 1.0 / 2.0 event (function URLs use the 2.0 builder too)
    responses.py    the function's proxy result → HTTP (function URLs use the 2.0 mapping too)
    binary.py       which bodies are text and which are binary (BinaryMediaTypes)
    cors.py         preflight answers and CORS headers
    authorizers.py  Lambda authorizers (TOKEN, REQUEST, simple and IAM responses, caching) and JWT claims
    gateway.py      one request through the API: match, preflight, authorize, invoke, map, count, trace
    segments.py     the API Gateway trace segment
    stats.py        per-route counters and the typed snapshot the dashboard reads
    settings.py     the `api:` section of lambdatop.yaml
    url_configs.py  function URLs' FunctionUrlConfig (GetFunctionUrlConfig, their Cors)
    server.py       the aiohttp service on the API port

It may import aiohttp, the shared vocabulary (records, errors, identifiers,
bus), `lambdatop.runtime.config` and `lambdatop.runtime.config.intrinsics`, and two
helpers it shares with neighbours: `endpoint.is_loopback` (the same loopback
rule as the Lambda endpoint) and `observability.find` (to file its trace
segment). It reaches the fleet only through `Fleet` (invoke, bus, config,
services, snapshot_providers). Outside it, services.py attaches it,
function_url.py and endpoint.py use its 2.0 event, response mapping, CORS and
URL configs, and the control plane its FunctionUrlConfig reader.
"""
