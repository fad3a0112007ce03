package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTimes is the CPU time this process and the machine's Postgres processes used over a phase, and the load
// average at its end. On a system without /proc the Postgres figure and the load are zero.
type cpuTimes struct {
	wall     time.Duration
	self     time.Duration
	postgres time.Duration
	load     string // /proc/loadavg's 1, 5 and 15 minute averages at the end
}

func (c cpuTimes) String() string {
	s := fmt.Sprintf("CPU over %.1f s: this process %.1f s, postgres %.1f s", c.wall.Seconds(), c.self.Seconds(),
		c.postgres.Seconds())
	if c.load != "" {
		s += "; load average " + c.load
	}
	return s
}

// cpuMeter measures cpuTimes from its start.
type cpuMeter struct {
	start    time.Time
	self     time.Duration
	postgres map[string]time.Duration // by PID
}

// startCPU starts measuring.
func startCPU() *cpuMeter {
	return &cpuMeter{start: time.Now(), self: selfCPU(), postgres: postgresCPU()}
}

// stop returns the times since startCPU. A Postgres process counts what it used since the start, or since it
// began when it is newer; one that exited in between is not counted.
func (m *cpuMeter) stop() cpuTimes {
	var pg time.Duration
	for pid, t := range postgresCPU() {
		pg += t - m.postgres[pid]
	}
	return cpuTimes{wall: time.Since(m.start), self: selfCPU() - m.self, postgres: pg, load: loadAverage()}
}

// selfCPU is the user and system time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// postgresCPU is the user and system time so far of each process named postgres (the server and its
// backends), by PID.
func postgresCPU() map[string]time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	out := map[string]time.Duration{}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if t, ok := procCPU(string(b), "postgres"); ok {
			out[filepath.Base(filepath.Dir(f))] = t
		}
	}
	return out
}

// procCPU returns utime+stime of a /proc/PID/stat line when the process's name is comm.
func procCPU(stat, comm string) (time.Duration, bool) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open || stat[open+1:end] != comm {
		return 0, false
	}
	// After the name: state (field 3) … utime (14), stime (15).
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

// loadAverage is the machine's load average (1, 5, 15 minutes) as /proc/loadavg has it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
