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
//	benchtime -db URL [-app NAME] [-out FILE] -- COMMAND [ARG...]
//
// The command's own CPU time comes from the kernel's rusage of the exited
// child (wait4, as /usr/bin/time reports it; children the command waited
// for, such as psql's `\copy FROM PROGRAM`, are included). Its peak RSS is
// the kernel's high-water mark, VmHWM in /proc/PID/status, read every 20 ms
// while it runs (the last reading is at most 20 ms before the exit); not
// rusage's ru_maxrss, which also counts the memory of this program at the
// fork, before the command was executed.
//
// The backends are found and their CPU read while the command runs, by
// integration/internal/pgcpu: the command's TCP connections to the -db
// server are matched to pg_stat_activity by client port (or by
// application_name, with -app, for Unix-socket connections), and each
// backend's utime+stime read from /proc every 20 ms. The server must run
// on this machine.
//
// The figures go to -out (default stderr) as key=value lines:
//
//	wall_s=3.412
//	user_s=1.530
//	sys_s=0.210
//	cpu_s=1.740
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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/ferrydata/ferry/integration/internal/pgcpu"
	"github.com/jackc/pgx/v5"
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
	port, err := pgcpu.ServerPort(dbURL)
	if err != nil {
		return 0, err
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return 0, fmt.Errorf("parse -db: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "benchtime"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	idle0, total0 := pgcpu.MachineCPU()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	s := pgcpu.Start(ctx, conn, port, cmd.Process.Pid, app)
	waitErr := cmd.Wait()
	wall := time.Since(t0)
	idle1, total1 := pgcpu.MachineCPU()
	r := s.Stop()

	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return 0, fmt.Errorf("wait for %s: %w", argv[0], waitErr)
	}
	st := cmd.ProcessState
	code := st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	maxRSS := r.PeakRSSKiB
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok && maxRSS == 0 {
		maxRSS = ru.Maxrss // KiB on Linux; an upper bound (see the doc)
	}
	user, sys := st.UserTime().Seconds(), st.SystemTime().Seconds()
	if r.Err != nil {
		fmt.Fprintf(os.Stderr, "benchtime: warning: backend CPU may be incomplete: %v\n", r.Err)
	}
	idlePct := -1.0
	if total1 > total0 {
		idlePct = 100 * float64(idle1-idle0) / float64(total1-total0)
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
	_, err = fmt.Fprintf(w, "wall_s=%.3f\nuser_s=%.3f\nsys_s=%.3f\ncpu_s=%.3f\nmaxrss_kib=%d\nbackend_cpu_s=%.3f\nbackends=%d\nidle_pct=%.0f\nexit=%d\n",
		wall.Seconds(), user, sys, user+sys, maxRSS, r.BackendCPU.Seconds(), r.Backends, idlePct, code)
	return code, err
}
