import sys
n = 0
for line in sys.stdin.buffer:
    n += len(line.split())
print(n)
