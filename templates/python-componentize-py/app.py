"""__NAME__ — a typed Tutti task in Python (world tutti:task/task, wit/task.wit), built with componentize-py.
NOT BUILT IN CI: componentize-py is not reachable there.

run: counts the words that start inside its slices (the byte before a slice, read through
host.read's random access, tells whether a word began earlier), and writes the count and "\\n" to
the output asset "words".
"""
import wit_world
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import Level, Partition, AssetInfo, Param, TaskError_Permanent, TaskError_Retryable
from wit_world.types import Err

CHUNK = 64 * 1024
SPACE = b" \t\n\v\f\r"


class WitWorld(wit_world.WitWorld):
    def run(self, partition: Partition, inputs: list[AssetInfo], params: list[Param]) -> None:
        words = 0
        for s in partition.slices:
            try:
                in_word = s.offset > 0 and host.read(s.input, s.offset - 1, 1)[:1] not in (b"", *[bytes([c]) for c in SPACE])
                pos, end = s.offset, s.offset + s.length
                while pos < end:
                    data = host.read(s.input, pos, min(CHUNK, end - pos))
                    if not data:
                        break
                    for b in data:
                        space = b in SPACE
                        if not space and not in_word:
                            words += 1
                        in_word = not space
                    pos += len(data)
            except Err as e:
                raise Err(TaskError_Retryable(f"__NAME__: reading input {s.input}: {e.value}"))
        try:
            host.write("words", f"{words}\n".encode())
        except Err as e:
            raise Err(TaskError_Permanent(f"__NAME__: writing words: {e.value}"))
        host.log(Level.INFO, f"partition {partition.index}: {words} words")
