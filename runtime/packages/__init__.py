"""A function's packages as Lambda's Python runtime sees them.

`sam build` installs a code folder's requirements.txt beside the code, and
the runtime bundles boto3 and botocore; nothing else is importable on Lambda.
Here: `requirements` says what a function needs installed and where it goes
(`.lambdatop/packages/<digest of the file and the Python>`), `installer` runs
uv or pip into that folder once, `bundled` links the boto3 lambdatop has into
a folder of its own (never the whole of lambdatop's site-packages), and
`installs` tracks each function's install (installing, ready, failed with
pip's message) for the pool, the dashboard and `serve`.

May import: `lambdatop.runtime.config`, `lambdatop.runtime.errors` and the
standard library; the Fleet wires it to the pools and the bus.
"""
