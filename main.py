"""Runs the connector exactly as the `source-avidtrak` console script does."""

from source_avidtrak.run import run

if __name__ == "__main__":
    run()
