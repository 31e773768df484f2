package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// shutdownWait bounds how long a stopped ferry may take to exit; ferry's own
// --shutdown-timeout is 30 s.
const shutdownWait = 60 * time.Second

// ferryProc is a running `ferry replicate` whose output goes to a log file.
type ferryProc struct {
	cmd     *exec.Cmd
	args    []string
	started time.Time
	logPath string
	keepLog bool          // BENCHREP_KEEP=1: cleanup leaves the log
	done    chan struct{} // closed once the process exited
	err     error         // cmd.Wait's result, valid after done
}

// replicateArgs are the flags every run shares; the table, pipeline and
// source vary.
func (e *env) replicateArgs(source, table, pipeline string, extra ...string) []string {
	args := []string{"replicate",
		"--source", source,
		"--s3-endpoint", e.cfg.s3Endpoint, "--s3-path-style",
		"--target", e.cfg.dbURL, "--table", table,
		"--pipeline", pipeline,
		"--poll-interval", "1s",
		"--progress", "none", "--log-level", "info", "--log-format", "json",
	}
	return append(args, extra...)
}

// startFerry starts ferry with args; its stdout and stderr go to a
// temporary log file, shown when something goes wrong.
func (e *env) startFerry(args []string) (*ferryProc, error) {
	logf, err := os.CreateTemp("", "benchrep-ferry-*.log")
	if err != nil {
		return nil, err
	}
	// BENCHREP_FERRY_ARGS: extra flags for every ferry run (experiments).
	args = append(args, strings.Fields(os.Getenv("BENCHREP_FERRY_ARGS"))...)
	cmd := exec.Command(e.cfg.ferry, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// ferry does not outlive this program, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	p := &ferryProc{cmd: cmd, args: args, logPath: logf.Name(), keepLog: e.cfg.keep, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.Remove(logf.Name())
		return nil, fmt.Errorf("start %s: %w", e.cfg.ferry, err)
	}
	logf.Close() // the child has its own descriptor
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *ferryProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for the exit; it returns the exit code (-1
// when a signal ended it) and how long the exit took. A process that does
// not exit within shutdownWait is killed and reported as an error.
func (p *ferryProc) stop() (code int, took time.Duration, err error) {
	t0 := time.Now()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(shutdownWait):
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1, time.Since(t0), fmt.Errorf("ferry (pid %d) did not exit within %v of SIGTERM; killed", p.cmd.Process.Pid, shutdownWait)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(t0), nil
}

// stopChecked stops ferry and returns an error unless it exited 0.
func (p *ferryProc) stopChecked() (time.Duration, error) {
	code, took, err := p.stop()
	if err != nil {
		return took, err
	}
	if code != 0 {
		return took, fmt.Errorf("ferry exited with %v after SIGTERM, want status 0\n%s", p.cmd.ProcessState, p.tail(30))
	}
	return took, nil
}

// cleanup stops ferry if it still runs and removes its log, unless
// BENCHREP_KEEP=1 or ferry logged a warning or error (it then says where
// the log is).
func (p *ferryProc) cleanup() {
	if !p.exited() {
		_, _, _ = p.stop()
	}
	if n, _ := p.problems(); n > 0 || p.keepLog {
		logf("kept ferry's log (pid %d, %d warning/error line(s)): %s", p.cmd.Process.Pid, n, p.logPath)
		return
	}
	os.Remove(p.logPath)
}

// tail returns the last n lines of ferry's output, indented.
func (p *ferryProc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "  (no ferry output: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  ferry " + strings.Join(redact(p.args), " ") + "\n  | " + strings.Join(lines, "\n  | ")
}

// redact hides passwords in URL arguments.
func redact(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if u, err := url.Parse(a); err == nil && u.User != nil {
			out[i] = u.Redacted()
		}
	}
	return out
}

// problems counts ferry's warn and error log lines and returns the
// first. A benchmark run should log none.
func (p *ferryProc) problems() (n int, first string) {
	f, err := os.Open(p.logPath)
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var rec struct {
			Level string `json:"level"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Level == "warn" || rec.Level == "error" || rec.Level == "fatal" || rec.Level == "panic" {
			if n == 0 {
				first = line
			}
			n++
		}
	}
	return n, first
}

// logNote is the report's words on ferry's log: "no warnings" or how many
// and the first.
func (p *ferryProc) logNote() string {
	n, first := p.problems()
	if n == 0 {
		return "ferry logged no warning or error"
	}
	logf("ferry logged %d warning/error/non-JSON line(s); the first: %s", n, first)
	return fmt.Sprintf("ferry logged %d warning/error line(s), the first: %.200s", n, first)
}

// exitError describes an unexpected exit.
func (p *ferryProc) exitError() error {
	return fmt.Errorf("ferry exited early (%v)\n%s", p.cmd.ProcessState, p.tail(30))
}

// waitFiles polls ferry.files every `every` until the pipeline has want
// files done and returns the time it saw that. A failed file, ferry
// exiting, ctx ending or timeout stop the wait with an error.
func (e *env) waitFiles(ctx context.Context, p *ferryProc, pipeline string, want int, every, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		done, failed, failure, err := e.db.fileStates(ctx, pipeline)
		now := time.Now()
		if err != nil {
			return now, fmt.Errorf("read ferry.files: %w", err)
		}
		if failed > 0 {
			return now, fmt.Errorf("%d file(s) failed, e.g. %s\n%s", failed, failure, p.tail(30))
		}
		if done >= want {
			return now, nil
		}
		if now.After(deadline) {
			return now, fmt.Errorf("only %d of %d files done after %v\n%s", done, want, timeout, p.tail(30))
		}
		select {
		case <-ctx.Done():
			return now, ctx.Err()
		case <-p.done:
			return now, p.exitError()
		case <-tick.C:
		}
	}
}

// ferryHasFlag reports whether `ferry SUBCOMMAND -h` lists -name.
func (e *env) ferryHasFlag(ctx context.Context, subcommand, name string) (bool, error) {
	out, _ := exec.CommandContext(ctx, e.cfg.ferry, subcommand, "-h").CombinedOutput() // -h may exit non-zero
	if !bytes.Contains(out, []byte("Usage")) && !bytes.Contains(out, []byte("usage")) {
		return false, fmt.Errorf("ferry %s -h printed no usage:\n%s", subcommand, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && (f[0] == "-"+name || f[0] == "--"+name) {
			return true, nil
		}
	}
	return false, nil
}

// rssSampler reads VmHWM (the kernel's peak resident set) from
// /proc/PID/status every interval until stopped.
type rssSampler struct {
	mu      sync.Mutex
	peakKiB int64
	samples int
	stopc   chan struct{}
	wg      sync.WaitGroup
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{})}
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			s.read(path)
			select {
			case <-s.stopc:
				s.read(path)
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) read(path string) {
	kib, err := vmHWM(path)
	if err != nil {
		return // the process is gone
	}
	s.mu.Lock()
	s.peakKiB = max(s.peakKiB, kib)
	s.samples++
	s.mu.Unlock()
}

// stop takes a last sample and returns the peak in KiB and the number of
// samples read.
func (s *rssSampler) stop() (int64, int) {
	close(s.stopc)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakKiB, s.samples
}

func vmHWM(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in " + path)
}
