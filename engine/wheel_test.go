package engine

import (
	"math/rand/v2"
	"testing"
)

func TestWheelFiresOnTime(t *testing.T) {
	var w wheel
	w.init()
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 2000
	timers := make([]timer, n)
	fired := make([]int64, n)
	want := make([]int64, n)
	for i := range timers {
		i := i
		timers[i].owner = fireFunc(func() { fired[i] = w.tick })
		// Spread over several turns of the wheel.
		want[i] = 1 + rng.Int64N(3*wheelSlots)
		w.set(&timers[i], want[i])
	}
	// Move some later (lazy path), some earlier (relink), disarm some.
	for i := 0; i < n; i += 3 {
		want[i] += 1 + rng.Int64N(wheelSlots)
		w.set(&timers[i], want[i])
	}
	for i := 1; i < n; i += 7 {
		want[i] = 1 + rng.Int64N(want[i])
		w.set(&timers[i], want[i])
	}
	for i := 2; i < n; i += 11 {
		want[i] = 0
		w.set(&timers[i], 0)
	}
	for tick := int64(1); tick <= 5*wheelSlots; tick += 1 + rng.Int64N(5) {
		w.advance(tick)
	}
	w.advance(5 * wheelSlots)
	for i := range timers {
		switch {
		case want[i] == 0 && fired[i] != 0:
			t.Errorf("timer %d disarmed but fired at %d", i, fired[i])
		case want[i] != 0 && fired[i] < want[i]:
			t.Errorf("timer %d due at %d fired early at %d", i, want[i], fired[i])
		case want[i] != 0 && fired[i] > want[i]+5:
			t.Errorf("timer %d due at %d fired late at %d", i, want[i], fired[i])
		}
	}
}

func TestWheelRearmFromFire(t *testing.T) {
	var w wheel
	w.init()
	var tm timer
	count := 0
	tm.owner = fireFunc(func() {
		count++
		if count < 3 {
			w.set(&tm, w.tick+wheelSlots) // the same slot, one turn later
		}
	})
	w.set(&tm, 5)
	w.advance(5 + 3*wheelSlots)
	if count != 3 {
		t.Fatalf("fired %d times, want 3", count)
	}
}

type fireFunc func()

func (f fireFunc) onTimer() { f() }
