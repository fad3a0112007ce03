// Package activities holds the Temporal activities of aicc: the workflows' only way to touch the database and
// Meta. Every activity is idempotent, because Temporal retries them.
package activities

import (
	"context"
	"time"

	"github.com/aiccfb/aicc"
)

// Activities carries the dependencies of every activity. Register a pointer to it with the worker; workflows
// reference its methods through a nil *Activities.
type Activities struct {
	Channels aicc.ChannelStore
	Now      func() time.Time
}

// RecordOnboardingInput is the state to write for a channel.
type RecordOnboardingInput struct {
	ChannelID  string
	Onboarding aicc.Onboarding
}

// RecordOnboarding writes the onboarding state to the database, so lists and filters never ask Temporal.
func (a *Activities) RecordOnboarding(ctx context.Context, in RecordOnboardingInput) error {
	return a.Channels.SetOnboarding(ctx, in.ChannelID, in.Onboarding)
}
