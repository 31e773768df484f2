package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/ferrydata/ferry/source/runner"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress shows progress: a redrawn line on a terminal, a log line
// every 10 seconds otherwise, until stop is called.
func startProgress(ctx context.Context, j *job, w io.Writer, mode string, log zerolog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() { cancel(); wg.Wait() }
	if mode == "auto" {
		mode = "log"
		if isTerminal(w) {
			mode = "bar"
		}
	}
	if mode == "none" {
		return stop
	}
	start := time.Now()
	every := 10 * time.Second
	if mode == "bar" {
		every = 250 * time.Millisecond
	}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if mode == "bar" {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
			}
			el := time.Since(start).Seconds()
			files := j.Done.Load() + j.Failed.Load() + j.Skipped.Load()
			bytes := j.ReadBytes.Load()
			rows := j.Records.Load()
			if mode == "bar" {
				fmt.Fprintf(w, "\r\033[K%s files %d/%d  rows %d  %s  %.1f MB/s",
					bar(files, j.Listed.Load(), 20), files, j.Listed.Load(), rows, mb(bytes), float64(bytes)/1e6/el)
				continue
			}
			log.Info().Int64("files", files).Int64("listed", j.Listed.Load()).Int64("failed", j.Failed.Load()).
				Int64("rows", rows).Int64("bytes", bytes).Str("rate", fmt.Sprintf("%.1f MB/s", float64(bytes)/1e6/el)).Msg("progress")
		}
	})
	return stop
}

func bar(n, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	fill := int(int64(width) * n / total)
	return "[" + strings.Repeat("#", fill) + strings.Repeat(" ", width-fill) + "]"
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func printSummary(w io.Writer, s runner.Summary, jsonLog bool, log zerolog.Logger) {
	if jsonLog {
		log.Info().EmbedObject(s).Msg("summary")
		return
	}
	if s.Files > 0 && s.Loaded == 0 && s.Failed == 0 && s.Vanished == 0 && s.AlreadyDone == s.Files {
		fmt.Fprintf(w, "ferry: nothing new to load: all %d files already loaded\n", s.Files)
		return
	}
	fmt.Fprintf(w, "ferry: %d files (%d loaded, %d already loaded, %d failed), %d rows, %s in %.2f s, %.1f MB/s\n",
		s.Files, s.Loaded, s.AlreadyDone, s.Failed, s.Records, mb(s.Bytes), s.Elapsed.Seconds(), s.MBPerSecond())
	if s.Rejected > 0 {
		fmt.Fprintf(w, "ferry: %d records rejected (see ferry.rejects or the rejects file)\n", s.Rejected)
	}
	if s.Vanished > 0 {
		fmt.Fprintf(w, "ferry: %d files vanished or changed after listing (skipped)\n", s.Vanished)
	}
	if s.Aborted {
		fmt.Fprintln(w, "ferry: stopped at the first failed file (--on-error abort); files not started were not loaded")
	}
	const show = 10
	for i, err := range s.Errors {
		if i == show {
			fmt.Fprintf(w, "ferry: ... and %d more failed files (see the log and ferry.files)\n", len(s.Errors)-show)
			break
		}
		fmt.Fprintf(w, "ferry: failed: %v\n", err)
	}
}
