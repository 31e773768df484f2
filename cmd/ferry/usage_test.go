package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpOnStdout: help asked for goes to stdout with status 0, so that
// 'ferry snapshot -h | less' shows it.
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "snapshot"}, {"help", "replicate"},
		{"snapshot", "-h"}, {"replicate", "--help"}, {"snapshot", "--source", "x", "-help"}} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if code != exitOK || !strings.Contains(stdout.String(), "Usage") || stderr.Len() > 0 {
			t.Errorf("ferry %s: exit %d, stdout %d bytes, stderr %q; want 0, the usage on stdout, nothing on stderr",
				strings.Join(args, " "), code, stdout.Len(), stderr.String())
		}
	}
	// A wrong flag is a one-line error on stderr, status 2.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"snapshot", "--no-such-flag"}, &stdout, &stderr); code != exitUsage || stdout.Len() > 0 ||
		strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
		t.Errorf("bad flag: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestUsageDefaults: each flag's description states its default once
// (the flag package appends "(default X)" to what the text says itself).
func TestUsageDefaults(t *testing.T) {
	for _, command := range []string{"snapshot", "replicate"} {
		var out bytes.Buffer
		fs, _ := newFlags(command, &out)
		fs.Usage()
		for line := range strings.Lines(out.String()) {
			if strings.Count(strings.ToLower(line), "default") > 1 {
				t.Errorf("%s -h: default given twice: %s", command, strings.TrimSpace(line))
			}
		}
		for _, want := range []string{"(default 8MiB)", "(default 64MiB)", "(default 16MiB)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s -h: no %q", command, want)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		out := stdout.String()
		if code != exitOK || !strings.HasPrefix(out, "ferry ") || strings.Count(out, "\n") != 1 || len(out) < len("ferry x\n") {
			t.Errorf("ferry %s: exit %d, %q", args[0], code, out)
		}
	}
}
