package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferrydata/ferry/state/inspect"
)

// runInspect runs the state commands (status, files, retry, rejects; see
// state/inspect): flags, then the job's config file for those not given.
func runInspect(command string, args []string, stdout, stderr io.Writer) int {
	fs, c := inspect.NewCommand(command, stdout)
	err := parseFlags(fs, args, &c.Config, false)
	if errors.Is(err, errHelp) {
		return exitOK
	} else if err != nil {
		return fail(stderr, &UsageError{Err: err})
	}
	keys := fs.Args()
	if err := c.Check(keys); err != nil {
		return fail(stderr, err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	left, err := c.Run(ctx, keys, stdout)
	for _, e := range left { // retry: keys with no failed version
		fmt.Fprintf(stderr, "ferry: %v\n", e)
	}
	switch {
	case err != nil:
		return fail(stderr, err)
	case len(left) > 0:
		return exitFailed
	}
	return exitOK
}
