"""The end-to-end demo (``make run``): everything on this machine, no wallet, no API key, no internet."""
