"""Where lambdatop listens by default: SAM CLI's ports, so tools set up for `sam local` work unchanged.

Apart from the settings that read them (`http_settings`, `api_settings`) so the
command line can show them in `--help` without loading the config readers.
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001  # the port `sam local start-lambda` uses
DEFAULT_API_HOST = "127.0.0.1"
DEFAULT_API_PORT = 3000  # the port `sam local start-api` uses
