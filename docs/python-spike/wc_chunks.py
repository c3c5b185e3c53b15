import sys
r = sys.stdin.buffer
n = 0
prev_word = False
while True:
    b = r.read(1 << 20)
    if not b:
        break
    n += len(b.split())
    if prev_word and not b[:1].isspace():
        n -= 1  # a word cut by the chunk boundary was counted twice
    prev_word = not b[-1:].isspace()
print(n)
