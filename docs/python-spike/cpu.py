import time
t=time.perf_counter()
s=0
for i in range(2_000_000):
    s += i*i % 7
d={}
for w in (b"alpha be gamma delta e zeta theta iota kappa lambda "*20000).split():
    d[w]=d.get(w,0)+1
print(round((time.perf_counter()-t)*1000))
