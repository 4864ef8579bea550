"""Command-line verdicts: each module checks one theorem family against simulation."""
