"""The dashboard's screens: main, function, invocation, help and the prompts."""
