package runner

import (
	"context"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Shutdown is the two-phase stop of a job: the first signal on signals
// cancels readCtx (stop listing, receiving and reading); chunks being
// written then get timeout to commit before writeCtx is cancelled too,
// which a second signal does at once. stop cancels both and ends the
// watch.
func Shutdown(signals <-chan os.Signal, timeout time.Duration, log zerolog.Logger) (readCtx, writeCtx context.Context, stop func()) {
	readCtx, stopReading := context.WithCancel(context.Background())
	writeCtx, stopWriting := context.WithCancel(context.Background())
	go func() {
		select {
		case sig := <-signals:
			log.Info().Str("signal", sig.String()).Dur("timeout", timeout).Msg("stopping: finishing chunks in flight")
			stopReading()
		case <-readCtx.Done():
			return
		}
		select {
		case <-signals:
		case <-time.After(timeout):
		case <-writeCtx.Done():
		}
		stopWriting()
	}()
	return readCtx, writeCtx, func() { stopReading(); stopWriting() }
}
