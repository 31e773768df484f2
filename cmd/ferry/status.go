package main

import (
	"context"
	"errors"
	"flag"
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
	fs, c := inspect.NewCommand(command, stderr)
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stdout)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return exitOK
	}
	if err != nil {
		return fail(stderr, usage("%v (run 'ferry %s -h' for the flags)", err, command))
	}
	if c.Config != "" {
		if err := applyConfigFile(fs, c.Config, false); err != nil {
			return fail(stderr, &UsageError{Err: err})
		}
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
