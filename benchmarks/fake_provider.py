"""Serve the fake OpenAI API from the test suite in its own process, for load benchmarks.

Usage: python -m benchmarks.fake_provider --port 9100 --delay-s 0.2

Every chat completion waits `--delay-s` before its first byte and then streams `ANSWER` word by word.
Embeddings are deterministic hashed vectors of 384 dimensions.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from tests.fakes.openai_server import FakeOpenAI, Reply

# A support answer of 58 words, so each streamed reply has about as many SSE chunks as a real one.
ANSWER = (
    "Refunds are issued within 14 days of the return reaching our warehouse, and the money goes back "
    "to the card you paid with. Standard shipping takes 3 to 5 business days and express shipping "
    "takes one day. If the kettle stops heating within two years, the warranty covers a replacement "
    "heating element at no cost to you [1]."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1.")
    parser.add_argument(
        "--delay-s", type=float, default=0.2, help="Seconds every chat reply waits before its first byte."
    )
    args = parser.parse_args()

    fake = FakeOpenAI(default=Reply(content=ANSWER), fixed_delay_s=args.delay_s)
    # The fake appends every request body to a list; drop them so a long run does not grow memory.
    fake.requests = _DiscardingList()
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


class _DiscardingList(list[dict[str, Any]]):
    def append(self, item: dict[str, Any]) -> None:
        pass


if __name__ == "__main__":
    main()
