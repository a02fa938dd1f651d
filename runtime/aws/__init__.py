"""The AWS services sidecar: the template's queues, tables, buckets and topics, locally.

Its job: run an AWS emulator (moto's server mode) as a child process that never
outlives lambdatop (`sidecar`, `launcher`), create the template's non-function
resources there through the emulator's own CloudFormation (`stack`), resolve
`!Ref`/`!GetAtt`/`!Sub` of them to the real local names, URLs and ARNs
(`names`), and decide what AWS endpoint and credentials workers get
(`settings`). `service` ties it to a running `Fleet`.

It may import: lambdatop.runtime.fleet, .config, .errors, .bus, .records,
.yamlfile, and moto/boto3. `launcher` runs in the child and imports only moto.
"""
