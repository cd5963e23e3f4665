import subprocess,sys,re,collections
def samples(f):
  out=subprocess.run(["perf","script","-i",f,"-F","comm,tid,ip,sym"],capture_output=True,text=True).stdout
  cur=[];hdr=None
  for line in out.splitlines():
    if not line.strip():
      if hdr is not None: yield hdr,cur
      hdr=None;cur=[];continue
    if hdr is None: hdr=line; continue
    p=line.strip().split(None,1)
    cur.append(p[1] if len(p)>1 else p[0])
  if hdr is not None: yield hdr,cur
def classify(st):
  s=" ".join(st)
  leaf=st[0] if st else ""
  if "runtime.sysmon" in s: return "Go sysmon thread (usleep/retake)"
  k=[x for x in st]
  if "__do_sys_io_uring_enter" in s or "io_uring" in s and "sysEnter" in s:
    if "io_cqring_wait" in s and ("__schedule" in s or "finish_task_switch" in s) and "io_run_task_work" not in s and "tctx_task_work" not in s and "io_run_local_work" not in s: return "io_uring_enter: sleeping/ctx switch"
    if any(x in s for x in ["io_send","io_sendmsg","tcp_sendmsg","sock_sendmsg"]) : return "io_uring_enter: send (TCP tx+loopback rx)"
    if any(x in s for x in ["io_recv","tcp_recvmsg","sock_recvmsg"]): return "io_uring_enter: recv"
    if "io_submit_sqes" in s: return "io_uring_enter: submit other"
    return "io_uring_enter: other (poll/task work/CQ)"
  if "io_uring_register" in s or "sysRegister" in s: return "io_uring_register (MSG_RING wake)"
  if "ksys_writev" in s or "do_writev" in s or "ksys_write" in s or "__x64_sys_write" in s or "vfs_writev" in s: return "write/writev syscall"
  if "ksys_read" in s or "__x64_sys_read" in s: return "read syscall"
  if "epoll_wait" in s: return "epoll_wait syscall"
  if "runtime.futex" in s: return "Go futex (thread park/wake)"
  if "net_rx_action" in s or "handle_softirqs" in s or "asm_sysvec" in s or "irq" in leaf: return "softirq/irq (other)"
  if leaf.startswith("runtime.") or "runtime.schedule" in s or "runtime.mcall" in s:
    if any(x in s for x in ["runtime.schedule","runtime.findRunnable","runtime.park_m","runtime.mcall","stoplockedm","startlockedm","runtime.exitsyscall","runtime.entersyscall","runtime.gopark","runtime.goready","runtime.ready","runtime.runqget","runtime.wakep","runtime.lock2","runtime.unlock2","runtime.selectgo","runtime.chansend","runtime.chanrecv"]): return "Go scheduler/chan/locks (user)"
    if "mallocgc" in s or "gcBgMarkWorker" in s or "gcDrain" in s or "scanobject" in s: return "Go alloc/GC"
    if "memmove" in leaf: return "memmove"
    return "Go runtime other"
  if "memmove" in leaf: return "memmove"
  if "gnet" in s and ("gnet" in leaf): return "gnet user code"
  if "sluice/internal/uring" in leaf or "engine.(*u" in leaf: return "uring engine/binding user code"
  if "engine.(*r" in leaf or "engine.(*reactor" in leaf: return "reactor engine user code"
  if "sluice" in leaf or "main." in leaf: return "sluice HTTP codec/handler/dispatch"
  if "clock_gettime" in leaf or "vdso" in leaf: return "clock (vdso)"
  if "[k]" in leaf or leaf.startswith(("__","entry","do_","finish_task","schedule","exit_to")): return "kernel other"
  return "other: "+leaf[:40]
for f in sys.argv[1:]:
  c=collections.Counter(); n=0
  for hdr,st in samples(f):
    st=[re.sub(r'\+0x[0-9a-f]+$','',x) for x in st]
    c[classify(st)]+=1; n+=1
  print(f"== {f} samples={n}")
  for k,v in c.most_common(25): print(f"  {100*v/n:5.1f}%  {k}")
