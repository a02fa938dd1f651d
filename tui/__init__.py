"""lambdatop's face: the command line and the Textual dashboard. Talks to the runtime only through `Fleet`."""
