package runner

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestShutdown: the first signal stops reading and leaves writing the
// timeout; a second signal stops writing at once; stop ends both.
func TestShutdown(t *testing.T) {
	signals := make(chan os.Signal, 2)
	readCtx, writeCtx, stop := Shutdown(signals, time.Hour, zerolog.Nop())
	defer stop()
	if readCtx.Err() != nil || writeCtx.Err() != nil {
		t.Fatal("cancelled before any signal")
	}
	signals <- syscall.SIGTERM
	<-readCtx.Done()
	select {
	case <-writeCtx.Done():
		t.Fatal("writing stopped with the first signal, before the timeout")
	case <-time.After(50 * time.Millisecond):
	}
	signals <- syscall.SIGINT
	<-writeCtx.Done()

	signals = make(chan os.Signal, 1)
	readCtx, writeCtx, stop = Shutdown(signals, time.Millisecond, zerolog.Nop())
	signals <- syscall.SIGTERM
	<-writeCtx.Done() // after the timeout
	stop()
	if readCtx.Err() == nil {
		t.Fatal("reading goes on after stop")
	}
}
