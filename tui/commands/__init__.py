"""One module per `lambdatop` subcommand; see `lambdatop.tui.cli`."""
