package main

import (
	"context"
	"errors"
	"io"

	"github.com/ferrydata/ferry/source/plan"
	"github.com/ferrydata/ferry/source/stores"
	"github.com/ferrydata/ferry/targets/postgres"
)

// runPlan runs ferry plan, the dry run of a snapshot (source/plan).
func runPlan(args []string, stdout, stderr io.Writer) int {
	cfg, o, log, exit := prepare("plan", args, stdout, stderr, func(c *Config) error { return errors.Join(c.Validate(), c.Plan.Validate()) })
	if exit >= 0 {
		return exit
	}
	ctx, pc := context.Background(), plan.Config{Runner: cfg.Runner, Load: cfg.Load, Options: cfg.Plan, Where: cfg.Target, StateURL: cfg.State, TargetURL: cfg.Target, StateSchema: cfg.StateSchema, Pipeline: cfg.Pipeline}
	pc.Options.AllowEmpty = o.allowEmpty
	sc := cfg.store()
	sc.Log = log
	store, err := stores.Open(ctx, sc)
	if pc.Store = store; err == nil && cfg.pg {
		pl, e := postgres.OpenPlanner(ctx, cfg.Target, cfg.Postgres)
		defer pl.Close()
		pc.Target, err = pl, e
	}
	if err == nil {
		err = plan.Write(ctx, pc, stdout)
	}
	if err != nil && !errors.Is(err, plan.ErrWouldFail) {
		return fail(stderr, err)
	}
	return map[bool]int{false: exitOK, true: exitFailed}[err != nil] // 1: the load would fail
}
