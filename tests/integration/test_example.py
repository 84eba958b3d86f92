"""The README's runnable example keeps running."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "exchange_one_document.py"


def test_the_client_example_exchanges_a_document(amqp_url: str) -> None:
    done = subprocess.run(  # noqa: S603 - the project's own example, fixed arguments
        [sys.executable, str(EXAMPLE), amqp_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sent ")
    assert lines[0].endswith("confirmed by the broker")
    assert lines[1].startswith("000.00.00.H29 received 125/BNV-CCHC")
    assert lines[2:] == [
        "receipt 01 (ARRIVED) from 000.00.00.H29",
        "receipt 03 (ACCEPTED) from 000.00.00.H29",
    ]
