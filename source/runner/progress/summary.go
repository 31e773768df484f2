package progress

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source/runner"
)

// roundElapsed rounds a run's time: 29.6ms, 2m3.46s.
func roundElapsed(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}

// PrintSummary writes a snapshot's summary on w: files, rows, bytes, time
// and rate, the rejected records (see rejectsAt), the files that vanished
// and the first failed files; with jsonLog, one log line instead.
func PrintSummary(w io.Writer, s runner.Summary, rejectsAt string, jsonLog bool, log zerolog.Logger) {
	if jsonLog {
		log.Info().EmbedObject(s).Msg("summary")
		return
	}
	if s.Files > 0 && s.Loaded == 0 && s.Failed == 0 && s.Vanished == 0 && s.AlreadyDone == s.Files {
		fmt.Fprintf(w, "ferry: nothing new to load: all %d files already loaded\n", s.Files)
		return
	}
	fmt.Fprintf(w, "ferry: %d files (%d loaded, %d already loaded, %d failed), %d rows, %s in %s, %.1f MB/s\n",
		s.Files, s.Loaded, s.AlreadyDone, s.Failed, s.Records, mb(s.Bytes), roundElapsed(s.Elapsed), s.MBPerSecond())
	if s.Rejected > 0 {
		fmt.Fprintf(w, "ferry: %d records rejected (see %s)\n", s.Rejected, rejectsAt)
	}
	if s.Rescued > 0 {
		fmt.Fprintf(w, "ferry: %d records loaded with values kept in the rescue column (--rescue-column)\n", s.Rescued)
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
			fmt.Fprintf(w, "ferry: ... and %d more failed files (see the log)\n", len(s.Errors)-show)
			break
		}
		fmt.Fprintf(w, "ferry: failed: %s\n", OneLine(err.Error()))
	}
}

// OneLine keeps a message on one line: line breaks inside it (a driver's
// multi-line error, a server's DETAIL and HINT) are written \n, and
// trailing ones dropped.
func OneLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}
