package fsm

// Instance statuses, as Maestro names them.
const (
	InstanceCreated    = "CREATED"
	InstanceInProgress = "IN_PROGRESS"
	InstanceSucceeded  = "SUCCEEDED"
	InstanceFailed     = "FAILED"
	InstanceStopped    = "STOPPED"
	InstanceTimedOut   = "TIMED_OUT"
)

// InstanceStatuses are every instance status, in the order an instance can
// reach them.
var InstanceStatuses = []string{InstanceCreated, InstanceInProgress, InstanceSucceeded, InstanceFailed, InstanceStopped, InstanceTimedOut}

// Step statuses, as Maestro names them. The *_FAILED statuses other than
// FATALLY_FAILED mean a retry may follow; the scheduler decides.
const (
	StepNotCreated = "NOT_CREATED"
	StepCreated    = "CREATED"
	// StepWaitingForPermits is a ready step held back by a concurrency
	// limit (step_concurrency, instance_step_concurrency).
	StepWaitingForPermits = "WAITING_FOR_PERMITS"
	// StepWaitingForSignals is a ready step whose signal_dependencies are
	// not all matched yet.
	StepWaitingForSignals  = "WAITING_FOR_SIGNALS"
	StepRunning            = "RUNNING"
	StepSucceeded          = "SUCCEEDED"
	StepCompletedWithError = "COMPLETED_WITH_ERROR"
	StepUserFailed         = "USER_FAILED"
	StepPlatformFailed     = "PLATFORM_FAILED"
	StepTimeoutFailed      = "TIMEOUT_FAILED"
	StepFatallyFailed      = "FATALLY_FAILED"
	StepTimedOut           = "TIMED_OUT"
	StepStopped            = "STOPPED"
	// StepUnsatisfied is a step none of whose incoming transition conditions
	// held: it never runs, and counts as resolved for its successors.
	StepUnsatisfied = "UNSATISFIED"
	// StepSkipped is a step an operator skipped: it counts as done.
	StepSkipped = "SKIPPED"
	// StepPaused is a step an operator holds back until resumed.
	StepPaused = "PAUSED"
)

// Attempt outcomes reported by nodes.
const (
	AttemptRunning        = "RUNNING"
	AttemptSucceeded      = "SUCCEEDED"
	AttemptUserFailed     = "USER_FAILED"
	AttemptPlatformFailed = "PLATFORM_FAILED"
	AttemptTimedOut       = "TIMED_OUT"
	AttemptStopped        = "STOPPED"
	// AttemptFatallyFailed is a failure the step said must not be retried.
	AttemptFatallyFailed = "FATALLY_FAILED"
)

// InstanceTerminal reports whether an instance status is final.
func InstanceTerminal(s string) bool {
	switch s {
	case InstanceSucceeded, InstanceFailed, InstanceStopped, InstanceTimedOut:
		return true
	}
	return false
}

// StepTerminal reports whether a step status is final.
func StepTerminal(s string) bool {
	switch s {
	case StepSucceeded, StepCompletedWithError, StepFatallyFailed, StepTimedOut, StepStopped, StepUnsatisfied, StepSkipped:
		return true
	}
	return false
}

// StepRetryable reports whether a step status is a failure that may be retried.
func StepRetryable(s string) bool {
	switch s {
	case StepUserFailed, StepPlatformFailed, StepTimeoutFailed:
		return true
	}
	return false
}

// stepStatusForOutcome maps an attempt outcome to the step status it leaves.
func stepStatusForOutcome(outcome string) (string, bool) {
	switch outcome {
	case AttemptSucceeded:
		return StepSucceeded, true
	case AttemptUserFailed:
		return StepUserFailed, true
	case AttemptPlatformFailed:
		return StepPlatformFailed, true
	case AttemptTimedOut:
		return StepTimeoutFailed, true
	case AttemptStopped:
		return StepStopped, true
	case AttemptFatallyFailed:
		// The scheduler ends the step without retrying, per its failure mode.
		return StepUserFailed, true
	}
	return "", false
}
