// Package pgcpu measures, while a process runs, the CPU time of the
// PostgreSQL backends serving its connections and the process's peak
// resident set, for the benchmark programs (integration/benchtime,
// integration/benchrep).
//
// Every 20 ms a Sampler lists the process's TCP sockets (/proc/PID/fd and
// /proc/net/tcp{,6}) whose remote port is the server's, and asks
// pg_stat_activity for the backends whose client_port is one of them (or,
// given an application name, whose application_name is that: the way to
// find the backends of Unix-socket connections, which have no port). It
// reads each backend's utime+stime from /proc/BACKEND/stat and the
// process's VmHWM from /proc/PID/status at the same pace, and keeps the
// last readings. A backend's CPU is its whole life, connection set-up
// included; at most one interval of it (the close) can be missed. The
// server must run on this machine, and its /proc/PID/stat be readable (it
// is, for any user, on a default Linux).
package pgcpu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	every = 20 * time.Millisecond
	// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
	// 100 on every Linux architecture Go supports.
	clockTicks = 100
)

// Querier is what the Sampler asks pg_stat_activity through: a *pgx.Conn
// or a *pgxpool.Pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Result is what a Sampler measured.
type Result struct {
	BackendCPU time.Duration // utime+stime of every backend found, summed
	Backends   int           // how many backends were found
	PeakRSSKiB int64         // the process's VmHWM, last read (0: never read)
	Err        error         // the first failed query: the figures may be short
}

// Sampler samples one process; Start it, Stop it once the process exited.
type Sampler struct {
	q          Querier
	app        string
	serverPort uint16
	pid        int
	stop       chan struct{}
	wg         sync.WaitGroup

	// owned by the loop
	inodes map[string]bool // the process's socket inodes last seen
	ports  map[uint16]bool // its ports to the server
	mapped map[uint16]bool // those found in pg_stat_activity

	mu  sync.Mutex
	hwm int64
	cpu map[int]int64 // backend pid → last utime+stime, in clock ticks
	err error
}

// Start samples process pid's backends on the server listening on
// serverPort (see ServerPort); app, if not empty, also finds backends by
// application_name. It stops when ctx ends or Stop is called.
func Start(ctx context.Context, q Querier, serverPort uint16, pid int, app string) *Sampler {
	s := &Sampler{q: q, app: app, serverPort: serverPort, pid: pid, stop: make(chan struct{}),
		ports: map[uint16]bool{}, mapped: map[uint16]bool{}, cpu: map[int]int64{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(ctx)
	}()
	return s
}

// Stop takes a last reading (the backends may outlive the client for a
// moment) and returns the figures.
func (s *Sampler) Stop() Result {
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ticks int64
	for _, t := range s.cpu {
		ticks += t
	}
	return Result{
		BackendCPU: time.Duration(ticks) * (time.Second / clockTicks),
		Backends:   len(s.cpu),
		PeakRSSKiB: s.hwm,
		Err:        s.err,
	}
}

func (s *Sampler) loop(ctx context.Context) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; n++ {
		s.discover(ctx, n)
		s.read()
		select {
		case <-s.stop:
			s.read()
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// discover asks pg_stat_activity for the backends of the process's
// sockets not yet matched (and, every 10th round, for the app's).
func (s *Sampler) discover(ctx context.Context, round int) {
	s.scanSockets(round%10 == 0)
	var ports []int32
	for p := range s.ports {
		if !s.mapped[p] {
			ports = append(ports, int32(p))
		}
	}
	byApp := s.app != "" && round%10 == 0
	if len(ports) == 0 && !byApp {
		return
	}
	rows, err := s.q.Query(ctx, `SELECT pid, coalesce(client_port, -1) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND (client_port = ANY($1) OR ($2 <> '' AND application_name = $2))`, ports, s.app)
	if err != nil {
		s.noteErr(err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var pid, port int32
		if err := rows.Scan(&pid, &port); err != nil {
			s.noteErr(err)
			return
		}
		if port > 0 && slices.Contains(ports, port) {
			s.mapped[uint16(port)] = true
		}
		s.mu.Lock()
		if _, ok := s.cpu[int(pid)]; !ok {
			s.cpu[int(pid)] = 0
		}
		s.mu.Unlock()
	}
	if err := rows.Err(); err != nil {
		s.noteErr(err)
	}
}

func (s *Sampler) noteErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !errors.Is(err, context.Canceled) {
		s.err = err
	}
}

// read takes the process's VmHWM and each backend's CPU time.
func (s *Sampler) read() {
	hwm := VmHWM(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hwm = max(s.hwm, hwm)
	for pid := range s.cpu {
		if t, err := procCPU(pid); err == nil {
			s.cpu[pid] = max(s.cpu[pid], t)
		}
	}
}

// scanSockets sets s.ports to the local ports of the process's TCP sockets
// connected to the server. The socket tables are read when the process has
// a socket not seen before, or when always is set (a socket seen before it
// connected).
func (s *Sampler) scanSockets(always bool) {
	dir := "/proc/" + strconv.Itoa(s.pid) + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	inodes := make(map[string]bool, len(fds))
	changed := always
	for _, fd := range fds {
		l, err := os.Readlink(dir + fd.Name())
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			ino = strings.TrimSuffix(ino, "]")
			inodes[ino] = true
			changed = changed || !s.inodes[ino]
		}
	}
	s.inodes = inodes
	if !changed {
		return
	}
	// The ports of closed connections go: a port that never showed in
	// pg_stat_activity is asked for no longer.
	s.ports = map[uint16]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, p := range socketPorts(table, inodes, s.serverPort) {
			s.ports[p] = true
		}
	}
}

// socketPorts scans a /proc/net/tcp table for the sockets in inodes whose
// remote port is remotePort and returns their local ports.
func socketPorts(table string, inodes map[string]bool, remotePort uint16) []uint16 {
	f, err := os.Open(table)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ports []uint16
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 || !inodes[fl[9]] {
			continue
		}
		local, remote := hexPort(fl[1]), hexPort(fl[2])
		if local > 0 && remote == int(remotePort) {
			ports = append(ports, uint16(local))
		}
	}
	return ports
}

// hexPort is the port of "0100007F:D431".
func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(p)
}

// procCPU is utime+stime of pid, in clock ticks.
func procCPU(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it start past the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return u + st, nil
}

// VmHWM is pid's peak resident set so far (VmHWM in /proc/PID/status), in
// KiB, or 0 when it cannot be read (the process is gone).
func VmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// MachineCPU returns the idle (idle+iowait) and total clock ticks of all
// CPUs from /proc/stat's first line, or zeros.
func MachineCPU() (idle, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	// user nice system idle iowait irq softirq steal (guest time is
	// already counted in user and nice).
	for i := 1; i <= 8; i++ {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, 0
		}
		total += n
		if i == 4 || i == 5 {
			idle += n
		}
	}
	return idle, total
}

// ServerPort is the TCP port a PostgreSQL URL connects to (the first host's).
func ServerPort(url string) (uint16, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return 0, fmt.Errorf("parse the PostgreSQL URL: %w", err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		return 0, fmt.Errorf("the PostgreSQL URL names a Unix socket (%s): backends are matched by client port, connect over TCP", cfg.Host)
	}
	return cfg.Port, nil
}
