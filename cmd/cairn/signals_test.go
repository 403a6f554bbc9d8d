package main

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestLocalCommands(t *testing.T) {
	root := newRootCommand()
	for _, tc := range []struct {
		args  []string
		local bool
	}{
		{[]string{"version"}, true},
		{[]string{"stackwalk"}, true},
		{[]string{"symcache", "build"}, true},
		{[]string{"difs", "check"}, true},
		{[]string{"dump-syms"}, true},
		{[]string{"symbolicate"}, true},
		{[]string{"minidump", "dump"}, true},
		{[]string{"upload"}, false},
	} {
		cmd, _, err := root.Find(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := isLocal(cmd); got != tc.local {
			t.Errorf("isLocal(%v) = %v, want %v", tc.args, got, tc.local)
		}
	}
}

// TestSignalCancelsContext sends the test process SIGINT while a command
// that is not a local file tool runs: its context must end, and the process
// must live on.
func TestSignalCancelsContext(t *testing.T) {
	root := newRootCommand()
	ended := make(chan error, 1)
	root.AddCommand(&cobra.Command{
		Use: "wait-for-signal",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
				return err
			}
			select {
			case <-cmd.Context().Done():
				ended <- nil
			case <-time.After(10 * time.Second):
				ended <- errors.New("no cancellation within 10 s")
			}
			return nil
		},
	})
	stop := cancelOnSignal(root)
	defer stop()
	root.SetArgs([]string{"wait-for-signal"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("context not cancelled by SIGINT: %v", err)
		}
	default:
		t.Fatal("command did not run")
	}
}
