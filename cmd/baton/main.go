// Command baton is Baton's agent and its command-line client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
)

// Exit codes; docs/CLI.md and the root command's help describe them to users,
// and scripts depend on them.
const (
	exitOK           = 0
	exitError        = 1
	exitUsage        = 2
	exitFailed       = 3
	exitStopped      = 4
	exitUnsuccessful = 5
	// exitInterrupted follows the shell convention of 128 + SIGINT.
	exitInterrupted = 130
)

const defaultAddress = "http://127.0.0.1:7420"

const rootHelp = `Baton runs Maestro-style workflows on a Raft-replicated cluster.

  baton agent -dev                        start a local single-node cluster
  baton workflow push examples/diamond.yaml
  baton instance start diamond -p base=20 --wait
  baton instance get diamond 1

The client commands talk to the agent at --address (or $BATON_ADDR, default
` + defaultAddress + `). Results go to stdout, progress and errors to stderr;
-o json prints the API's response messages with snake_case field names.

Exit codes:
  0    success
  1    an API or connection error, or an invalid definition (workflow validate)
  2    usage error: unknown command, bad flag or argument
  3    the instance FAILED (instance watch, instance start --wait)
  4    the instance was STOPPED (same commands)
  5    the instance ended TIMED_OUT or in another unsuccessful status
  130  interrupted`

// usageError marks a mistake in how the command was invoked (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitStatus ends the process with a code once the command has already told
// the user what happened, so run prints nothing more.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal the default behaviour comes back, so a second
		// Ctrl-C kills a command that is slow to notice the cancellation.
		<-ctx.Done()
		stop()
	}()

	c := newCLI(stdout, stderr)
	root := newRootCommand(c)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || connect.CodeOf(err) == connect.CodeCanceled) {
		// The user interrupted; the resulting cancellation is no news to them.
		return exitInterrupted
	}
	var usage usageError
	if errors.As(err, &usage) || isCobraUsageError(err) {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	fmt.Fprintf(stderr, "Error: %s\n", c.describeError(err))
	return exitError
}

// isCobraUsageError recognises the few argument errors cobra makes itself
// before any of our validation runs.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command ") ||
		strings.HasPrefix(msg, "unknown flag: ") ||
		strings.HasPrefix(msg, "unknown shorthand flag: ") ||
		strings.HasPrefix(msg, "required flag(s) ")
}

func newRootCommand(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:           "baton",
		Short:         "Run Maestro-style workflows on a Raft-replicated cluster",
		Long:          rootHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return c.setup(cmd)
		},
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// The default comes from BATON_ADDR so that --help shows the address
	// that will actually be used.
	root.PersistentFlags().StringVar(&c.address, "address", defaultAddr(),
		"`URL` of a Baton agent's API (env BATON_ADDR)")
	root.PersistentFlags().StringVarP(&c.output, "output", "o", "table", "output `format`: table or json")

	root.AddCommand(
		newAgentCommand(),
		newWorkflowCommand(c),
		newInstanceCommand(c),
		newStepCommand(c),
		newSignalCommand(c),
		newBreakpointCommand(c),
		newStatusCommand(c),
		newBenchCommand(c),
	)
	root.AddCommand(newOperatorCommands(c)...)
	return root
}

// runGroup serves the commands that only group subcommands: bare, they show
// their help; with an argument, that argument names no subcommand.
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usageError{errors.New(msg)}
}

func newGroupCommand(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
}

// positional checks a command's positional arguments against the names in its
// usage line, with messages that say which one is missing.
func positional(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, got []string) error {
		if len(got) < len(names) {
			return usageError{fmt.Errorf("%s: missing %s", cmd.CommandPath(), strings.Join(names[len(got):], " and "))}
		}
		if len(got) > len(names) {
			return usageError{fmt.Errorf("%s: unexpected argument %q", cmd.CommandPath(), got[len(names)])}
		}
		return nil
	}
}
