package workflows

import (
	"time"

	"github.com/aiccfb/aicc"
)

// TaskQueue is the one task queue every aicc workflow and activity runs on.
const TaskQueue = "aicc"

// OnboardingWorkflowID is the ID of a channel's onboarding workflow: one per channel, so a second start is a
// conflict rather than a second run.
func OnboardingWorkflowID(channelID string) string { return "onboarding/" + channelID }

// DefaultVerificationTTL is how long onboarding waits for Meta's verification request.
const DefaultVerificationTTL = 7 * 24 * time.Hour

// OnboardingInput starts the onboarding of a channel. It carries IDs only, never a secret.
type OnboardingInput struct {
	TenantID        string
	ChannelID       string
	VerificationTTL time.Duration // zero means DefaultVerificationTTL
}

// OnboardingResult is the final state of an onboarding.
type OnboardingResult struct {
	Status    aicc.ChannelStatus
	ErrorCode string // why the onboarding failed, when Status is failed
}

// SignalMetaVerified is sent by the webhook GET handler when Meta verified the callback URL.
const SignalMetaVerified = "meta-verified"

// MetaVerifiedSignal is the payload of SignalMetaVerified.
type MetaVerifiedSignal struct {
	At time.Time
}

// UpdateStarted answers the OnboardingState once the onboarding has recorded its first step; StartOnboarding
// sends it with the start (Update-with-Start), so that the API answers with the state the workflow wrote.
const UpdateStarted = "started"

// UpdateConfirm is the administrator's "Submit" after Meta verified the callback: the channel becomes active.
const UpdateConfirm = "confirm"

// ConfirmRequest is the payload of UpdateConfirm.
type ConfirmRequest struct{}

// UpdateCancel stops an onboarding that has not finished.
const UpdateCancel = "cancel"

// CancelRequest is the payload of UpdateCancel.
type CancelRequest struct{}

// QueryState returns the live OnboardingState.
const QueryState = "state"

// OnboardingState is the live view of an onboarding.
type OnboardingState struct {
	Status      aicc.ChannelStatus
	Step        string
	ErrorCode   string
	StartedAt   time.Time
	ExpiresAt   time.Time // when the wait for Meta's verification ends
	VerifiedAt  time.Time
	ActivatedAt time.Time
}

// Onboarding steps: what the workflow waits for.
const (
	StepCheckPrerequisites = "check_prerequisites" // the Facebook authentication certificate
	StepAwaitVerification  = "await_meta_verification"
	StepAwaitConfirmation  = "await_confirmation"
	StepDone               = "done"
)

// OnboardingWorkflowType is the name Onboarding is registered under. It is fixed, so that renaming the Go
// function never orphans running executions.
const OnboardingWorkflowType = "Onboarding"
