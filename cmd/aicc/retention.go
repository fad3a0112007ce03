package main

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc/workflows"
)

// inboxRetentionSchedule is the inbox retention cfg asks for: delivered events and dead letters deleted by age,
// every hour.
func inboxRetentionSchedule(cfg Config) workflows.InboxRetentionSchedule {
	return workflows.InboxRetentionSchedule{Input: workflows.InboxRetentionInput{
		DeliveredAge: cfg.InboxRetention, DeadAge: cfg.DeadLetterRetention,
	}}
}

// ensureInboxRetention creates the Temporal Schedule of inbox retention, or updates it to cfg's ages, as a
// worker starts (aicc worker, aicc dev); the last worker to start with other ages wins. A worker that cannot (a
// Temporal that refuses it schedules) works all the same: the failure is logged, and old inbox events stay
// until a worker succeeds.
func ensureInboxRetention(ctx context.Context, cfg Config, tc client.Client, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	outcome, err := workflows.EnsureInboxRetentionSchedule(ctx, tc, inboxRetentionSchedule(cfg))
	if err != nil {
		logger.Warn("could not set up the inbox retention schedule: old inbox events are not deleted",
			slog.String("schedule", workflows.InboxRetentionScheduleID), slog.String("error", err.Error()))
		return
	}
	logger.Info("inbox retention schedule "+outcome, slog.String("schedule", workflows.InboxRetentionScheduleID),
		slog.String("inbox_retention", cfg.InboxRetention.String()),
		slog.String("dead_letter_retention", cfg.DeadLetterRetention.String()))
}
