// Command alternate times commands in turn, round after round, and prints
// each one's median, quartiles and fastest wall time, its median CPU time
// (user and system, of the command and its children), and the median over
// the rounds of its wall time divided by the first command's in the same
// round. Timed in alternation, commands see the same drift of a machine
// whose speed changes from one second to the next (a virtual machine
// sharing its host), which timing all runs of one command, then all of the
// next, does not give them; the ratio of each round pairs runs a fraction
// of a second apart, and moves less with the drift than the medians do.
//
//	go run ./internal/cmd/alternate [-warmup N] [-pause D] ROUNDS COMMAND...
//
// Each COMMAND is one argument, split at spaces into the program and its
// arguments (no shell: no quoting, no redirection); its output is
// discarded. A command that fails stops the run.
//
// With -pause, the machine idles that long before every run, untimed: a
// command run after a pause, as a developer or a CI job runs it, may find
// the memory it takes colder than one run right after another (in a
// virtual machine whose host takes free memory back), and a pause before
// each run of every command compares them in that state.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	warmup := flag.Int("warmup", 3, "untimed rounds before the timed ones")
	pause := flag.Duration("pause", 0, "how long to idle before each run, untimed (e.g. 3s)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: alternate [-warmup N] [-pause D] ROUNDS COMMAND...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	rounds, err := strconv.Atoi(flag.Arg(0))
	if err != nil || rounds < 1 {
		fmt.Fprintf(os.Stderr, "alternate: ROUNDS must be a positive number, not %q\n", flag.Arg(0))
		os.Exit(2)
	}
	cmds := flag.Args()[1:]
	times := make([][]time.Duration, len(cmds))
	cpus := make([][]time.Duration, len(cmds))
	ratios := make([][]float64, len(cmds))
	for r := -*warmup; r < rounds; r++ {
		var first time.Duration
		for i, c := range cmds {
			time.Sleep(*pause)
			d, cpu, err := run(c)
			if err != nil {
				fmt.Fprintf(os.Stderr, "alternate: %s: %v\n", c, err)
				os.Exit(1)
			}
			if i == 0 {
				first = d
			}
			if r >= 0 {
				times[i] = append(times[i], d)
				cpus[i] = append(cpus[i], cpu)
				ratios[i] = append(ratios[i], float64(d)/float64(first))
			}
		}
	}
	for i, c := range cmds {
		s := summarize(times[i])
		fmt.Printf("median %8.2f ms  q1 %8.2f  q3 %8.2f  min %8.2f  cpu %8.2f  x%.3f  %s\n",
			ms(s.median), ms(s.q1), ms(s.q3), ms(s.min), ms(summarize(cpus[i]).median), medianRatio(ratios[i]), c)
	}
}

// run runs command c once and returns its wall time and CPU time.
func run(c string) (wall, cpu time.Duration, err error) {
	f := strings.Fields(c)
	cmd := exec.Command(f[0], f[1:]...)
	start := time.Now()
	err = cmd.Run() // Stdout and Stderr nil: the null device
	wall = time.Since(start)
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return wall, cpu, err
}

// medianRatio returns the median of rs (nearest rank).
func medianRatio(rs []float64) float64 {
	s := slices.Clone(rs)
	slices.Sort(s)
	return s[int(0.5*float64(len(s)-1)+0.5)]
}

// stats are the order statistics alternate prints.
type stats struct{ min, q1, median, q3 time.Duration }

// summarize returns the order statistics of ts (nearest rank).
func summarize(ts []time.Duration) stats {
	s := slices.Clone(ts)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[int(p*float64(len(s)-1)+0.5)] }
	return stats{min: s[0], q1: at(0.25), median: at(0.5), q3: at(0.75)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
