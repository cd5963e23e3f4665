package engine

// wheelSlots is the number of slots of a timer wheel. With the default
// 100 ms tick one turn is 102 s, longer than every default timeout, so a
// deadline is usually looked at once, when it is due.
const wheelSlots = 1024

// timer is a connection's deadline, linked into its loop's wheel. It is
// embedded in the connection: arming it allocates nothing. Loop-owned.
type timer struct {
	prev, next *timer
	deadline   int64      // tick at which it fires; 0 when disarmed
	slotTick   int64      // tick whose slot it is linked in; 0 when unlinked
	owner      timerOwner // told when the timer fires
}

// timerOwner is what a timer belongs to: the connection embedding it. An
// interface holding a pointer, not a func value, so arming a connection's
// timer allocates nothing, not even once.
type timerOwner interface{ onTimer() }

// wheel is a hashed timer wheel: slot t%wheelSlots holds the timers due at
// tick t (or, lazily, later). Loop-owned: one per loop, touched only there.
type wheel struct {
	slots [wheelSlots]timer // list heads (sentinels)
	tick  int64             // the last tick processed
}

func (w *wheel) init() {
	for i := range w.slots {
		w.slots[i].prev, w.slots[i].next = &w.slots[i], &w.slots[i]
	}
}

// set arms t to fire at tick deadline (> w.tick), or disarms it when
// deadline is 0. Pushing a deadline later only records it: the timer is
// moved when its old slot comes round, so the common case (every request
// extends the deadline) costs one store.
func (w *wheel) set(t *timer, deadline int64) {
	if deadline != 0 && deadline <= w.tick {
		deadline = w.tick + 1
	}
	t.deadline = deadline
	if deadline == 0 {
		w.unlink(t)
		return
	}
	if t.slotTick != 0 && deadline >= t.slotTick {
		return
	}
	w.unlink(t)
	w.link(t, deadline)
}

func (w *wheel) link(t *timer, at int64) {
	head := &w.slots[at%wheelSlots]
	t.slotTick = at
	t.prev, t.next = head.prev, head
	head.prev.next = t
	head.prev = t
}

func (w *wheel) unlink(t *timer) {
	if t.slotTick == 0 {
		return
	}
	t.prev.next = t.next
	t.next.prev = t.prev
	t.prev, t.next, t.slotTick = nil, nil, 0
}

// advance processes every tick up to now, firing the timers that are due.
// A fired timer is disarmed before its function runs, which may re-arm it.
func (w *wheel) advance(now int64) {
	for w.tick < now {
		w.tick++
		head := &w.slots[w.tick%wheelSlots]
		// Detach the slot's list first: fire functions may link timers
		// into this very slot again.
		first, last := head.next, head.prev
		if first == head {
			continue
		}
		head.prev, head.next = head, head
		first.prev, last.next = nil, nil
		for t := first; t != nil; {
			next := t.next
			t.prev, t.next, t.slotTick = nil, nil, 0
			switch {
			case t.deadline == 0:
			case t.deadline <= w.tick:
				t.deadline = 0
				t.owner.onTimer()
			default:
				w.link(t, t.deadline)
			}
			t = next
		}
	}
}
