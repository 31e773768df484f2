// Command benchtime runs a command and reports what it cost: wall time,
// the command's CPU time (user and system) and peak resident set, and the
// CPU time of the PostgreSQL backends serving its connections. With the
// client and the server on one machine, that shows whether the wall time
// is close to the larger of the two CPU times (client and server overlap)
// or to their sum (they take turns). integration/bench.sh times every load
// with it.
//
// Usage:
//
//	benchtime -db URL [-out FILE] -- COMMAND [ARG...]
//
// The command's own CPU time comes from the kernel's rusage of the exited
// child (wait4, as /usr/bin/time reports it; children the command waited
// for, such as psql's `\copy FROM PROGRAM`, are included). Its peak RSS is
// the kernel's high-water mark, VmHWM in /proc/PID/status, read every 20 ms
// while it runs (the last reading is at most 20 ms before the exit); not
// rusage's ru_maxrss, which also counts the memory of this program at the
// fork, before the command was executed.
//
// The backends are found while the command runs: every 20 ms benchtime
// lists the command's TCP sockets (/proc/PID/fd and /proc/net/tcp{,6})
// whose remote port is the server's, and asks pg_stat_activity, on one
// connection of its own, for the backends whose client_port is one of
// them. It reads each backend's utime+stime from /proc/BACKEND/stat every
// 20 ms and keeps the last reading; a backend's CPU is its whole life, so
// connection set-up counts, and at most one interval of it (the close)
// can be missed. The server must run on this machine, and its
// /proc/PID/stat must be readable (it is, for any user, on a default
// Linux). A command connecting through a Unix socket has no client_port:
// its backends are found by application_name instead when -app is given
// (and the command sets that name, e.g. psql with PGAPPNAME).
//
// The figures go to -out (default stderr) as key=value lines:
//
//	wall_s=3.412
//	user_s=1.530  sys_s=0.210  cpu_s=1.740
//	maxrss_kib=181234
//	backend_cpu_s=1.820
//	backends=3
//	idle_pct=12
//	exit=0
//
// idle_pct is the share of the machine's CPU time (all CPUs, /proc/stat)
// left idle during the run: with little idle and a wall time far above both
// CPU times, something else was using the machine.
//
// benchtime exits with the command's status (128+signal if a signal ended
// it), or 125 if it could not run or measure it.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	every = 20 * time.Millisecond
	// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
	// 100 on every Linux architecture Go supports.
	clockTicks = 100
)

func main() {
	db := flag.String("db", "", "PostgreSQL URL of the server whose backends to measure (required)")
	app := flag.String("app", "", "also count backends with this application_name (for Unix-socket connections)")
	out := flag.String("out", "", "write the figures to this file (default: stderr)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchtime -db URL [-app NAME] [-out FILE] -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *db == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(125)
	}
	code, err := run(*db, *app, *out, flag.Args())
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtime: %v\n", err)
		os.Exit(125)
	}
	os.Exit(code)
}

func run(dbURL, app, outPath string, argv []string) (int, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	serverPort := uint16(conn.PgConn().Conn().RemoteAddr().(*net.TCPAddr).Port) // connect checked the type

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	idle0, total0 := machineCPU()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	s := &sampler{conn: conn, app: app, serverPort: serverPort, child: cmd.Process.Pid, cpu: map[int]int64{}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.loop(ctx, done)
	}()
	waitErr := cmd.Wait()
	wall := time.Since(t0)
	idle1, total1 := machineCPU()
	close(done)
	wg.Wait()

	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return 0, fmt.Errorf("wait for %s: %w", argv[0], waitErr)
	}
	st := cmd.ProcessState
	code := st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	maxRSS := s.peakRSS()
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok && maxRSS == 0 {
		maxRSS = ru.Maxrss // KiB on Linux; an upper bound (see the doc)
	}
	user, sys := st.UserTime().Seconds(), st.SystemTime().Seconds()
	backendCPU, backends := s.result()
	if s.err != nil {
		fmt.Fprintf(os.Stderr, "benchtime: warning: backend CPU may be incomplete: %v\n", s.err)
	}

	var w io.Writer = os.Stderr
	if outPath != "" {
		f, err := os.Create(outPath)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		w = f
	}
	idlePct := -1.0
	if total1 > total0 {
		idlePct = 100 * float64(idle1-idle0) / float64(total1-total0)
	}
	_, err = fmt.Fprintf(w, "wall_s=%.3f\nuser_s=%.3f\nsys_s=%.3f\ncpu_s=%.3f\nmaxrss_kib=%d\nbackend_cpu_s=%.3f\nbackends=%d\nidle_pct=%.0f\nexit=%d\n",
		wall.Seconds(), user, sys, user+sys, maxRSS, backendCPU, backends, idlePct, code)
	return code, err
}

func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse -db: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "benchtime"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if _, ok := conn.PgConn().Conn().RemoteAddr().(*net.TCPAddr); !ok {
		conn.Close(ctx)
		return nil, fmt.Errorf("-db must connect over TCP (got %s): backends are matched by client port", conn.PgConn().Conn().RemoteAddr())
	}
	return conn, nil
}

// sampler finds the child's backends and keeps their last CPU reading.
type sampler struct {
	conn       *pgx.Conn
	app        string
	serverPort uint16
	child      int

	mu     sync.Mutex
	hwmKiB int64         // the child's VmHWM, last read
	cpu    map[int]int64 // backend pid → last utime+stime, in clock ticks
	mapped map[uint16]bool
	err    error // the first query error
}

func (s *sampler) loop(ctx context.Context, done <-chan struct{}) {
	s.mapped = map[uint16]bool{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; n++ {
		s.discover(ctx, n)
		s.readCPU()
		select {
		case <-done:
			s.readCPU() // the backends may outlive the client for a moment
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// discover asks pg_stat_activity for the backends of the child's sockets
// not yet matched (and, every 10th round, for -app's backends).
func (s *sampler) discover(ctx context.Context, round int) {
	var ports []int32
	for _, p := range childPorts(s.child, s.serverPort) {
		if !s.mapped[p] {
			ports = append(ports, int32(p))
		}
	}
	byApp := s.app != "" && round%10 == 0
	if len(ports) == 0 && !byApp {
		return
	}
	rows, err := s.conn.Query(ctx, `SELECT pid, coalesce(client_port, -1) FROM pg_stat_activity
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

func (s *sampler) noteErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !errors.Is(err, context.Canceled) {
		s.err = err
	}
}

func (s *sampler) readCPU() {
	hwm := vmHWM(s.child)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hwmKiB = max(s.hwmKiB, hwm)
	for pid := range s.cpu {
		if t, err := procCPU(pid); err == nil {
			s.cpu[pid] = max(s.cpu[pid], t)
		}
	}
}

func (s *sampler) peakRSS() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hwmKiB
}

// vmHWM is pid's VmHWM in KiB, or 0.
func vmHWM(pid int) int64 {
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

func (s *sampler) result() (seconds float64, backends int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ticks int64
	for _, t := range s.cpu {
		ticks += t
	}
	return float64(ticks) / clockTicks, len(s.cpu)
}

// machineCPU returns the idle (idle+iowait) and total clock ticks of all
// CPUs from /proc/stat's first line, or zeros.
func machineCPU() (idle, total int64) {
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

// childPorts returns the local ports of pid's TCP sockets connected to
// remotePort.
func childPorts(pid int, remotePort uint16) []uint16 {
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return nil
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	var ports []uint16
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		ports = append(ports, socketPorts(table, inodes, remotePort)...)
	}
	return ports
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
