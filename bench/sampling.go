package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file measures what the stage timing costs: a sluice target started
// with -stage-sampling -1 (timing off) is the reference of every sluice
// target with the same other flags, and the tables give, round by round,
// their req/CPU-s over its. The goal: the default sampling (1 in
// 100) costs at most 3% of pipelined throughput.

// maxTimingCost is the share of req/CPU-s the default stage sampling may
// cost in the pipelined scenario (the issue: "≤ 3% of pipelined
// throughput").
const maxTimingCost = 0.03

// stageSampling returns the -stage-sampling a sluice target is started
// with (0 when absent: the server's default, 1 in 100) and its other
// flags.
func stageSampling(t target) (int, []string) {
	n := 0
	var rest []string
	for i := 0; i < len(t.Flags); i++ {
		f := t.Flags[i]
		name, v, hasV := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if !strings.HasPrefix(f, "-") || name != "stage-sampling" {
			rest = append(rest, f)
			continue
		}
		if !hasV && i+1 < len(t.Flags) {
			i++
			v = t.Flags[i]
		}
		n, _ = strconv.Atoi(v)
	}
	return n, rest
}

// timingOff returns the target among ts that runs t's server with stage
// timing off: a sluice target with -stage-sampling -1 and otherwise t's
// flags. t itself must time (sampling not negative).
func timingOff(t target, ts []target) (target, bool) {
	if t.Kind != kindSluice {
		return target{}, false
	}
	n, base := stageSampling(t)
	if n < 0 {
		return target{}, false
	}
	for _, o := range ts {
		if o.Kind != kindSluice {
			continue
		}
		if m, ob := stageSampling(o); m < 0 && slices.Equal(ob, base) {
			return o, true
		}
	}
	return target{}, false
}

// defaultTimingWithOff reports whether t runs the default sampling and ts
// has its timing-off twin: the targets the sampling goal judges.
func defaultTimingWithOff(t target, ts []target) bool {
	n, _ := stageSampling(t)
	_, ok := timingOff(t, ts)
	return n == 0 && ok
}

// minQuietRounds is how many rounds with a quiet machine the sampling
// goal needs: a single pair of runs on this kind of machine differs by a
// few percent, as much as the cost it is to show.
const minQuietRounds = 3

// samplingGoal: the default stage sampling costs at most maxTimingCost of
// req/CPU-s against the same server with timing off, round by round. Only
// the rounds in which neither run was flagged busy count: other
// processes' load moves these ratios by far more than 3%. With fewer than
// minQuietRounds of them there is no verdict.
func samplingGoal(s summary, all map[string]summary) (bool, bool, string) {
	off, ok := usable(all, s.TimingOff)
	if s.OK == 0 || !ok || s.TimingCPUEff.N == 0 {
		return false, false, "needs the same server with -stage-sampling -1 in the same rounds"
	}
	f3 := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	all3 := fmt.Sprintf("all %d round(s): req/CPU-s ratio %s, req/s ratio %s", s.TimingCPUEff.N, fmtStat(s.TimingCPUEff, f3), fmtStat(s.TimingRPS, f3))
	q := s.TimingCPUEffQuiet
	if q.N < minQuietRounds {
		return false, false, fmt.Sprintf("%d round(s) on a quiet machine, %d needed (busy rounds move these ratios by more than %.0f%%); %s",
			q.N, minQuietRounds, 100*maxTimingCost, all3)
	}
	return q.Median >= 1-maxTimingCost, true, fmt.Sprintf("req/CPU-s over %s's in the %d quiet round(s): ratio %s, cost %s; %s",
		off.Target, q.N, fmtStat(q, f3), costStr(q.Median), all3)
}

// costStr prints 1 − ratio as a percentage; negative: the timed server
// did better, which is noise.
func costStr(ratio float64) string {
	return fmt.Sprintf("%+.1f%%", 100*(1-ratio))
}

// writeTimingCost lists each timed sluice target's req/CPU-s over its
// timing-off twin's, when the scenario ran both.
func writeTimingCost(b *strings.Builder, rows []summary) {
	var lines []string
	for _, s := range rows {
		if s.TimingOff == "" || s.TimingCPUEff.N == 0 {
			continue
		}
		sampling := "default sampling"
		if s.Stages != nil {
			sampling = samplingText(s.Stages.SampleEvery)
		}
		f3 := func(v float64) string { return fmt.Sprintf("%.3f", v) }
		line := fmt.Sprintf("- %s (timing %s) vs %s: req/CPU-s ratio %s, cost %s; req/s ratio %s",
			s.Target, sampling, s.TimingOff, fmtStat(s.TimingCPUEff, f3), costStr(s.TimingCPUEff.Median), fmtStat(s.TimingRPS, f3))
		if q := s.TimingCPUEffQuiet; q.N < s.TimingCPUEff.N {
			if q.N == 0 {
				line += "; no round on a quiet machine"
			} else {
				line += fmt.Sprintf("; the %d quiet round(s) only: req/CPU-s ratio %s, cost %s", q.N, fmtStat(q, f3), costStr(q.Median))
			}
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\nCost of the stage timing: req/CPU-s (and req/s) over the same server's with timing off (-stage-sampling -1), taken round by round; median (min–max); cost = 1 − ratio.\n\n")
	b.WriteString(strings.Join(lines, "\n") + "\n")
}
