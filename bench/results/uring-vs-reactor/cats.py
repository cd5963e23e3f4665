import subprocess,re,sys
# reqs during the 8 s profile window ~= rps*8 (rps from the profiled run)
rps={}
for line in open('runs/profs.txt'):
  m=re.search(r'^(reactor|uring) inline=(\d) (\w+) rps=([\d.]+)',line)
  if m: rps[f"{m[1]}-i{m[2]}-{m[3]}"]=float(m[4])
cats=[
 ("ALL samples", r"^TOTAL$"),
 ("syscalls (all)", r"^syscall\.RawSyscall6$"),
 ("  reactor: writev (gnet conn.writev)", r"^github.com/panjf2000/gnet/v2/pkg/io.Writev$"),
 ("  reactor: write (gnet conn.write)", r"^github.com/panjf2000/gnet/v2/pkg/io.Write$|^golang.org/x/sys/unix.write$"),
 ("  reactor: read", r"^golang.org/x/sys/unix.read$"),
 ("  reactor: epoll_wait", r"^golang.org/x/sys/unix.EpollWait$"),
 ("  reactor: eventfd wake (Poller.Trigger)", r"^github.com/panjf2000/gnet/v2/pkg/netpoll.\(\*Poller\).Trigger$"),
 ("  uring: io_uring_enter (sysEnter)", r"^github.com/sluice-go/sluice/internal/uring.sysEnter$"),
 ("  uring: MSG_RING wake (sysRegister)", r"^github.com/sluice-go/sluice/internal/uring.sysRegister$"),
 ("uring: Reap (CQE copy-out)", r"^github.com/sluice-go/sluice/internal/uring.\(\*Ring\).Reap$"),
 ("uring: onRecv (CQE->OnData)", r"^github.com/sluice-go/sluice/engine.\(\*uloop\).onRecv$"),
 ("uring: flush+startSend (SQE prep)", r"^github.com/sluice-go/sluice/engine.\(\*uloop\).flush$"),
 ("uring: runTasks (worker->loop hand-off)", r"^github.com/sluice-go/sluice/engine.\(\*uloop\).runTasks$"),
 ("reactor: gnet asyncWritev task", r"^github.com/panjf2000/gnet/v2.\(\*conn\).asyncWritev$"),
 ("sluice onData (codec+dispatch / inline handler)", r"^github.com/sluice-go/sluice.\(\*Server\).onData$"),
 ("http1 Parser.Parse", r"^github.com/sluice-go/sluice/codec/http1.\(\*Parser\).Parse$"),
 ("pool worker (workPool.work)", r"^github.com/sluice-go/sluice.\(\*workPool\).work$"),
 ("Ctx.finish (encode response)", r"^github.com/sluice-go/sluice.\(\*Ctx\).finish$"),
 ("runtime.memmove (flat)", r"FLAT:^runtime.memmove$"),
 ("runtime.mallocgc", r"^runtime.mallocgc$"),
 ("runtime.schedule (scheduler)", r"^runtime.schedule$"),
 ("runtime.findRunnable", r"^runtime.findRunnable$"),
 ("runtime.futex (flat)", r"FLAT:^runtime.futex$"),
 ("GC (gcBgMarkWorker)", r"^runtime.gcBgMarkWorker$"),
]
files=sys.argv[1:]
data={}
for f in files:
  out=subprocess.run(["go","tool","pprof","-top","-cum","-nodecount=2000","/tmp/uringprof/hello",f"prof/{f}.pprof"],capture_output=True,text=True).stdout
  d={}
  for line in out.splitlines():
    m=re.match(r'\s*([\d.]+)(m?s|)\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)(m?s|)\s+[\d.]+%\s+(.*)$',line)
    if m:
      fl=float(m[1])/(1000 if m[2]=='ms' else 1); cu=float(m[3])/(1000 if m[4]=='ms' else 1)
      name=m[5].replace(' (inline)','')
      d[name]=(fl,cu)
    m=re.search(r'Total samples = ([\d.]+)(m?s)',line)
    if m: d['TOTAL']=(0,float(m[1])/(1000 if m[2]=='ms' else 1))
  data[f]=d
print("| category | "+" | ".join(files)+" |")
print("|---|"+"---|"*len(files))
for label,pat in cats:
  flat=pat.startswith("FLAT:"); pat=pat[5:] if flat else pat
  cells=[]
  for f in files:
    d=data[f]; tot=d['TOTAL'][1]
    v=sum((x[0] if flat else x[1]) for n,x in d.items() if re.search(pat,n))
    reqs=rps[f]*8
    cells.append(f"{100*v/tot:.1f}% · {1e6*v/reqs:.2f}µs" if v else "–")
  print(f"| {label} | "+" | ".join(cells)+" |")
