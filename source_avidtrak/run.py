"""Console entry point: `source-avidtrak spec|check|discover|read`, the CDK's own `launch`.

One addition, for a reader that goes away: when stdout closes early (`read ... | head`, a
destination or PyAirbyte writer that died), nothing the sync does can be delivered any
more, and the CDK's worker threads would block forever on the full record queue. The
process says so on stderr and ends at once with EXIT_OUTPUT_CLOSED, without running
those threads to completion or sending another request. No STATE after the last one the
reader received was delivered, so the next sync resumes from there.
"""

import os
import sys

from airbyte_cdk.entrypoint import launch

from source_avidtrak.source import SourceAvidtrak

EXIT_OUTPUT_CLOSED = 141  # 128 + SIGPIPE, as a shell reports a process killed by a closed pipe
OUTPUT_CLOSED_MESSAGE = (
    "source-avidtrak: stdout was closed by its reader (did the destination stop?); "
    "stopping now. The next sync resumes from the last STATE message the reader received.\n"
)


def run() -> None:
    try:
        launch(SourceAvidtrak(), sys.argv[1:])
    except BrokenPipeError:
        os.write(2, OUTPUT_CLOSED_MESSAGE.encode())
        # os._exit, not sys.exit: interpreter shutdown would join the CDK's worker threads,
        # which wait on a queue nobody reads any more, and flush stdout into the closed pipe.
        os._exit(EXIT_OUTPUT_CLOSED)
