import re,sys,statistics as st
rows={}
for f in sys.argv[1:]:
  for line in open(f):
    m=re.search(r'(reactor|uring) inline=(\d) (\w+) rps=([\d.]+) reqs=\d+ cpu_s=([\d.]+) req_per_cpu_s=(\d+)',line)
    if not m: continue
    mod,inl,sc,rps,cpu,eff=m.groups()
    rows.setdefault((sc,inl,mod),[]).append((float(rps),float(eff),float(cpu)))
print("| scenario | dispatch | model | n | median req/s | median req/server-CPU-s | median server CPU-s per 10 s run | all req/CPU-s |")
print("|---|---|---|---|---|---|---|---|")
for sc in ['plaintext','pipelined']:
  for inl in ['0','1']:
    r={}
    for mod in ['reactor','uring']:
      v=rows.get((sc,inl,mod),[])
      if not v: continue
      r[mod]=(st.median([x[0] for x in v]),st.median([x[1] for x in v]))
      print(f"| {sc} | {'inline' if inl=='1' else 'pool'} | {mod} | {len(v)} | {r[mod][0]:,.0f} | {r[mod][1]:,.0f} | {st.median([x[2] for x in v]):.2f} | {', '.join(f'{x[1]/1000:.0f}k' for x in v)} |")
    if len(r)==2:
      a=rows[(sc,inl,'reactor')]; b=rows[(sc,inl,'uring')]
      pr=[y[1]/x[1] for x,y in zip(a,b)]
      print(f"| {sc} | {'inline' if inl=='1' else 'pool'} | paired per-round uring/reactor req/CPU-s | {len(pr)} | | median **{st.median(pr):.2f}** | | {', '.join(f'{p:.2f}' for p in pr)} |")
      print(f"| {sc} | {'inline' if inl=='1' else 'pool'} | **uring/reactor** | | **{r['uring'][0]/r['reactor'][0]:.2f}** | **{r['uring'][1]/r['reactor'][1]:.2f}** | | |")
